# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report row of the stack's k-NN index."""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_report import rows


def step(operation, fields=()):
    return {"operation": operation, "kind": "index", "name": "docs", "id": None, "fields": list(fields)}


def index(*plan, known=True):
    return {"name": "docs", "model": "e", "vector_field": "embedding", "dimension_known": known,
            "result": {"plan": list(plan)}}


def test_no_index_no_row():
    assert rows({}, {}) == [] and rows({}, {"index": {}}) == []


def test_the_index_row_follows_the_plan():
    assert rows({}, {"index": index(step("create", ["settings.index.knn"]))}) == [
        {"model": "e", "resource": "index", "name": "docs", "action": "create", "fields": ["settings.index.knn"]}]
    assert rows({}, {"index": index(step("update", ["mappings.properties.title"]))})[0]["action"] == "update"
    assert rows({}, {"index": index(step("delete"), step("create", ["x"]))})[0]["action"] == "replace"
    assert rows({}, {"index": index(step("delete"))})[0]["action"] == "delete"
    assert rows({}, {"index": index()})[0] == {"model": "e", "resource": "index", "name": "docs",
                                               "action": "none", "fields": []}


def test_an_unknown_dimension_is_said_so():
    row = rows({}, {"index": index(step("create", ["settings.index.knn"]), known=False)})[0]
    assert row["fields"] == ["mappings.properties.embedding.dimension (unknown until e is deployed)",
                             "settings.index.knn"]
    assert rows({}, {"index": index(known=False)})[0]["fields"] == []
