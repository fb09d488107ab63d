"""Pipelines that refer to models by name, against OpenSearch 3.6 with k-NN, neural-search and ML Commons.

Documents get their vectors through a ``text_embedding`` ingest pipeline, a ``neural`` query finds
them, the ``rerank`` (``ml_opensearch``) processor reorders them with the scores of the role presets'
rerank connectors, and the ``retrieval_augmented_generation`` processor answers with the LLM.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import requests
import yaml

from conftest import four_steps
from plans import plan_text
from specs import doc_connector, embedding_connector, llm_connector

PRESETS = Path(__file__).resolve().parents[2] / "roles" / "ml_stack" / "vars" / "presets"
DOCUMENTS = [
    "Paris is the capital of France",
    "PolarSearch is a search service of PolarDB built on OpenSearch",
    "bananas are yellow and grow in bunches",
    "vector search in PolarSearch uses k-NN indexes",
]
QUESTION = "what is PolarSearch search service"


def preset_connector(name, env, preset, kind):
    """The connector the role builds for ``kind`` from ``preset``, pointed at the local model service."""
    spec = yaml.safe_load((PRESETS / ("%s.yml" % preset)).read_text())["ml_stack__preset"]["kinds"][kind]
    extra = {key: spec[key] for key in ("pre_process_function", "post_process_function") if spec.get(key)}
    connector = doc_connector(name, env, spec["model"], spec["path"], spec["request_body"], **extra)
    connector["parameters"].update(spec.get("parameters") or {})
    connector["description"] = "Local %s %s" % (preset, kind)
    return connector


class Stack:
    """Connectors and models made through the collection's modules; pipelines and indexes by name."""

    def __init__(self, ansible, rest, prefix, cleanup):
        self.ansible, self.rest, self.prefix = ansible, rest, prefix
        self.models, self.connectors = cleanup
        self.pipelines, self.indexes = [], []

    def model(self, kind, connector):
        name = "%s-%s" % (self.prefix, kind)
        self.connectors.append(connector["name"])
        self.models.append(name)
        made = self.ansible.run("polarsearch_connector", connector)
        assert not made.get("failed"), made
        result = self.ansible.run("polarsearch_model", {"name": name, "connector": connector["name"],
                                                        "state": "deployed"})
        assert not result.get("failed"), result
        return name, result["model_id"]

    def pipeline_args(self, kind, suffix, definition):
        name = "%s-%s" % (self.prefix, suffix)
        self.pipelines.append((kind, name))
        return {"name": name, "type": kind, "definition": definition}

    def remove(self):
        for index in self.indexes:
            self.rest.call("DELETE", "/" + index, ok=None)
        for kind, name in self.pipelines:
            self.ansible.run("polarsearch_pipeline", {"name": name, "type": kind, "state": "absent"})


@pytest.fixture(scope="module")
def search_plugins(rest):
    """The processors and queries here come from the k-NN and neural-search plugins."""
    installed = {entry["component"] for entry in rest.call("GET", "/_cat/plugins?format=json")}
    missing = sorted({"opensearch-knn", "opensearch-neural-search"} - installed)
    if missing:
        pytest.skip("the cluster has no %s plugin (scripts/polarsearch-local up installs them)" % " or ".join(missing))


@pytest.fixture()
def stack(ansible, rest, prefix, cleanup, trusted, search_plugins):
    made = Stack(ansible, rest, prefix, cleanup)
    yield made
    made.remove()


def embedding_definition(model):
    return {"description": "text -> embedding",
            "processors": [{"text_embedding": {"model_id": {"model": model}, "field_map": {"text": "embedding"}}}]}


def ingest(rest, index, documents):
    for number, text in enumerate(documents):
        rest.call("PUT", "/%s/_doc/%d?refresh=true" % (index, number), {"text": text})


def neural_query(model_id, k=len(DOCUMENTS)):
    return {"size": k, "_source": ["text"],
            "query": {"neural": {"embedding": {"query_text": QUESTION, "model_id": model_id, "k": k}}}}


@pytest.fixture()
def model_references(env, collections_path):
    """``model_references(model_id)``: the collection's find_model_references against the cluster."""
    sys.path.insert(0, str(collections_path))
    from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchClient
    from ansible_collections.polardb.polarsearch.plugins.module_utils.model.references import find_model_references
    session = requests.Session()
    verify = None
    if env["profile"] == "secure":   # the admin, trusting the node's CA whatever REQUESTS_CA_BUNDLE says
        session.auth = (env["username"], env["password"])
        verify = env["ca_path"]
    client = PolarSearchClient(env["url"], session, retries=0, verify=verify)
    return lambda model_id: find_model_references(client, model_id)


@pytest.mark.server_feature("neural_search")
def test_ingest_pipeline_by_model_name_vectors_neural_query_and_repointing(env, rest, ansible, stack,
                                                                           model_references):
    embed, embed_id = stack.model("embed", embedding_connector(stack.prefix + "-embed-c", env))
    dimension = len(rest.predict_json(embed_id, {"input": ["probe"]})["inference_results"][0]["output"][0]["data"])
    args = stack.pipeline_args("ingest", "embedding-ingest", embedding_definition(embed))

    created = four_steps(ansible, "polarsearch_pipeline", args)
    assert plan_text(created) == ["create ingest pipeline %s" % args["name"]]
    assert created["resolved_models"] == {embed: embed_id}
    stored = rest.call("GET", "/_ingest/pipeline/" + args["name"])[args["name"]]
    assert stored["processors"][0]["text_embedding"]["model_id"] == embed_id
    assert created["pipeline"] == stored

    # A k-NN index with the pipeline as its default: documents get vectors of the model's dimension.
    index = stack.prefix + "-docs"
    stack.indexes.append(index)
    rest.call("PUT", "/" + index, {
        "settings": {"index.knn": True, "default_pipeline": args["name"], "number_of_replicas": 0},
        "mappings": {"properties": {"text": {"type": "text"}, "embedding": {
            "type": "knn_vector", "dimension": dimension,
            "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}}}}})
    ingest(rest, index, DOCUMENTS)
    first = rest.call("GET", "/%s/_doc/1" % index)["_source"]
    assert len(first["embedding"]) == dimension and math.isclose(sum(v * v for v in first["embedding"]), 1.0,
                                                                 rel_tol=1e-3)
    hits = rest.call("POST", "/%s/_search" % index, neural_query(embed_id))["hits"]["hits"]
    assert len(hits) == len(DOCUMENTS)
    assert hits[0]["_source"]["text"] == DOCUMENTS[1], "the closest document comes first"

    # The pipeline is what find_model_references finds before the model is deleted.
    assert {"kind": "ingest_pipeline", "name": args["name"]} in model_references(embed_id)
    assert model_references("no-such-model-id-000") == []
    agent_id = rest.call("POST", "/_plugins/_ml/agents/_register", {
        "name": stack.prefix + "-agent", "type": "flow",
        "tools": [{"type": "MLModelTool", "parameters": {"model_id": embed_id, "prompt": "${parameters.question}"}}]}
    )["agent_id"]
    try:
        assert {"kind": "agent", "name": stack.prefix + "-agent", "id": agent_id} in model_references(embed_id)
    finally:
        rest.call("DELETE", "/_plugins/_ml/agents/" + agent_id)

    # Out of band: the pipeline is replaced by hand with another model's ID (a restore from elsewhere).
    other, other_id = stack.model("other-embed", embedding_connector(stack.prefix + "-other-c", env))
    rest.call("PUT", "/_ingest/pipeline/" + args["name"], dict(stored, processors=[
        {"text_embedding": {"model_id": other_id, "field_map": {"text": "embedding"}}}]))
    drift = ansible.run("polarsearch_pipeline", args, check=True)
    assert drift["changed"] is True and not drift.get("failed")
    assert plan_text(drift) == ["update ingest pipeline %s: processors[0].text_embedding.model_id" % args["name"]]
    assert drift["diff"]["before"]["processors"][0]["text_embedding"]["model_id"] == other_id
    assert drift["diff"]["after"]["processors"][0]["text_embedding"]["model_id"] == embed_id
    held = rest.call("GET", "/_ingest/pipeline/" + args["name"])[args["name"]]
    assert held["processors"][0]["text_embedding"]["model_id"] == other_id, "check mode wrote nothing"
    fixed = four_steps(ansible, "polarsearch_pipeline", args)
    assert fixed["plan"] == drift["plan"]
    assert rest.call("GET", "/_ingest/pipeline/" + args["name"])[args["name"]] == stored

    # The embedding model is deleted and registered again: a new ID, and the pipeline follows it. The
    # pipeline still uses the model, so the delete is refused unless the user says so.
    refused = ansible.run("polarsearch_model", {"name": embed, "state": "absent"})
    assert refused.get("failed") and args["name"] in refused["msg"], refused
    assert rest.one_model(embed)["model_id"] == embed_id, "the refused delete changed nothing"
    assert not ansible.run("polarsearch_model", {"name": embed, "state": "absent",
                                                 "force_delete_referenced": True}).get("failed")
    again = ansible.run("polarsearch_model", {"name": embed, "connector": stack.prefix + "-embed-c",
                                              "state": "deployed"})
    new_id = again["model_id"]
    assert new_id != embed_id
    repointed = four_steps(ansible, "polarsearch_pipeline", args)
    assert repointed["resolved_models"] == {embed: new_id}
    ingest(rest, index, ["a new document about PolarSearch"])
    assert len(rest.call("GET", "/%s/_doc/0" % index)["_source"]["embedding"]) == dimension
    hits = rest.call("POST", "/%s/_search" % index, neural_query(new_id))["hits"]["hits"]
    assert hits and "PolarSearch" in hits[0]["_source"]["text"]

    # A model that does not exist: the real run fails naming it, check mode predicts it.
    missing = dict(args, definition=embedding_definition(stack.prefix + "-not-yet"))
    checked = ansible.run("polarsearch_pipeline", missing, check=True)
    assert checked["changed"] is True and checked["missing_models"] == [stack.prefix + "-not-yet"]
    failed = ansible.run("polarsearch_pipeline", missing)
    assert failed["failed"] and stack.prefix + "-not-yet" in failed["msg"]
    assert "definition.processors[0].text_embedding.model_id" in failed["msg"]
    assert rest.call("GET", "/_ingest/pipeline/" + args["name"])[args["name"]]["processors"][0][
        "text_embedding"]["model_id"] == new_id


@pytest.mark.server_feature("neural_search")
@pytest.mark.parametrize("preset", ["dashscope", "openai_compatible"])
def test_rerank_and_rag_search_pipelines_with_the_presets(env, rest, ansible, stack, preset):
    embed, embed_id = stack.model("embed", embedding_connector(stack.prefix + "-embed-c", env))
    rerank, rerank_id = stack.model("rerank", preset_connector(stack.prefix + "-rerank-c", env, preset, "rerank"))
    llm, llm_id = stack.model("llm", llm_connector(stack.prefix + "-llm-c", env))
    dimension = len(rest.predict_json(embed_id, {"input": ["probe"]})["inference_results"][0]["output"][0]["data"])

    ingest_args = stack.pipeline_args("ingest", "embedding-ingest", embedding_definition(embed))
    assert not ansible.run("polarsearch_pipeline", ingest_args).get("failed")
    index = stack.prefix + "-docs"
    stack.indexes.append(index)
    rest.call("PUT", "/" + index, {
        "settings": {"index.knn": True, "default_pipeline": ingest_args["name"], "number_of_replicas": 0},
        "mappings": {"properties": {"text": {"type": "text"}, "embedding": {
            "type": "knn_vector", "dimension": dimension,
            "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}}}}})
    ingest(rest, index, DOCUMENTS)

    rerank_definition = {
        "request_processors": [{"neural_query_enricher": {"default_model_id": {"model": embed}}}],
        "response_processors": [{"rerank": {"ml_opensearch": {"model_id": {"model": rerank}},
                                            "context": {"document_fields": ["text"]}}}]}
    rerank_args = stack.pipeline_args("search", "rerank-search", rerank_definition)
    created = four_steps(ansible, "polarsearch_pipeline", rerank_args)
    assert created["resolved_models"] == {embed: embed_id, rerank: rerank_id}

    # The rerank processor asks the model for a score per hit and sorts by it: the order and the
    # scores are the model's (as its predict gives them, one similarity tensor per document).
    query = {"size": len(DOCUMENTS), "_source": ["text"],
             "query": {"neural": {"embedding": {"query_text": QUESTION, "k": len(DOCUMENTS)}}},
             "ext": {"rerank": {"query_context": {"query_text": QUESTION}}}}
    answer = rest.call("POST", "/%s/_search?search_pipeline=%s" % (index, rerank_args["name"]), query)
    hits = answer["hits"]["hits"]
    texts = [hit["_source"]["text"] for hit in hits]
    assert sorted(texts) == sorted(DOCUMENTS)
    predicted = rest.predict_json(rerank_id, {"query": QUESTION, "documents": texts})["inference_results"][0]["output"]
    assert [tensor["name"] for tensor in predicted] == ["similarity"] * len(texts)
    scores = [tensor["data"][0] for tensor in predicted]
    assert [hit["_score"] for hit in hits] == pytest.approx(scores, rel=1e-4, abs=1e-6)
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    assert texts[0] == DOCUMENTS[1]
    plain = rest.call("POST", "/%s/_search" % index, neural_query(embed_id))["hits"]["hits"]
    assert [hit["_score"] for hit in plain] != [hit["_score"] for hit in hits], "the scores are the rerank model's"

    # RAG: rerank, then the LLM answers from the hits.
    rag_definition = {
        "request_processors": rerank_definition["request_processors"],
        "response_processors": rerank_definition["response_processors"] + [{"retrieval_augmented_generation": {
            "model_id": {"model": llm}, "context_field_list": ["text"],
            "system_prompt": "You answer from the documents.", "user_instructions": "Answer in one sentence."}}]}
    rag_args = stack.pipeline_args("search", "rag-search", rag_definition)
    created = four_steps(ansible, "polarsearch_pipeline", rag_args)
    assert created["resolved_models"] == {embed: embed_id, rerank: rerank_id, llm: llm_id}
    rag_query = dict(query, ext=dict(query["ext"], generative_qa_parameters={
        "llm_model": "qwen-max", "llm_question": QUESTION, "context_size": 2}))
    answer = rest.call("POST", "/%s/_search?search_pipeline=%s" % (index, rag_args["name"]), rag_query)
    text = answer["ext"]["retrieval_augmented_generation"]["answer"]
    assert text.startswith("Local model reply to") and "polarsearch" in text.lower(), text
    assert [hit["_source"]["text"] for hit in answer["hits"]["hits"]][0] == DOCUMENTS[1]
