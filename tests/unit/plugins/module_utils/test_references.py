# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
import requests

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchClient, PolarSearchError
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.references import (
    describe,
    find_model_references,
    mentions,
    references_by_model,
)

from fake_server import PipelineServer

MODEL = "aBcDeFgHiJkLmNoPqRsT"
OTHER = "zZyYxXwWvVuUtTsSrRqQ"


@pytest.fixture
def server(monkeypatch):
    return PipelineServer().install(monkeypatch)


@pytest.fixture
def client(server):
    return PolarSearchClient("http://search.example.com:9200", requests.Session(), retries=0)


def embedding(model_id):
    return {"processors": [{"text_embedding": {"model_id": model_id, "field_map": {"text": "embedding"}}}]}


def test_finds_pipelines_and_agents_that_use_the_model(server, client):
    server.ingest_pipelines.update({"embed": embedding(MODEL), "unrelated": embedding(OTHER),
                                    "inference": {"processors": [{"ml_inference": {"model_id": MODEL}}]}})
    server.search_pipelines.update({
        "rerank": {"response_processors": [{"rerank": {"ml_opensearch": {"model_id": MODEL},
                                                       "context": {"document_fields": ["text"]}}}]},
        "template": {"request_processors": [{"ml_inference": {
            "model_id": OTHER,
            "query_template": '{"query": {"neural": {"embedding": {"query_text": "${q}", "model_id": "%s"}}}}'
                              % MODEL}}]},
        "other": {"response_processors": [{"retrieval_augmented_generation": {"model_id": OTHER}}]},
    })
    agent_id = server.add_agent("chat agent", type="conversational", llm={"model_id": MODEL, "parameters": {}})
    server.add_agent("flow agent", tools=[{"type": "MLModelTool", "parameters": {"model_id": OTHER}}])
    assert find_model_references(client, MODEL) == [
        {"kind": "agent", "name": "chat agent", "id": agent_id},
        {"kind": "ingest_pipeline", "name": "embed"},
        {"kind": "ingest_pipeline", "name": "inference"},
        {"kind": "search_pipeline", "name": "rerank"},
        {"kind": "search_pipeline", "name": "template"},
    ]
    assert server.writes == []


def test_nothing_uses_the_model(server, client):
    server.ingest_pipelines["embed"] = embedding(OTHER)
    server.add_agent("agent", llm={"model_id": OTHER})
    assert find_model_references(client, MODEL) == []


def test_a_cluster_without_pipelines_or_agent_index(server, client):
    """No pipeline answers 404 with {}, and the agent index does not exist before the first agent."""
    assert server.agents is None
    assert find_model_references(client, MODEL) == []
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "_ingest/pipeline"), ("GET", "_search/pipeline"), ("POST", "_plugins/_ml/agents/_search")]


def test_other_failures_are_not_taken_for_no_references(server, client):
    server.fail_next("GET", r"^_search/pipeline$", status=403, reason="no permissions for [cluster:admin/search/pipeline/get]")
    with pytest.raises(PolarSearchError) as exc:
        find_model_references(client, MODEL)
    assert exc.value.status == 403


def test_no_model_id_means_no_references(client):
    assert find_model_references(client, None) == []


def test_mentions_looks_into_keys_values_and_texts():
    assert mentions({"a": [{"b": "x %s y" % MODEL}]}, MODEL)
    assert mentions({MODEL: 1}, MODEL)
    assert not mentions({"a": [1, None, True, "x"]}, MODEL)


def test_describe_names_each_reference():
    refs = [{"kind": "agent", "name": "a", "id": "A1"}, {"kind": "ingest_pipeline", "name": "embed"}]
    assert describe(refs) == "agent a (A1), ingest pipeline embed"


def test_the_fake_refuses_a_mapping_where_a_model_id_goes(server, client):
    """As text_embedding, rerank and retrieval_augmented_generation do on OpenSearch 3.6: the reason a
    reference can never be a real value."""
    with pytest.raises(PolarSearchError) as exc:
        client.put("_ingest/pipeline/p", body={"processors": [{"text_embedding": {
            "model_id": {"model": "m"}, "field_map": {"text": "e"}}}]})
    assert exc.value.status == 400 and "[model_id] property isn't a string" in exc.value.reason
    with pytest.raises(PolarSearchError):
        client.put("_search/pipeline/s", body={"response_processors": [{"rerank": {
            "ml_opensearch": {"model_id": {"model": "m"}}}}]})


def test_references_of_several_models_read_each_kind_once(server, client):
    server.ingest_pipelines.update({"embed": embedding(MODEL), "other": embedding(OTHER)})
    server.search_pipelines.update({"both": {"request_processors": [embedding(MODEL), embedding(OTHER)]}})
    server.add_agent("helper", llm={"model_id": OTHER})
    singles = {model_id: find_model_references(client, model_id) for model_id in (MODEL, OTHER, "unused")}
    since = len(server.requests)
    assert references_by_model(client, [MODEL, OTHER, "unused"]) == singles
    assert len(server.requests) - since == 3, "ingest pipelines, search pipelines and agents, once each"
    assert singles["unused"] == [] and len(singles[OTHER]) == 3
