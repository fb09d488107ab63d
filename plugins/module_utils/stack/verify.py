# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify step of a stack: does each model's answer have the shape its kind promises?"""

from __future__ import annotations

import json

EXPECTED = {"embedding": "a non-empty vector", "rerank": "a score for every document", "llm": "a non-empty text"}


def answer_ok(kind, result, parameters):
    if kind == "embedding":
        vectors = result.get("embeddings") or []
        return bool(vectors) and all(isinstance(v, list) and v for v in vectors)
    if kind == "rerank":
        scores = [r.get("relevance_score") for r in result.get("rerank") or [] if isinstance(r, dict)]
        scores = [s for s in scores if isinstance(s, (int, float)) and not isinstance(s, bool)]
        documents = (parameters or {}).get("documents")
        return bool(scores) and (documents is None or len(scores) == len(documents))
    if kind == "llm":
        return bool(str(result.get("text") or "").strip())
    return False


def problems(answers):
    """One message per model whose verify predict answered with the wrong shape; ``answers`` are
    (the stack's model entry, the predict's result) pairs."""
    out = []
    for entry, result in answers or []:
        if result.get("skipped") or answer_ok(entry.get("kind"), result, entry.get("verify")):
            continue
        answer = json.dumps(result.get("inference_results") or [])
        out.append("model %s (%s) answered, but not with %s: %s" % (
            entry.get("name"), entry.get("kind"), EXPECTED.get(entry.get("kind"), "a known shape"),
            answer if len(answer) <= 400 else answer[:397] + "..."))
    return out
