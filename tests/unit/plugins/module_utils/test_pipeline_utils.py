# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import Context, ModuleFailure
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.pipeline import (
    PipelineRequest,
    changed_paths,
    compared,
    ensure_pipeline,
    holds_model_id,
    references,
    substitute,
)


class NoClient:
    """A client that fails on any use: what a check before any request never touches."""

    def __getattr__(self, name):
        raise AssertionError("a request was made: %s" % name)


def test_model_id_places():
    assert holds_model_id("model_id") and holds_model_id("default_model_id")
    assert not holds_model_id("model") and not holds_model_id("model_ids") and not holds_model_id("model_config")


def test_references_in_document_order_with_their_places():
    definition = {
        "request_processors": [{"neural_query_enricher": {"default_model_id": {"model": "e"},
                                                          "neural_field_default_id": {"f": {"model": "e2"}}}}],
        "response_processors": [{"rerank": {"ml_opensearch": {"model_id": {"model": "r"}}}},
                                {"filter_query": {"query": {"neural": {"v": {"query_text": "q",
                                                                             "model_id": {"model": "e"}}}}}}],
    }
    assert references(definition) == [
        ("request_processors[0].neural_query_enricher.default_model_id", "e"),
        ("request_processors[0].neural_query_enricher.neural_field_default_id.f", "e2"),
        ("response_processors[0].rerank.ml_opensearch.model_id", "r"),
        ("response_processors[1].filter_query.query.neural.v.model_id", "e"),
    ]
    resolved = substitute(definition, {"e": "E", "e2": "E2", "r": "R"})
    assert resolved["response_processors"][1]["filter_query"]["query"]["neural"]["v"]["model_id"] == "E"
    assert resolved["request_processors"][0]["neural_query_enricher"]["neural_field_default_id"] == {"f": "E2"}
    assert definition["response_processors"][0]["rerank"]["ml_opensearch"]["model_id"] == {"model": "r"}, \
        "the definition itself is left alone"


def test_a_mapping_at_a_model_id_place_must_be_a_reference():
    with pytest.raises(ModuleFailure) as exc:
        references({"processors": [{"ml_inference": {"model_id": {"model": "m", "version": 2}}}]})
    assert "definition.processors[0].ml_inference.model_id" in exc.value.message


def test_changed_paths_and_compared_keys():
    assert changed_paths({"a": {"b": 1, "c": [1, 2]}}, {"a": {"b": 2, "c": [1, 3]}}) == ["a.b", "a.c[1]"]
    assert changed_paths({"a": [1]}, {"a": [1, 2]}) == ["a"]
    assert changed_paths({"a": {"b": 1}}, {"a": {"b": 1, "x": 0}}) == ["a.x"]
    assert compared({"description": None, "processors": []}, {"processors": [], "version": 3}) == (
        {"processors": []}, {"processors": []})


def test_a_pipeline_request_holds_only_the_options_set():
    request = PipelineRequest.from_params({"name": "p", "type": "search", "state": "absent", "definition": None})
    assert (request.name, request.kind, request.state, request.definition) == ("p", "search", "absent", None)
    definition = {"processors": [{"text_embedding": {"model_id": {"model": "e"}, "field_map": {"t": "v"}}}]}
    request = PipelineRequest.from_params({"name": "p", "type": "ingest", "state": "present",
                                           "definition": definition})
    assert dict(request.definition) == definition and request.kind == "ingest" and request.state == "present"
    with pytest.raises(TypeError):
        request.definition["description"] = "x"


@pytest.mark.parametrize("params, named", [
    ({"name": "_p", "type": "ingest", "state": "absent"}, "name '_p' is not a valid pipeline name"),
    ({"name": "p", "type": "ingest", "state": "present", "definition": None}, "definition is required"),
    ({"name": "p", "type": "search", "state": "present", "definition": {"processors": []}},
     r"definition has key\(s\) a search pipeline does not accept: processors"),
    ({"name": "p", "type": "ingest", "state": "present",
      "definition": {"processors": [{"ml_inference": {"model_id": {"name": "m"}}}]}},
     r"definition.processors\[0\].ml_inference.model_id: a model reference"),
])
def test_a_pipeline_request_refuses_bad_input_before_any_request(params, named):
    with pytest.raises(ModuleFailure, match=named):
        PipelineRequest.from_params(params)
    with pytest.raises(ModuleFailure, match=named):
        ensure_pipeline(params, Context(NoClient(), check_mode=False))
