"""The whole search stack of the role: models, pipelines and a k-NN index, against the real local cluster.

The tests run in file order and share one stack (one name prefix per module):

1. the polarsearch_index module against the real server: create, idempotence, in-place changes, a dimension
   change refused before any write, recreate, only_if_managed;
2. an index without ml_stack_pipelines fails before any write; check mode of provision on a cluster without the
   stack lists every pipeline and the index (its dimension unknown until the embedding model is deployed) and
   writes nothing;
3. provision with pipelines and an index: the index has the embedding model's dimension (read by a predict), the
   documents ingested get vectors, a neural query finds them, the rerank pipeline reorders them with the rerank
   model's scores, the RAG pipeline answers with the LLM; drift.yml passes with an index row;
4. a rotated key and a changed endpoint under the deployed models go through the zero-downtime replace while a
   neural query through the rerank pipeline runs every 100 ms: no query fails, before, during or after;
5. re-created models (teardown, provision): every pipeline points at the new IDs, and ingest, rerank and RAG work;
6. teardown with the index: check mode lists the index and pipelines and writes nothing; then no pipeline,
   model, connector, group or index is left, and a second teardown changes nothing.
"""

from __future__ import annotations

import re
import threading
import time
import uuid

import pytest

from conftest import ML, connection_env
from test_role_ml_stack import KINDS, Stack

DOCUMENTS = [
    "Paris is the capital of France",
    "PolarSearch is a search service of PolarDB built on OpenSearch",
    "bananas are yellow and grow in bunches",
    "vector search in PolarSearch uses k-NN indexes",
]
QUESTION = "what is PolarSearch search service"
PIPELINES = {"embedding-ingest": "ingest", "rerank-search": "search", "rag-search": "search"}
MARKER = {"managed_by": "polardb.polarsearch"}


def pipeline(rest, kind, name):
    return rest.call("GET", "/_%s/pipeline/%s" % (kind, name), ok=(200, 404)).get(name)


def index_exists(rest, name):
    return rest.request("HEAD", "/" + name).status_code == 200


# -- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster(env, rest):
    host, _sep, port = env["endpoint"].rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        pytest.skip("MODEL_SERVICE_ENDPOINT %s is not on 127.0.0.1" % env["endpoint"])
    installed = {entry["component"] for entry in rest.call("GET", "/_cat/plugins?format=json")}
    if not {"opensearch-knn", "opensearch-neural-search"} <= installed:
        pytest.skip("the cluster has no k-NN or neural-search plugin (scripts/polarsearch-local up installs them)")
    return dict(env, port=port, connection=connection_env(env))


@pytest.fixture(scope="module")
def search(cluster, rest):
    """One stack with pipelines and an index; whatever happens, everything with its prefix is removed at the end
    and the trusted endpoint entries are put back as they were."""
    trusted_before = rest.trusted()
    stack = Stack(cluster["url"], "http://localhost:%s" % cluster["port"], cluster["api_key"],
                  "st-%s-" % uuid.uuid4().hex[:8], cluster["connection"])
    stack.index = stack.prefix + "docs"
    stack.vars = {"ml_stack_pipelines": True, "ml_stack_index": stack.index, "ml_stack_verify": False}
    yield stack
    if rest.with_prefix("models", stack.prefix) or rest.with_prefix("connectors", stack.prefix) \
            or index_exists(rest, stack.index):
        # a test failed before the last one tore the stack down
        stack.playbook("teardown", dict(stack.vars, ml_stack_delete_index=True))
    rest.call("DELETE", "/" + stack.index, ok=None)
    for suffix, kind in PIPELINES.items():
        rest.call("DELETE", "/_%s/pipeline/%s" % (kind, stack.prefix + suffix), ok=None)
    for name in rest.with_prefix("models", stack.prefix):
        for model in rest.models(name):
            rest.call("POST", "%s/models/%s/_undeploy" % (ML, model["model_id"]), ok=None)
            rest.call("DELETE", "%s/models/%s" % (ML, model["model_id"]), ok=None)
    for name in rest.with_prefix("connectors", stack.prefix):
        for connector in rest.connectors(name):
            rest.call("DELETE", "%s/connectors/%s" % (ML, connector["connector_id"]), ok=None)
    rest.put_trusted(trusted_before)


def model_ids(rest, stack):
    return {kind: rest.one_model(stack.prefix + name)["model_id"] for name, kind in KINDS.items()}


def ingest(rest, index, documents):
    for number, text in enumerate(documents):
        rest.call("PUT", "/%s/_doc/%d?refresh=true" % (index, number), {"text": text})


def neural(embedding_id, rerank=True):
    query = {"size": len(DOCUMENTS), "_source": ["text"],
             "query": {"neural": {"embedding": {"query_text": QUESTION, "model_id": embedding_id,
                                                "k": len(DOCUMENTS)}}}}
    if rerank:
        query["ext"] = {"rerank": {"query_context": {"query_text": QUESTION}}}
    return query


def assert_search_works(rest, stack, ids):
    """Ingest, neural query, rerank with the rerank model's scores, RAG answer from the LLM."""
    dimension = len(rest.predict_json(ids["embedding"], {"input": ["probe"]})[
        "inference_results"][0]["output"][0]["data"])
    ingest(rest, stack.index, DOCUMENTS)
    source = rest.call("GET", "/%s/_doc/1" % stack.index)["_source"]
    assert len(source["embedding"]) == dimension > 0

    plain = rest.call("POST", "/%s/_search" % stack.index, neural(ids["embedding"], rerank=False))["hits"]["hits"]
    assert sorted(hit["_source"]["text"] for hit in plain) == sorted(DOCUMENTS)

    answer = rest.call("POST", "/%s/_search?search_pipeline=%s" % (stack.index, stack.prefix + "rerank-search"),
                       neural(ids["embedding"]))
    hits = answer["hits"]["hits"]
    texts = [hit["_source"]["text"] for hit in hits]
    predicted = rest.predict_json(ids["rerank"], {"query": QUESTION, "documents": texts})["inference_results"][0]
    scores = [tensor["data"][0] for tensor in predicted["output"]]
    assert [hit["_score"] for hit in hits] == pytest.approx(scores, rel=1e-4, abs=1e-6)
    assert scores == sorted(scores, reverse=True) and texts[0] == DOCUMENTS[1]
    assert [hit["_score"] for hit in plain] != [hit["_score"] for hit in hits], "the scores are the rerank model's"

    rag = neural(ids["embedding"])
    rag["ext"]["generative_qa_parameters"] = {"llm_model": "qwen-max", "llm_question": QUESTION, "context_size": 2}
    answer = rest.call("POST", "/%s/_search?search_pipeline=%s" % (stack.index, stack.prefix + "rag-search"), rag)
    text = answer["ext"]["retrieval_augmented_generation"]["answer"]
    assert text.startswith("Local model reply to") and "polarsearch" in text.lower(), text


# -- 1. the module against the real server ----------------------------------------------------------------------
def test_index_module_against_the_server(ansible, rest, cluster):
    name = "ix-%s" % uuid.uuid4().hex[:8]
    vector = {"type": "knn_vector", "dimension": 8,
              "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}}
    args = {"name": name, "mappings": {"properties": {"text": {"type": "text"}, "v": vector}},
            "settings": {"index.knn": True, "number_of_replicas": 0}}
    try:
        check = ansible.run("polarsearch_index", args, check=True)
        assert check["changed"] is True and not index_exists(rest, name)
        created = ansible.run("polarsearch_index", args)
        assert created["changed"] is True and created["managed"] is True
        assert [step["operation"] for step in created["plan"]] == ["create"]
        assert created["index"] == check["index"], "check mode predicted the stored index"
        stored = rest.call("GET", "/%s?flat_settings=true" % name)[name]
        assert stored["mappings"]["_meta"] == MARKER and stored["settings"]["index.knn"] == "true"
        nested = dict(args, settings={"index": {"knn": "true", "number_of_replicas": "0"}})
        assert ansible.run("polarsearch_index", nested)["changed"] is False, "settings compare as the server has them"

        # in place: a new field and a dynamic setting; the document stays
        rest.call("PUT", "/%s/_doc/1?refresh=true" % name, {"text": "kept", "v": [0.1] * 8})
        grown = {"name": name, "mappings": {"properties": {"title": {"type": "keyword"}}},
                 "settings": {"index.search.default_pipeline": "_none", "refresh_interval": "2s"}}
        checked = ansible.run("polarsearch_index", grown, check=True)
        changed = ansible.run("polarsearch_index", grown)
        assert checked["plan"] == changed["plan"] and checked["index"] == changed["index"]
        assert [s["fields"] for s in changed["plan"]] == [
            ["mappings.properties.title"],
            ["settings.index.refresh_interval", "settings.index.search.default_pipeline"]]
        assert rest.call("GET", "/%s/_doc/1" % name)["found"] is True

        # a dimension or a static setting cannot change in place: refused before any write, named
        for change, named in ((dict(args, mappings={"properties": {"v": dict(vector, dimension=16)}}),
                               "mappings.properties.v.dimension is 8 on the server and 16 in the input"),
                              (dict(args, settings={"index.knn": False}), "settings.index.knn is true")):
            refused = ansible.run("polarsearch_index", change)
            assert refused.get("failed") and named in refused["msg"] and "recreate: true" in refused["msg"]
        assert rest.call("GET", "/%s/_doc/1" % name)["found"] is True
        recreated = ansible.run("polarsearch_index", dict(args, recreate=True, mappings={
            "properties": {"text": {"type": "text"}, "v": dict(vector, dimension=16)}}))
        assert [s["operation"] for s in recreated["plan"]] == ["delete", "create"]
        assert rest.call("GET", "/%s/_mapping" % name)[name]["mappings"]["properties"]["v"]["dimension"] == 16
        assert rest.call("GET", "/%s/_doc/1" % name, ok=(404,))["found"] is False, "recreate deletes the documents"

        # only_if_managed leaves an index made otherwise
        rest.call("PUT", "/%s-foreign" % name, {"settings": {"number_of_replicas": 0}})
        kept = ansible.run("polarsearch_index", {"name": name + "-foreign", "state": "absent",
                                                 "only_if_managed": True})
        assert kept["changed"] is False and kept["deleted"] is False and index_exists(rest, name + "-foreign")
        gone = ansible.run("polarsearch_index", {"name": name, "state": "absent", "only_if_managed": True})
        assert gone["changed"] is True and not index_exists(rest, name)
        assert ansible.run("polarsearch_index", {"name": name, "state": "absent"})["changed"] is False
    finally:
        for index in (name, name + "-foreign"):
            rest.call("DELETE", "/" + index, ok=None)


# -- 2. check mode on an empty cluster -------------------------------------------------------------------------
def test_an_index_without_pipelines_fails_before_any_write(search, rest):
    run = search.playbook("provision", dict(search.vars, ml_stack_pipelines=False))
    assert run.rc != 0 and run.failed == 1, run.tail()
    assert "ml_stack_index: the index %s takes the stack's ingest pipeline" % search.index in run.output
    assert "set ml_stack_pipelines to true" in run.output
    assert rest.with_prefix("connectors", search.prefix) == [] and not index_exists(rest, search.index)


def test_check_mode_lists_the_pipelines_and_the_index_and_writes_nothing(search, rest):
    run = search.playbook("provision", search.vars, check=True)
    assert run.rc == 0 and run.failed == 0, run.tail()
    embedding = search.prefix + "text-embedding-v4"
    assert sorted((r["name"], r["action"]) for r in run.rows() if r["resource"] == "pipeline") == sorted(
        (search.prefix + suffix, "create") for suffix in PIPELINES)
    (row,) = [r for r in run.rows() if r["resource"] == "index"]
    assert row["name"] == search.index and row["action"] == "create" and row["model"] == embedding
    assert "mappings.properties.embedding.dimension (unknown until %s is deployed)" % embedding in row["fields"]
    assert "settings.index.default_pipeline" in row["fields"]
    assert not index_exists(rest, search.index)
    for suffix, kind in PIPELINES.items():
        assert pipeline(rest, kind, search.prefix + suffix) is None
    assert rest.with_prefix("models", search.prefix) == [] and rest.with_prefix("connectors", search.prefix) == []


# -- 3. provision: ingest, neural, rerank, RAG ------------------------------------------------------------------
def test_provision_with_an_index_ingest_neural_rerank_and_rag(search, rest):
    run = search.playbook("provision", search.vars)
    assert run.rc == 0 and run.failed == 0, run.tail()
    ids = model_ids(rest, search)
    dimension = len(rest.predict_json(ids["embedding"], {"input": ["probe"]})[
        "inference_results"][0]["output"][0]["data"])
    stored = rest.call("GET", "/%s?flat_settings=true" % search.index)[search.index]
    assert stored["mappings"]["_meta"] == MARKER
    assert stored["mappings"]["properties"]["embedding"]["dimension"] == dimension
    assert stored["mappings"]["properties"]["text"] == {"type": "text"}
    assert stored["settings"]["index.knn"] == "true"
    assert stored["settings"]["index.default_pipeline"] == search.prefix + "embedding-ingest"
    (row,) = [r for r in run.rows() if r["resource"] == "index"]
    assert row["action"] == "create" and not any("unknown" in field for field in row["fields"])
    assert_search_works(rest, search, ids)

    drift = search.playbook("drift", search.vars)
    assert drift.rc == 0 and drift.changes() == [], drift.tail()
    assert [(r["resource"], r["action"]) for r in drift.rows() if r["resource"] == "index"] == [("index", "none")]


# -- 4. zero-downtime connector changes under queries -----------------------------------------------------------
class Querier(threading.Thread):
    """A neural query through the rerank pipeline every 100 ms; each answer's time and error are kept."""

    def __init__(self, rest, stack, embedding_id):
        super().__init__(daemon=True)
        self.rest, self.stack, self.embedding_id = rest, stack, embedding_id
        self.stop = threading.Event()
        self.answers = []  # (monotonic time, error or None)

    def run(self):
        path = "/%s/_search?search_pipeline=%s" % (self.stack.index, self.stack.prefix + "rerank-search")
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                response = self.rest.request("POST", path, json=neural(self.embedding_id), timeout=30)
                hits = response.json()["hits"]["hits"] if response.status_code == 200 else []
                error = None if response.status_code == 200 and len(hits) == len(DOCUMENTS) else (
                    "%s %s" % (response.status_code, response.text[:300]))
            except Exception as exc:  # noqa: BLE001 - every failure counts
                error = repr(exc)
            self.answers.append((started, error))
            self.stop.wait(max(0.0, 0.1 - (time.monotonic() - started)))

    def between(self, start, end):
        return [a for a in self.answers if start <= a[0] <= end]


def test_key_rotation_and_endpoint_change_under_queries(search, rest, cluster):
    ids = model_ids(rest, search)
    connectors = {name: rest.one_model(search.prefix + name)["connector_id"] for name in KINDS}
    querier = Querier(rest, search, ids["embedding"])
    querier.start()
    try:
        time.sleep(1.0)
        # A new key (the service compares the token without surrounding spaces, so it still accepts it), then
        # a new endpoint for the same service: each replaces every connector under its deployed model.
        rotated = dict(search.vars, ml_stack_api_key=cluster["api_key"] + " ")
        moved = dict(rotated, ml_stack_endpoint="http://127.0.0.1:%s" % cluster["port"])
        windows = []
        for variables, field in ((rotated, "credential"), (moved, "parameters.endpoint")):
            started = time.monotonic()
            run = search.playbook("provision", variables)
            windows.append((started, time.monotonic()))
            assert run.rc == 0 and run.failed == 0, run.tail()
            replaced = [r for r in run.rows() if r["resource"] == "connector"]
            assert [r["action"] for r in replaced] == ["replace"] * 3 and all(field in r["fields"] for r in replaced)
            time.sleep(0.5)
        search.vars = moved
        time.sleep(1.0)
    finally:
        querier.stop.set()
        querier.join(timeout=60)
    failed = [a for a in querier.answers if a[1] is not None]
    during = [len(querier.between(*window)) for window in windows]
    before = len([a for a in querier.answers if a[0] < windows[0][0]])
    after = len([a for a in querier.answers if a[0] > windows[-1][1]])
    print("queries: %d in all, %d before, %s during the two replaces, %d after, %d failed"
          % (len(querier.answers), before, during, after, len(failed)))
    assert failed == [], failed[:5]
    assert before > 0 and after > 0 and all(count > 0 for count in during)
    assert model_ids(rest, search) == ids, "the models stayed, with their IDs"
    for name, old in connectors.items():
        assert rest.one_model(search.prefix + name)["connector_id"] != old
    assert rest.call("GET", "/%s/_count" % search.index)["count"] == len(DOCUMENTS)


# -- 5. re-created models ---------------------------------------------------------------------------------------
def test_recreated_models_are_followed_by_every_pipeline(search, rest):
    old = model_ids(rest, search)
    down = search.playbook("teardown", search.vars)
    assert down.rc == 0 and down.failed == 0, down.tail()
    assert index_exists(rest, search.index), "without ml_stack_delete_index the index stays"
    assert [(r["resource"], r["action"]) for r in down.rows() if r["resource"] == "index"] == [("index", "none")]

    up = search.playbook("provision", search.vars)
    assert up.rc == 0 and up.failed == 0, up.tail()
    new = model_ids(rest, search)
    assert all(new[kind] != old[kind] for kind in new)
    ingest_pipeline = pipeline(rest, "ingest", search.prefix + "embedding-ingest")
    assert ingest_pipeline["processors"][0]["text_embedding"]["model_id"] == new["embedding"]
    for suffix in ("rerank-search", "rag-search"):
        processors = pipeline(rest, "search", search.prefix + suffix)["response_processors"]
        assert processors[0]["rerank"]["ml_opensearch"]["model_id"] == new["rerank"]
    rag = pipeline(rest, "search", search.prefix + "rag-search")["response_processors"][1]
    assert rag["retrieval_augmented_generation"]["model_id"] == new["llm"]
    assert [(r["resource"], r["action"]) for r in up.rows() if r["resource"] == "index"] == [("index", "none")]
    assert_search_works(rest, search, new)


# -- 6. teardown with the index ---------------------------------------------------------------------------------
def test_teardown_with_the_index_leaves_nothing_and_is_idempotent(search, rest):
    variables = dict(search.vars, ml_stack_delete_index=True)
    check = search.playbook("teardown", variables, check=True)
    assert check.rc == 0 and check.failed == 0, check.tail()
    assert [(r["name"], r["action"]) for r in check.rows() if r["resource"] in ("index", "pipeline")] == [
        (search.prefix + suffix, "delete") for suffix in PIPELINES] + [(search.index, "delete")]
    assert index_exists(rest, search.index), "check mode deleted nothing"

    run = search.playbook("teardown", variables)
    assert run.rc == 0 and run.failed == 0, run.tail()
    output = run.output
    # the writes in the order they were made: the index first, then the pipelines, then the models
    kinds = [step["kind"] for step in run.report["plan"]]
    assert kinds.index("index") < kinds.index("ingest_pipeline") < kinds.index("model"), kinds
    assert not index_exists(rest, search.index)
    for suffix, kind in PIPELINES.items():
        assert pipeline(rest, kind, search.prefix + suffix) is None
    for kind in ("models", "connectors", "model_groups"):
        assert rest.with_prefix(kind, search.prefix) == [], kind
    assert re.search(r"changed=\d+", output)

    again = search.playbook("teardown", variables)
    assert again.rc == 0 and again.changed == 0, again.tail()
    assert again.changes() == []
