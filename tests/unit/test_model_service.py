# -*- coding: utf-8 -*-
"""Unit tests for tests/tools/model_service.py (the local model service)."""

from __future__ import annotations

import base64
import http.client
import importlib.util
import json
import math
import os
import struct
import sys
import threading
import time

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
_SCRIPT = os.path.join(_HERE, "..", "tools", "model_service.py")
_spec = importlib.util.spec_from_file_location("polarsearch_model_service", _SCRIPT)
ms = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = ms
_spec.loader.exec_module(ms)

KEY = "unit-test-key-0001"
EMBED = "/compatible-mode/v1/embeddings"
CHAT = "/compatible-mode/v1/chat/completions"
DS_RERANK = "/api/v1/services/rerank/text-rerank/text-rerank"


class Client:
    def __init__(self, host, port):
        self.host = host
        self.port = port

    def call(self, method, path, body=None, key=KEY, headers=None, raw=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        hdrs = {"Content-Type": "application/json"}
        if key is not None:
            hdrs["Authorization"] = "Bearer " + key
        hdrs.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            text = resp.read().decode()
            return resp.status, (json.loads(text) if text else None)
        finally:
            conn.close()

    def post(self, path, body, **kw):
        return self.call("POST", path, body, **kw)


@pytest.fixture()
def service():
    server = ms.make_server("127.0.0.1", 0, KEY)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield Client(host, port), server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture()
def client(service):
    return service[0]


def _cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


# ---------------------------------------------------------------- health ---

def test_health_needs_no_key(client):
    assert client.call("GET", "/health", key=None) == (200, {"status": "ok"})


def test_binds_loopback_only():
    with pytest.raises(ValueError):
        ms.make_server("0.0.0.0", 0, KEY)
    with pytest.raises(ValueError):
        ms.make_server("192.168.1.10", 0, KEY)
    with pytest.raises(ValueError):
        ms.make_server("example.com", 0, KEY)
    assert ms.resolve_loopback("localhost") == "127.0.0.1"
    assert ms.resolve_loopback("127.0.0.2") == "127.0.0.2"
    assert ms.resolve_loopback("::1") == "::1"


def test_cli_refuses_non_loopback_host(capsys):
    with pytest.raises(SystemExit) as exc:
        ms.main(["--host", "0.0.0.0", "--port", "0"])
    assert exc.value.code == 2
    assert "non-loopback" in capsys.readouterr().err


def test_server_address_is_loopback(service):
    server = service[1]
    assert server.server_address[0] == "127.0.0.1"


# ------------------------------------------------------------ embeddings ---

def test_embeddings_list_input(client):
    status, body = client.post(EMBED, {"model": "text-embedding-v4",
                                       "input": ["hello world", "good morning"]})
    assert status == 200
    assert body["object"] == "list"
    assert body["model"] == "text-embedding-v4"
    assert [d["index"] for d in body["data"]] == [0, 1]
    for item in body["data"]:
        assert item["object"] == "embedding"
        assert len(item["embedding"]) == 1024
        assert math.isclose(math.sqrt(sum(v * v for v in item["embedding"])), 1.0,
                            rel_tol=1e-9)
    assert body["usage"] == {"prompt_tokens": 4, "total_tokens": 4}


def test_embeddings_string_input_and_dimensions(client):
    status, body = client.post(EMBED, {"model": "m", "input": "hello world", "dimensions": 64,
                                       "encoding_format": "float"})
    assert status == 200
    assert len(body["data"]) == 1
    assert len(body["data"][0]["embedding"]) == 64


def test_embeddings_are_deterministic(client):
    a = client.post(EMBED, {"model": "m", "input": "same text"})[1]["data"][0]["embedding"]
    b = client.post(EMBED, {"model": "m", "input": "same text"})[1]["data"][0]["embedding"]
    assert a == b


def test_embeddings_base64(client):
    status, body = client.post(EMBED, {"model": "m", "input": "abc", "dimensions": 16,
                                       "encoding_format": "base64"})
    assert status == 200
    floats = struct.unpack("<16f", base64.b64decode(body["data"][0]["embedding"]))
    expected = ms.embed("abc", 16)
    assert all(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-7) for x, y in zip(floats, expected))


def test_similar_texts_are_closer_than_unrelated():
    query = ms.embed("How do I reset my account password?")
    similar = ms.embed("Steps to reset the password of your account")
    unrelated = ms.embed("Bananas grow in tropical climates")
    assert _cos(query, similar) > _cos(query, unrelated) + 0.2
    # typo tolerance from character trigrams
    assert _cos(ms.embed("embedding"), ms.embed("embeddings")) > 0.5


def test_v1_embeddings_alias(client):
    status, body = client.post("/v1/embeddings", {"model": "m", "input": ["x y"]})
    assert status == 200 and len(body["data"][0]["embedding"]) == 1024


@pytest.mark.parametrize("payload,param", [
    ({"input": "x"}, "model"),
    ({"model": "m"}, "input"),
    ({"model": "m", "input": []}, "input"),
    ({"model": "m", "input": [1, 2]}, "input"),
    ({"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
    ({"model": "m", "input": "x", "dimensions": "8"}, "dimensions"),
    ({"model": "m", "input": "x", "encoding_format": "int8"}, "encoding_format"),
])
def test_embeddings_bad_requests(client, payload, param):
    status, body = client.post(EMBED, payload)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param


def test_invalid_json_body(client):
    status, body = client.call("POST", EMBED, raw=b"{not json")
    assert status == 400
    assert "parse" in body["error"]["message"]


def test_chunked_request_body(client):
    conn = http.client.HTTPConnection(client.host, client.port, timeout=10)
    try:
        payload = json.dumps({"model": "m", "input": ["chunked body"]}).encode()
        conn.request("POST", EMBED, body=iter([payload[:10], payload[10:]]),
                     headers={"Authorization": "Bearer " + KEY,
                              "Content-Type": "application/json"},
                     encode_chunked=True)
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 200
    assert len(body["data"]) == 1


# ---------------------------------------------------------------- rerank ---

DOCS = [
    "Bananas are a yellow tropical fruit",
    "Paris is the capital city of France",
    "The capital of Germany is Berlin",
]


def test_dashscope_rerank_orders_by_relevance(client):
    status, body = client.post(DS_RERANK, {
        "model": "qwen3-rerank",
        "input": {"query": "What is the capital of France?", "documents": DOCS},
        "parameters": {"return_documents": True},
    })
    assert status == 200
    results = body["output"]["results"]
    assert [r["index"] for r in results][0] == 1
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert results[0]["document"] == {"text": DOCS[1]}
    assert body["usage"]["total_tokens"] > 0
    assert body["request_id"]


def test_dashscope_rerank_top_n_and_no_documents(client):
    status, body = client.post(DS_RERANK, {
        "model": "qwen3-rerank",
        "input": {"query": "capital of France", "documents": DOCS},
        "parameters": {"top_n": 2},
    })
    assert status == 200
    results = body["output"]["results"]
    assert len(results) == 2
    assert all(set(r) == {"index", "relevance_score"} for r in results)


def test_dashscope_rerank_null_top_n_returns_all(client):
    status, body = client.post(DS_RERANK, {
        "model": "qwen3-rerank",
        "input": {"query": "capital", "documents": DOCS},
        "parameters": {"top_n": None, "return_documents": True},
    })
    assert status == 200
    assert len(body["output"]["results"]) == 3


def test_dashscope_rerank_bad_request(client):
    status, body = client.post(DS_RERANK, {"model": "qwen3-rerank",
                                           "input": {"documents": DOCS}})
    assert status == 400
    assert body["code"] == "InvalidParameter"
    assert body["error"]["param"] == "input.query"


def test_simple_rerank(client):
    status, body = client.post("/v1/rerank", {"model": "bge-reranker", "query": "capital of France",
                                              "documents": DOCS, "top_n": 1})
    assert status == 200
    assert body["results"] == [{"index": 1,
                                "relevance_score": ms.relevance("capital of France", DOCS[1])}]
    assert body["model"] == "bge-reranker"


# ------------------------------------------------------------------ chat ---

def _chat(client, messages, path=CHAT):
    return client.post(path, {"model": "qwen-max", "messages": messages})


def test_chat_completion_shape(client):
    status, body = _chat(client, [{"role": "system", "content": "You are terse."},
                                  {"role": "user", "content": "Hello"}])
    assert status == 200
    assert body["object"] == "chat.completion"
    assert body["model"] == "qwen-max"
    assert body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_reply_depends_on_last_user_message(client):
    one = _chat(client, [{"role": "user", "content": "Tell me about glaciers"}])[1]
    two = _chat(client, [{"role": "user", "content": "Tell me about glaciers"}])[1]
    other = _chat(client, [{"role": "user", "content": "Tell me about glaciers"},
                           {"role": "assistant", "content": "..."},
                           {"role": "user", "content": "And volcanoes?"}])[1]
    text = one["choices"][0]["message"]["content"]
    assert text == two["choices"][0]["message"]["content"]
    assert "glaciers" in text
    assert "volcanoes" in other["choices"][0]["message"]["content"]
    assert "glaciers" not in other["choices"][0]["message"]["content"]


def test_chat_content_parts_and_alias(client):
    status, body = _chat(client, [{"role": "user",
                                   "content": [{"type": "text", "text": "quantum computing"}]}],
                         path="/v1/chat/completions")
    assert status == 200
    assert "quantum" in body["choices"][0]["message"]["content"]


@pytest.mark.parametrize("messages", [[], None, [{"content": "no role"}]])
def test_chat_bad_messages(client, messages):
    status, body = client.post(CHAT, {"model": "qwen-max", "messages": messages})
    assert status == 400
    assert body["error"]["param"] == "messages"


def test_chat_stream_not_supported(client):
    status, body = client.post(CHAT, {"model": "qwen-max", "stream": True,
                                      "messages": [{"role": "user", "content": "hi"}]})
    assert status == 400


# ------------------------------------------------------------------ auth ---

@pytest.mark.parametrize("path", [EMBED, CHAT, DS_RERANK, "/v1/rerank"])
def test_missing_key_is_401(client, path):
    status, body = client.post(path, {"model": "m"}, key=None)
    assert status == 401
    assert body["error"]["code"] == "invalid_api_key"
    assert body["error"]["type"] == "invalid_request_error"


def test_wrong_key_is_401(client):
    status, body = client.post(EMBED, {"model": "m", "input": "x"}, key="wrong")
    assert status == 401
    assert body["error"]["message"] == "Incorrect API key provided."


def test_non_bearer_scheme_is_401(client):
    status = client.post(EMBED, {"model": "m", "input": "x"}, key=None,
                         headers={"Authorization": "Basic " + KEY})[0]
    assert status == 401


def test_dashscope_path_error_has_dashscope_fields(client):
    status, body = client.post(DS_RERANK, {}, key="wrong")
    assert status == 401
    assert body["code"] == "InvalidApiKey"
    assert body["message"]
    assert body["request_id"]
    assert body["error"]["code"] == "invalid_api_key"


def test_unknown_path_and_wrong_method(client):
    assert client.post("/v1/nothing", {})[0] == 404
    status, body = client.call("GET", EMBED)
    assert status == 405
    assert "POST" in body["error"]["message"]


# ---------------------------------------------------------------- faults ---

def test_header_fault_status(client):
    status, body = client.post(EMBED, {"model": "m", "input": "x"}, headers={"X-Fault": "500"})
    assert status == 500
    assert body["error"]["type"] == "server_error"
    status, body = client.post(EMBED, {"model": "m", "input": "x"}, headers={"X-Fault": "429"})
    assert status == 429
    assert body["error"]["code"] == "rate_limit_exceeded"


def test_header_fault_delay(client):
    start = time.monotonic()
    status = client.post(EMBED, {"model": "m", "input": "x"},
                         headers={"X-Fault": "delay=300"})[0]
    assert status == 200
    assert time.monotonic() - start >= 0.3


def test_header_fault_delay_and_status(client):
    start = time.monotonic()
    status = client.post(EMBED, {"model": "m", "input": "x"},
                         headers={"X-Fault": "delay=200, 503"})[0]
    assert status == 503
    assert time.monotonic() - start >= 0.2


def test_bad_header_fault(client):
    status, body = client.post(EMBED, {"model": "m", "input": "x"}, headers={"X-Fault": "boom"})
    assert status == 400


def test_admin_fault_with_count(client):
    status, body = client.post("/admin/faults", {"status": 500, "count": 2}, key=None)
    assert status == 200 and body["fault"]["remaining"] == 2
    req = {"model": "m", "input": "x"}
    assert client.post(EMBED, req)[0] == 500
    assert client.post(EMBED, req)[0] == 500
    assert client.post(EMBED, req)[0] == 200
    assert client.call("GET", "/admin/faults", key=None) == (200, {"fault": None})


def test_admin_fault_persists_until_cleared(client):
    client.post("/admin/faults", {"status": 429}, key=None)
    req = {"model": "m", "input": "x"}
    assert [client.post(EMBED, req)[0] for attempt in range(3)] == [429, 429, 429]
    assert client.call("DELETE", "/admin/faults", key=None)[0] == 200
    assert client.post(EMBED, req)[0] == 200


def test_admin_fault_path_filter(client):
    client.post("/admin/faults", {"status": 503, "path": CHAT}, key=None)
    assert client.post(EMBED, {"model": "m", "input": "x"})[0] == 200
    assert _chat(client, [{"role": "user", "content": "hi"}])[0] == 503


def test_admin_delay(client):
    client.post("/admin/faults", {"delay_ms": 250, "count": 1}, key=None)
    start = time.monotonic()
    assert client.post(EMBED, {"model": "m", "input": "x"})[0] == 200
    assert time.monotonic() - start >= 0.25
    start = time.monotonic()
    assert client.post(EMBED, {"model": "m", "input": "x"})[0] == 200
    assert time.monotonic() - start < 0.25


@pytest.mark.parametrize("spec", [{}, {"status": 200}, {"status": "500"}, {"delay_ms": -1},
                                  {"status": 500, "count": 0}])
def test_admin_fault_validation(client, spec):
    assert client.post("/admin/faults", spec, key=None)[0] == 400


# -------------------------------------------------------------- requests ---

def test_request_log_records_what_was_sent(client):
    client.call("DELETE", "/admin/requests", key=None)
    client.post(EMBED, {"model": "text-embedding-v4", "input": ["hello"]},
                headers={"X-Trace": "abc"})
    client.post(CHAT, {"model": "qwen-max", "messages": []}, key="wrong")
    status, body = client.call("GET", "/admin/requests", key=None)
    assert status == 200
    assert body["count"] == 2
    first, second = body["requests"]
    assert first["method"] == "POST"
    assert first["path"] == EMBED
    assert first["body"] == {"model": "text-embedding-v4", "input": ["hello"]}
    assert first["headers"]["X-Trace"] == "abc"
    assert first["auth"] == {"present": True, "matched": True}
    assert first["status"] == 200
    assert second["auth"] == {"present": True, "matched": False}
    assert second["status"] == 401
    assert second["seq"] > first["seq"]
    dump = json.dumps(body)
    assert KEY not in dump
    assert "wrong" not in dump
    assert "redacted" in first["headers"]["Authorization"]


def test_request_log_limit_clear_and_skip_admin(client):
    client.call("DELETE", "/admin/requests", key=None)
    for i in range(3):
        client.post(EMBED, {"model": "m", "input": str(i)})
    client.call("GET", "/health", key=None)
    body = client.call("GET", "/admin/requests?limit=2", key=None)[1]
    assert [r["body"]["input"] for r in body["requests"]] == ["1", "2"]
    assert client.call("DELETE", "/admin/requests", key=None)[1]["count"] == 0
    assert client.call("GET", "/admin/requests", key=None)[1]["count"] == 0


def test_request_log_keeps_unparsable_body(client):
    client.call("DELETE", "/admin/requests", key=None)
    client.call("POST", EMBED, raw=b"not json")
    body = client.call("GET", "/admin/requests", key=None)[1]
    entry = body["requests"][0]
    assert entry["body"] is None
    assert entry["body_text"] == "not json"


def test_concurrent_requests(client):
    results = []

    def worker(i):
        results.append(client.post(EMBED, {"model": "m", "input": "text %d" % i})[0])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [200] * 8
