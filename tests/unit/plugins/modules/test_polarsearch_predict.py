# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""polarsearch_predict, run through main() against an in-memory ML Commons behind requests."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.polardb.polarsearch.plugins.module_utils import predict
from ansible_collections.polardb.polarsearch.plugins.module_utils.connection import ConnectionOptions
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_predict

ML = "_plugins/_ml"
PREDICT = re.compile(r"_plugins/_ml/models/([^/]+)/_predict")


# -- an in-memory ML Commons ------------------------------------------------------------
class Response:
    def __init__(self, status, body):
        self.status_code = status
        self.text = body if isinstance(body, str) else json.dumps(body)
        self.headers = {}

    def json(self):
        return json.loads(self.text)


def not_found(reason):
    return Response(404, {"error": {"root_cause": [{"type": "status_exception", "reason": reason}],
                                    "type": "status_exception", "reason": reason}, "status": 404})


def matches(query, source):
    if "match_all" in query:
        return True
    if "bool" in query:
        return all(matches(q, source) for q in query["bool"].get("filter", []))
    if "term" in query:
        (field, value), = query["term"].items()
        return source.get(field[:-len(".keyword")] if field.endswith(".keyword") else field) == value
    raise AssertionError("query not understood by the fake: %r" % query)


class FakeCluster:
    """Answers the ML Commons REST calls from dicts of documents and records every call."""

    def __init__(self, models=None, answers=None):
        self.indices = {"models": dict(models or {}), "connectors": {}, "model_groups": {}}
        self.answers = dict(answers or {})   # model_id -> (status, body) of _predict
        self.calls = []

    def request(self, method, url, json=None, params=None, timeout=None, headers=None):
        path = urlsplit(url).path.strip("/")
        self.calls.append((method, path, json))
        hit = PREDICT.fullmatch(path)
        if method == "POST" and hit:
            if hit.group(1) not in self.answers:
                return not_found("Failed to find model")
            return Response(*self.answers[hit.group(1)])
        kind, rest = path[len(ML) + 1:].split("/", 1)
        docs = self.indices[kind]
        if method == "POST" and rest == "_search":
            found = [(i, s) for i, s in docs.items() if matches(json["query"], s)]
            start = json.get("from", 0)
            page = found[start:start + json.get("size", 10)]
            return Response(200, {"hits": {"total": {"value": len(found), "relation": "eq"},
                                           "hits": [{"_id": i, "_source": s} for i, s in page]}})
        if method == "GET" and rest in docs:
            return Response(200, docs[rest])
        if method == "GET":
            return not_found("Failed to find %s with the provided id: %s" % (kind, rest))
        raise AssertionError("unexpected call %s %s" % (method, path))

    def predicts(self):
        return [call for call in self.calls if PREDICT.fullmatch(call[1])]


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


@pytest.fixture
def run(monkeypatch):
    """run(cluster, check_mode=False, **args) -> (ok, result) through main()."""
    def exit_json(self, **kwargs):
        kwargs["warnings"] = list(ansible_warnings.get_warning_messages())
        raise ExitJson(kwargs)

    def fail_json(self, **kwargs):
        raise FailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(ansible_warnings, "_global_warnings", {})

    def runner(cluster, check_mode=False, **args):
        original = ConnectionOptions.client
        monkeypatch.setattr(ConnectionOptions, "client",
                            lambda self, extra_secrets=(), session=None: original(self, extra_secrets, session=cluster))
        args = dict({"host": "http://127.0.0.1:9200", "retries": 0}, **args)
        if check_mode:
            args["_ansible_check_mode"] = True
        with patch_module_args(args):
            try:
                polarsearch_predict.main()
            except ExitJson as exc:
                return True, exc.args[0]
            except FailJson as exc:
                return False, exc.args[0]
        raise AssertionError("the module neither exited nor failed")

    return runner


def model(name, state="DEPLOYED", connector_id="c1"):
    return {"name": name, "algorithm": "REMOTE", "model_state": state, "connector_id": connector_id,
            "model_group_id": "g1", "model_version": "1"}


def tensor_output(*tensors, status=200):
    return {"inference_results": [{"output": list(tensors), "status_code": status}]}


def body_output(body):
    return tensor_output({"name": "response", "dataAsMap": body})


EMBEDDING_TENSORS = tensor_output(
    {"name": "sentence_embedding", "data_type": "FLOAT32", "shape": [3], "data": [0.1, 0.2, 0.3]},
    {"name": "sentence_embedding", "data_type": "FLOAT32", "shape": [3], "data": [0.4, 0.5, 0.6]},
)


# -- lookup -----------------------------------------------------------------------------
def test_predict_by_name_sends_parameters_and_returns_embeddings(run):
    cluster = FakeCluster({"m1": model("embed")}, {"m1": (200, EMBEDDING_TENSORS)})
    ok, result = run(cluster, name="embed", parameters={"input": ["a", "b"]})
    assert ok, result
    assert result["changed"] is False
    assert result["model_id"] == "m1"
    assert result["embeddings"] == [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]
    assert result["rerank"] == []
    assert result["text"] is None
    assert result["inference_results"] == EMBEDDING_TENSORS["inference_results"]
    assert cluster.predicts() == [("POST", ML + "/models/m1/_predict", {"parameters": {"input": ["a", "b"]}})]
    assert result["warnings"] == []


def test_predict_by_model_id(run):
    cluster = FakeCluster({"m1": model("embed")}, {"m1": (200, EMBEDDING_TENSORS)})
    ok, result = run(cluster, model_id="m1", parameters={"input": ["a", "b"]})
    assert ok, result
    assert result["model_id"] == "m1"
    assert ("GET", ML + "/models/m1", None) in cluster.calls
    assert len(cluster.predicts()) == 1


def test_action_type_is_sent_at_top_level(run):
    cluster = FakeCluster({"m1": model("embed")}, {"m1": (200, EMBEDDING_TENSORS)})
    ok, result = run(cluster, name="embed", parameters={"input": ["a"]}, action_type="execute")
    assert ok, result
    assert cluster.predicts()[0][2] == {"parameters": {"input": ["a"]}, "action_type": "execute"}


def test_duplicate_names_fail_with_ids(run):
    cluster = FakeCluster({"m1": model("twin"), "m2": model("twin")})
    ok, result = run(cluster, name="twin", parameters={"input": ["a"]})
    assert not ok
    assert "m1, m2" in result["msg"] and "model_id" in result["msg"]
    assert result["ids"] == ["m1", "m2"]
    assert cluster.predicts() == []


def test_missing_name_fails(run):
    ok, result = run(FakeCluster(), name="nope", parameters={"input": ["a"]})
    assert not ok
    assert "no remote model is named 'nope'" in result["msg"]


def test_missing_model_id_fails(run):
    ok, result = run(FakeCluster(), model_id="gone", parameters={"input": ["a"]})
    assert not ok
    assert "model_id gone does not exist" in result["msg"]


def test_name_and_model_id_are_exclusive(run):
    ok, result = run(FakeCluster(), name="a", model_id="b", parameters={})
    assert not ok
    assert "mutually exclusive" in result["msg"]


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
def test_parse_paths(run, answer, parameters, expected):
    cluster = FakeCluster({"m1": model("any")}, {"m1": (200, answer)})
    ok, result = run(cluster, name="any", parameters=parameters)
    assert ok, result
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
def test_check_mode_runs_on_a_deployed_model(run):
    cluster = FakeCluster({"m1": model("embed")}, {"m1": (200, EMBEDDING_TENSORS)})
    ok, result = run(cluster, check_mode=True, name="embed", parameters={"input": ["a", "b"]})
    assert ok, result
    assert result["changed"] is False
    assert "skipped" not in result
    assert result["embeddings"] == [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]
    assert len(cluster.predicts()) == 1


@pytest.mark.parametrize("state", ["REGISTERED", "UNDEPLOYED", "DEPLOY_FAILED", "DEPLOYING"])
def test_check_mode_skips_a_model_that_is_not_deployed(run, state):
    cluster = FakeCluster({"m1": model("embed", state)}, {"m1": (200, EMBEDDING_TENSORS)})
    ok, result = run(cluster, check_mode=True, name="embed", parameters={"input": ["a"]})
    assert ok, result
    assert result["skipped"] is True
    assert result["changed"] is False
    assert result["model_id"] == "m1"
    assert state in result["msg"] and "not sent" in result["msg"]
    assert "inference_results" not in result
    assert cluster.predicts() == []


def test_a_model_that_is_not_deployed_is_predicted_with_a_warning(run):
    cluster = FakeCluster({"m1": model("embed", "UNDEPLOYED")}, {"m1": (200, EMBEDDING_TENSORS)})
    ok, result = run(cluster, name="embed", parameters={"input": ["a"]})
    assert ok, result
    assert result["changed"] is False
    assert len(cluster.predicts()) == 1
    assert len(result["warnings"]) == 1 and "UNDEPLOYED" in result["warnings"][0]


@pytest.mark.parametrize("check_mode", [False, True])
def test_require_deployed_fails_without_predicting(run, check_mode):
    cluster = FakeCluster({"m1": model("embed", "UNDEPLOYED")}, {"m1": (200, EMBEDDING_TENSORS)})
    ok, result = run(cluster, check_mode=check_mode, name="embed", parameters={"input": ["a"]},
                     require_deployed=True)
    assert not ok
    assert "UNDEPLOYED, not DEPLOYED" in result["msg"] and "require_deployed" in result["msg"]
    assert result["model_state"] == "UNDEPLOYED"
    assert cluster.predicts() == []


@pytest.mark.parametrize("state", ["DEPLOYED", "PARTIALLY_DEPLOYED"])
def test_require_deployed_passes_on_a_serving_model(run, state):
    cluster = FakeCluster({"m1": model("embed", state)}, {"m1": (200, EMBEDDING_TENSORS)})
    ok, result = run(cluster, name="embed", parameters={"input": ["a"]}, require_deployed=True)
    assert ok, result
    assert len(cluster.predicts()) == 1


# -- errors -----------------------------------------------------------------------------
def test_remote_service_error_names_method_path_status_and_reason(run):
    reason = 'Error from remote service: {"error":{"message":"Incorrect API key provided."}}'
    error = {"error": {"root_cause": [{"type": "status_exception", "reason": reason}],
                       "type": "status_exception", "reason": reason}, "status": 401}
    cluster = FakeCluster({"m1": model("chat")}, {"m1": (401, error)})
    ok, result = run(cluster, name="chat", parameters={"messages": [{"role": "user", "content": "hi"}]})
    assert not ok
    assert result["msg"] == "POST %s/models/m1/_predict failed: HTTP 401: %s" % (ML, reason)
    assert result["status"] == 401
    assert result["changed"] is False


def test_model_disabled_error(run):
    error = {"error": {"reason": "Model is disabled."}, "status": 403}
    cluster = FakeCluster({"m1": model("chat")}, {"m1": (403, error)})
    ok, result = run(cluster, name="chat", parameters={"prompt": "x"})
    assert not ok
    assert result["msg"].endswith("HTTP 403: Model is disabled.")


def test_password_never_shows_in_an_error(run):
    reason = "Error from remote service: echo s3cret-pass"
    cluster = FakeCluster({"m1": model("chat")}, {"m1": (400, {"error": {"reason": reason}, "status": 400})})
    ok, result = run(cluster, name="chat", parameters={"prompt": "x"}, username="admin", password="s3cret-pass")
    assert not ok
    assert "s3cret-pass" not in result["msg"]
