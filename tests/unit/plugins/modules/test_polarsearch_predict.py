# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""polarsearch_predict, run through main() against the in-memory ML Commons of fake_server."""

from __future__ import annotations

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.model import predict
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_predict

from fake_server import CONNECTION, ML, error


@pytest.fixture
def cluster(server):
    """The fake server with a connector c1; add models with ``add_model``."""
    server.add_connector("embedding", connector_id="c1")
    return server


@pytest.fixture
def run_predict(run_warned):
    """``run_predict(check_mode=False, connection=True, **args)``: the module result, with its warnings."""
    return lambda check_mode=False, connection=True, **args: run_warned(
        polarsearch_predict, args, check_mode=check_mode, connection=connection)


def add_model(server, name, state="DEPLOYED", model_id="m1", answer=None):
    server.add_model(name, "c1", state=state, model_id=model_id)
    if answer is not None:
        server.inference_results[model_id] = answer["inference_results"]
    return model_id


def predicts(server):
    """(method, path, body) of every predict sent; the module sends no other write."""
    assert all(r.path.endswith("/_predict") for r in server.writes), server.write_summary()
    return [(r.method, r.path, r.body) for r in server.writes]


def tensor_output(*tensors, status=200):
    return {"inference_results": [{"output": list(tensors), "status_code": status}]}


def body_output(body):
    return tensor_output({"name": "response", "dataAsMap": body})


EMBEDDING_TENSORS = tensor_output(
    {"name": "sentence_embedding", "data_type": "FLOAT32", "shape": [3], "data": [0.1, 0.2, 0.3]},
    {"name": "sentence_embedding", "data_type": "FLOAT32", "shape": [3], "data": [0.4, 0.5, 0.6]},
)


# -- lookup -----------------------------------------------------------------------------
def test_predict_by_name_sends_parameters_and_returns_embeddings(run_predict, cluster):
    add_model(cluster, "embed", answer=EMBEDDING_TENSORS)
    result = run_predict(name="embed", parameters={"input": ["a", "b"]})
    assert not result["failed"], result
    assert result["changed"] is False
    assert result["model_id"] == "m1"
    assert result["embeddings"] == [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]
    assert result["rerank"] == []
    assert result["text"] is None
    assert result["inference_results"] == EMBEDDING_TENSORS["inference_results"]
    assert predicts(cluster) == [("POST", ML + "/models/m1/_predict", {"parameters": {"input": ["a", "b"]}})]
    assert result["warnings"] == []


def test_predict_by_model_id(run_predict, cluster):
    add_model(cluster, "embed", answer=EMBEDDING_TENSORS)
    result = run_predict(model_id="m1", parameters={"input": ["a", "b"]})
    assert not result["failed"], result
    assert result["model_id"] == "m1"
    assert cluster.calls("GET", "^%s/models/m1$" % ML)
    assert len(predicts(cluster)) == 1


def test_action_type_is_sent_at_top_level(run_predict, cluster):
    add_model(cluster, "embed", answer=EMBEDDING_TENSORS)
    result = run_predict(name="embed", parameters={"input": ["a"]}, action_type="execute")
    assert not result["failed"], result
    assert predicts(cluster)[0][2] == {"parameters": {"input": ["a"]}, "action_type": "execute"}


def test_duplicate_names_fail_with_ids(run_predict, cluster):
    add_model(cluster, "twin", model_id="m1")
    add_model(cluster, "twin", model_id="m2")
    result = run_predict(name="twin", parameters={"input": ["a"]})
    assert result["failed"]
    assert "m1, m2" in result["msg"] and "model_id" in result["msg"]
    assert result["ids"] == ["m1", "m2"]
    assert predicts(cluster) == []


def test_missing_name_fails(run_predict, cluster):
    result = run_predict(name="nope", parameters={"input": ["a"]})
    assert result["failed"]
    assert "no remote model is named 'nope'" in result["msg"]


def test_missing_model_id_fails(run_predict, cluster):
    result = run_predict(model_id="gone", parameters={"input": ["a"]})
    assert result["failed"]
    assert "model_id gone does not exist" in result["msg"]


def test_name_and_model_id_are_exclusive(run_predict, cluster):
    result = run_predict(name="a", model_id="b", parameters={})
    assert result["failed"]
    assert "mutually exclusive" in result["msg"]
    assert cluster.requests == []


def test_a_predict_request_holds_only_the_options_set():
    request = predict.PredictRequest.from_params({"name": "embed", "model_id": None, "parameters": {"input": ["a"]},
                                                  "action_type": None, "require_deployed": False,
                                                  "retry_predict": True})
    assert (request.name, request.model_id, request.action_type) == ("embed", None, None)
    assert dict(request.parameters) == {"input": ["a"]}
    assert request.require_deployed is False and request.retry_predict is True
    with pytest.raises(TypeError):
        request.parameters["input"] = []
    by_id = predict.PredictRequest.from_params({"model_id": "m1", "parameters": {}, "action_type": "execute"})
    assert (by_id.name, by_id.model_id, by_id.action_type, by_id.require_deployed) == (None, "m1", "execute", False)


# -- parsing ----------------------------------------------------------------------------
DASHSCOPE_RERANK = body_output({"output": {"results": [
    {"index": 1, "relevance_score": 0.9, "document": {"text": "Paris is in France."}},
    {"index": 0, "relevance_score": 0.2, "document": {"text": "Berlin is in Germany."}},
]}, "usage": {"total_tokens": 20}, "request_id": "r"})

V1_RERANK = body_output({"id": "rerank-1", "results": [
    {"index": 0, "relevance_score": 0.3},
    {"index": 1, "relevance_score": 0.8, "document": {"text": "Paris is in France."}},
]})

SIMILARITY = tensor_output(
    {"name": "similarity", "data_type": "FLOAT32", "shape": [1], "data": [0.25]},
    {"name": "similarity", "data_type": "FLOAT32", "shape": [1], "data": [0.75]},
)

RERANKED = [
    {"index": 1, "relevance_score": 0.9, "document": "Paris is in France."},
    {"index": 0, "relevance_score": 0.2, "document": "Berlin is in Germany."},
]


@pytest.mark.parametrize("answer, parameters, expected", [
    pytest.param(EMBEDDING_TENSORS, {"input": ["a", "b"]},
                 {"embeddings": [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]}, id="embedding-tensors"),
    pytest.param(body_output({"object": "list", "data": [
        {"object": "embedding", "index": 1, "embedding": [2.0, 2.0]},
        {"object": "embedding", "index": 0, "embedding": [1.0, 1.0]}]}), {"input": ["a", "b"]},
        {"embeddings": [[1.0, 1.0], [2.0, 2.0]]}, id="openai-embedding-body"),
    pytest.param(body_output({"output": {"embeddings": [{"text_index": 0, "embedding": [3.0]}]}}), {"input": ["a"]},
                 {"embeddings": [[3.0]]}, id="dashscope-native-embedding-body"),
    pytest.param(DASHSCOPE_RERANK, {"query": "capital of France",
                                    "documents": ["Berlin is in Germany.", "Paris is in France."]},
                 {"rerank": RERANKED}, id="dashscope-rerank"),
    pytest.param(V1_RERANK, {"query": "q", "documents": ["Berlin is in Germany.", "Paris is in France."]},
                 {"rerank": [{"index": 1, "relevance_score": 0.8, "document": "Paris is in France."},
                             {"index": 0, "relevance_score": 0.3, "document": "Berlin is in Germany."}]},
                 id="v1-rerank-document-from-parameters"),
    pytest.param(SIMILARITY, {"query": "q", "documents": ["Berlin is in Germany.", "Paris is in France."]},
                 {"rerank": [{"index": 1, "relevance_score": 0.75, "document": "Paris is in France."},
                             {"index": 0, "relevance_score": 0.25, "document": "Berlin is in Germany."}]},
                 id="cohere-similarity-tensors"),
    pytest.param(SIMILARITY, {"query": "q", "text_docs": "not documents"},
                 {"rerank": [{"index": 1, "relevance_score": 0.75, "document": None},
                             {"index": 0, "relevance_score": 0.25, "document": None}]},
                 id="similarity-tensors-without-documents"),
    pytest.param(SIMILARITY, {"query": "q", "documents": '["d0", "d1"]'},
                 {"rerank": [{"index": 1, "relevance_score": 0.75, "document": "d1"},
                             {"index": 0, "relevance_score": 0.25, "document": "d0"}]},
                 id="similarity-tensors-documents-as-json-text"),
    pytest.param(body_output({"id": "c", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Bonjour !"}, "finish_reason": "stop"}]}),
        {"messages": [{"role": "user", "content": "Say hello in French."}]},
        {"text": "Bonjour !"}, id="openai-chat"),
    pytest.param(body_output({"choices": [{"message": {"role": "assistant", "content": [
        {"type": "text", "text": "Bon"}, {"type": "text", "text": "jour"}]}}]}), {"messages": []},
        {"text": "Bonjour"}, id="openai-chat-content-parts"),
    pytest.param(body_output({"output": {"text": "Hallo!", "finish_reason": "stop"}, "request_id": "r"}),
                 {"prompt": "x"}, {"text": "Hallo!"}, id="dashscope-native-text"),
    pytest.param(body_output({"output": {"choices": [{"message": {"role": "assistant", "content": "Ciao!"}}]}}),
                 {"prompt": "x"}, {"text": "Ciao!"}, id="dashscope-native-message"),
    pytest.param(body_output({"response": "plain text reply"}), {"prompt": "x"},
                 {"text": "plain text reply"}, id="response-string"),
    pytest.param(body_output({"something": "else"}), {"x": "y"}, {}, id="unknown-shape"),
])
def test_parse_paths(run_predict, cluster, answer, parameters, expected):
    add_model(cluster, "any", answer=answer)
    result = run_predict(name="any", parameters=parameters)
    assert not result["failed"], result
    parsed = {"embeddings": [], "rerank": [], "text": None}
    parsed.update(expected)
    assert {k: result[k] for k in parsed} == parsed
    assert result["inference_results"] == answer["inference_results"]


def test_results_of_several_calls_are_concatenated():
    results = [
        {"output": [{"name": "sentence_embedding", "data": [1.0]}], "status_code": 200},
        {"output": [{"name": "sentence_embedding", "data": [2.0]}], "status_code": 200},
    ]
    assert predict.parse_results(results)["embeddings"] == [[1.0], [2.0]]


def test_parse_ignores_malformed_entries():
    results = [None, {"output": None}, {"output": ["x", {"name": "response", "dataAsMap": "text"}]}]
    assert predict.parse_results(results, {"documents": 7}) == {"embeddings": [], "rerank": [], "text": None}


# -- deploy state and check mode --------------------------------------------------------
def test_check_mode_runs_on_a_deployed_model(run_predict, cluster):
    add_model(cluster, "embed", answer=EMBEDDING_TENSORS)
    result = run_predict(check_mode=True, name="embed", parameters={"input": ["a", "b"]})
    assert not result["failed"], result
    assert result["changed"] is False
    assert "skipped" not in result
    assert result["embeddings"] == [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]
    assert len(predicts(cluster)) == 1


@pytest.mark.parametrize("state", ["REGISTERED", "UNDEPLOYED", "DEPLOY_FAILED", "DEPLOYING"])
def test_check_mode_skips_a_model_that_is_not_deployed(run_predict, cluster, state):
    add_model(cluster, "embed", state, answer=EMBEDDING_TENSORS)
    result = run_predict(check_mode=True, name="embed", parameters={"input": ["a"]})
    assert not result["failed"], result
    assert result["skipped"] is True
    assert result["changed"] is False
    assert result["model_id"] == "m1"
    assert state in result["msg"] and "not sent" in result["msg"]
    assert "inference_results" not in result
    assert predicts(cluster) == []
    assert cluster.models["m1"]["model_state"] == state


def test_a_model_that_is_not_deployed_is_predicted_with_a_warning(run_predict, cluster):
    add_model(cluster, "embed", "UNDEPLOYED", answer=EMBEDDING_TENSORS)
    result = run_predict(name="embed", parameters={"input": ["a"]})
    assert not result["failed"], result
    assert result["changed"] is False
    assert len(predicts(cluster)) == 1
    assert len(result["warnings"]) == 1 and "UNDEPLOYED" in result["warnings"][0]
    assert cluster.models["m1"]["model_state"] == "DEPLOYED"   # the server deployed it on the predict


@pytest.mark.parametrize("check_mode", [False, True])
def test_require_deployed_fails_without_predicting(run_predict, cluster, check_mode):
    add_model(cluster, "embed", "UNDEPLOYED", answer=EMBEDDING_TENSORS)
    result = run_predict(check_mode=check_mode, name="embed", parameters={"input": ["a"]}, require_deployed=True)
    assert result["failed"]
    assert "UNDEPLOYED, not DEPLOYED" in result["msg"] and "require_deployed" in result["msg"]
    assert result["model_state"] == "UNDEPLOYED"
    assert predicts(cluster) == []


@pytest.mark.parametrize("state", ["DEPLOYED", "PARTIALLY_DEPLOYED"])
def test_require_deployed_passes_on_a_serving_model(run_predict, cluster, state):
    add_model(cluster, "embed", state, answer=EMBEDDING_TENSORS)
    result = run_predict(name="embed", parameters={"input": ["a"]}, require_deployed=True)
    assert not result["failed"], result
    assert len(predicts(cluster)) == 1


def settle_after_reads(server, model_id, reads, state="DEPLOYED"):
    """The model document reads its old state ``reads`` times by ID, then ``state``: ML Commons' sync-up job
    (or the deploy another run has running) writes DEPLOYED over the DEPLOY_FAILED a refused concurrent
    ``_deploy`` wrote into a deployed model (3.6: 409, 2.19: 500 version conflict; seen for up to 8 s)."""
    seen = []
    route = server.route

    def route_and_settle(method, path, params, body):
        answer = route(method, path, params, body)
        if method == "GET" and path == "%s/models/%s" % (ML, model_id):
            seen.append(path)
            if len(seen) == reads:
                server.models[model_id]["model_state"] = state
        return answer

    server.route = route_and_settle
    return seen


@pytest.mark.parametrize("state", ["DEPLOY_FAILED", "DEPLOYING"])
def test_require_deployed_waits_for_a_deployed_model_to_settle(run_predict, cluster, clock, state):
    add_model(cluster, "embed", state, answer=EMBEDDING_TENSORS)
    reads = settle_after_reads(cluster, "m1", 3)
    result = run_predict(name="embed", parameters={"input": ["a"]}, require_deployed=True)
    assert not result["failed"], result
    assert len(reads) == 4 and len(predicts(cluster)) == 1
    assert result["embeddings"] == [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]
    assert sum(clock.sleeps) < predict.SETTLE_TIMEOUT


def test_require_deployed_fails_on_a_model_that_stays_deploy_failed(run_predict, cluster, clock):
    add_model(cluster, "embed", "DEPLOY_FAILED", answer=EMBEDDING_TENSORS)
    result = run_predict(name="embed", parameters={"input": ["a"]}, require_deployed=True)
    assert result["failed"]
    assert "DEPLOY_FAILED, not DEPLOYED" in result["msg"] and "require_deployed" in result["msg"]
    assert predicts(cluster) == []
    assert predict.SETTLE_TIMEOUT <= sum(clock.sleeps) <= predict.SETTLE_TIMEOUT + 3.0


def test_require_deployed_names_a_model_deleted_while_it_settles(run_predict, cluster, clock):
    """A model deleted (by another run's teardown) while this run waits for it to settle is named as
    gone, not reported in the state it was last read in."""
    add_model(cluster, "embed", "DEPLOY_FAILED", answer=EMBEDDING_TENSORS)
    route = cluster.route
    reads = []

    def route_and_delete(method, path, params, body):
        answer = route(method, path, params, body)
        if method == "GET" and path == "%s/models/m1" % ML:
            reads.append(path)
            if len(reads) == 2:
                del cluster.models["m1"]
        return answer

    cluster.route = route_and_delete
    result = run_predict(name="embed", parameters={"input": ["a"]}, require_deployed=True)
    assert result["failed"] and "disappeared while waiting for it to be DEPLOYED" in result["msg"], result["msg"]
    assert predicts(cluster) == [] and sum(clock.sleeps) < predict.SETTLE_TIMEOUT


# -- errors -----------------------------------------------------------------------------
def test_remote_service_error_names_method_path_status_and_reason(run_predict, cluster):
    reason = 'Error from remote service: {"error":{"message":"Incorrect API key provided."}}'
    add_model(cluster, "chat")
    cluster.fail_next("POST", "/m1/_predict$", status=401, body=error(401, reason).body)
    result = run_predict(name="chat", parameters={"messages": [{"role": "user", "content": "hi"}]})
    assert result["failed"]
    assert result["msg"] == "POST %s/models/m1/_predict failed: HTTP 401: %s" % (ML, reason)
    assert result["status"] == 401
    assert result["changed"] is False
    assert len(predicts(cluster)) == 1


def test_model_disabled_error(run_predict, cluster):
    cluster.add_model("chat", "c1", state="DEPLOYED", model_id="m1", is_enabled=False)
    result = run_predict(name="chat", parameters={"prompt": "x"})
    assert result["failed"]
    assert result["msg"].endswith("HTTP 403: Model is disabled.")


def test_password_never_shows_in_an_error(run_predict, cluster):
    reason = "Error from remote service: echo s3cret-pass"
    add_model(cluster, "chat")
    cluster.fail_next("POST", "/m1/_predict$", status=400, body={"error": {"reason": reason}, "status": 400})
    result = run_predict(name="chat", parameters={"prompt": "x"}, connection=False, host=CONNECTION["host"],
                         username="admin", password="s3cret-pass")
    assert result["failed"]
    assert "s3cret-pass" not in result["msg"]
