# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shape checks of the ml_stack role's verify predictions."""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.stack.verify import problems


def result(kind, verify=None, **answer):
    """(the stack's model entry, the predict's result)."""
    return ({"name": "m-" + kind, "kind": kind, "verify": verify or {}},
            dict({"inference_results": [{"output": []}]}, **answer))


def test_good_answers_pass():
    good = [result("embedding", embeddings=[[0.1, 0.2]]),
            result("rerank", {"documents": ["a", "b"]}, rerank=[{"index": 1, "relevance_score": 0.9},
                                                                {"index": 0, "relevance_score": 0}]),
            result("rerank", rerank=[{"index": 0, "relevance_score": 0.5}]),
            result("llm", text="ready"),
            ({"name": "x", "kind": "llm"}, {"skipped": True})]
    assert problems(good) == []
    assert problems([]) == []


def test_each_wrong_shape_is_named():
    bad = [result("embedding", embeddings=[[]]), result("embedding"),
           result("rerank", {"documents": ["a", "b"]}, rerank=[{"index": 0, "relevance_score": 0.1}]),
           result("rerank", rerank=[{"index": 0, "relevance_score": None}]),
           result("llm", text="  ")]
    found = problems(bad)
    assert len(found) == 5
    assert found[0] == 'model m-embedding (embedding) answered, but not with a non-empty vector: [{"output": []}]'
    assert "m-rerank (rerank) answered, but not with a score for every document" in found[2]
    assert "m-llm (llm) answered, but not with a non-empty text" in found[4]


def test_a_long_answer_is_cut():
    found = problems([result("llm", inference_results=[{"text": "x" * 1000}])])
    assert found[0].endswith("...") and len(found[0]) < 500
