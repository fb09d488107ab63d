# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fault proxy of the integration tests (tests/tools/fault_proxy.py), against a tiny local HTTP server."""

from __future__ import annotations

import gzip
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from fault_proxy import FaultProxy, Rule, object_kind  # noqa: E402 pylint: disable=wrong-import-position


class Upstream:
    """Answers every request with 200 and a JSON echo of it, and remembers what it got."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # pylint: disable=redefined-builtin
                pass

            def do_GET(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                with upstream.lock:
                    upstream.requests.append((self.command, self.path, body))
                answer = json.dumps({"method": self.command, "path": self.path, "body": body}).encode("utf-8")
                status = 404 if self.path.startswith("/missing") else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Upstream", "yes")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer)

            do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def got(self):
        with self.lock:
            return list(self.requests)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def upstream():
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture()
def proxy(upstream):
    with FaultProxy(upstream.url, lifetime=60) as running:
        yield running


@pytest.fixture()
def session():
    with requests.Session() as http:
        yield http


def test_forwards_method_path_body_and_answer(proxy, upstream, session):
    answer = session.post(proxy.url + "/_plugins/_ml/connectors/_create?x=1", json={"name": "a"}, timeout=5)
    assert answer.status_code == 200
    assert answer.headers["X-Upstream"] == "yes"
    assert answer.json() == {"method": "POST", "path": "/_plugins/_ml/connectors/_create?x=1", "body": '{"name": "a"}'}
    assert session.get(proxy.url + "/missing", timeout=5).status_code == 404
    assert session.put(proxy.url + "/p", json={}, timeout=5).status_code == 200
    assert session.delete(proxy.url + "/d", timeout=5).status_code == 200
    assert session.head(proxy.url + "/h", timeout=5).status_code == 200
    assert [r[:2] for r in upstream.got()] == [("POST", "/_plugins/_ml/connectors/_create?x=1"), ("GET", "/missing"),
                                               ("PUT", "/p"), ("DELETE", "/d"), ("HEAD", "/h")]
    records = proxy.records()
    assert [(r.method, r.path, r.action, r.forwarded, r.status, r.upstream_status) for r in records] == [
        ("POST", "/_plugins/_ml/connectors/_create?x=1", "forward", True, 200, 200),
        ("GET", "/missing", "forward", True, 404, 404),
        ("PUT", "/p", "forward", True, 200, 200),
        ("DELETE", "/d", "forward", True, 200, 200),
        ("HEAD", "/h", "forward", True, 200, 200)]
    assert all(r.seconds is not None and r.seconds >= 0 for r in records)
    assert proxy.records(method="put") == [records[2]]
    assert proxy.records(path=r"^/[dh]$") == records[3:]
    assert proxy.records(since=4) == records[4:]


def test_listens_on_loopback_only(proxy):
    assert proxy._server.server_address[0] == "127.0.0.1"


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_status_answers_without_forwarding(proxy, upstream, session, status):
    proxy.add_rule("status", method="POST", path=r"/_register$", status=status, times=1)
    first = session.post(proxy.url + "/_plugins/_ml/models/_register", json={}, timeout=5)
    assert first.status_code == status
    assert "Retry-After" not in first.headers
    assert "injected by the fault proxy" in first.json()["error"]["reason"]
    assert upstream.got() == []
    second = session.post(proxy.url + "/_plugins/_ml/models/_register", json={}, timeout=5)
    assert second.status_code == 200
    assert len(upstream.got()) == 1
    assert [(r.action, r.forwarded, r.status) for r in proxy.records()] == [
        ("status", False, status), ("forward", True, 200)]


def test_429_with_retry_after(proxy, upstream, session):
    proxy.add_rule("status", status=429, retry_after=2, times=1)
    answer = session.get(proxy.url + "/x", timeout=5)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "2"
    assert upstream.got() == []


def test_reset_before_forwarding(proxy, upstream, session):
    rule = proxy.add_rule("reset", method="POST", times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        session.post(proxy.url + "/_create", json={}, timeout=5)
    assert upstream.got() == []
    # the session recovers with a new connection
    assert session.post(proxy.url + "/_create", json={}, timeout=5).status_code == 200
    assert rule.fired == 1 and rule.matched == 2
    first, second = proxy.records()
    assert (first.action, first.forwarded, first.status) == ("reset", False, None)
    assert (second.action, second.forwarded, second.status) == ("forward", True, 200)


def test_forward_then_reset_loses_the_answer_after_the_server_acted(proxy, upstream, session):
    proxy.add_rule("forward_reset", method="POST", path="_create", times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        session.post(proxy.url + "/_create", json={"n": 1}, timeout=5)
    assert upstream.got() == [("POST", "/_create", '{"n": 1}')]
    record = proxy.records()[0]
    assert (record.action, record.forwarded, record.upstream_status, record.status) == ("forward_reset", True, 200, None)


@pytest.mark.parametrize("status", [502, 504])
def test_forward_then_status(proxy, upstream, session, status):
    proxy.add_rule("forward_status", status=status, times=1)
    assert session.put(proxy.url + "/p", json={}, timeout=5).status_code == status
    assert upstream.got() == [("PUT", "/p", "{}")]
    record = proxy.records()[0]
    assert (record.forwarded, record.upstream_status, record.status) == (True, 200, status)


def test_hold_keeps_the_answer_past_the_read_timeout(proxy, upstream, session):
    rule = proxy.add_rule("hold", method="POST", path="_deploy", times=1, hold_seconds=10)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.post(proxy.url + "/m/_deploy", timeout=(2, 0.3))
    assert time.monotonic() - started < 5
    assert rule.wait_fired(0)
    # the server acted although the client saw no answer
    assert upstream.got() == [("POST", "/m/_deploy", "")]
    rule.release()
    deadline = time.monotonic() + 5
    while proxy.records()[0].seconds is None and time.monotonic() < deadline:
        time.sleep(0.02)
    record = proxy.records()[0]
    assert record.forwarded and record.upstream_status == 200 and record.seconds < 5


def test_hold_ends_by_itself_after_hold_seconds(proxy, session):
    proxy.add_rule("hold", times=1, hold_seconds=0.4)
    started = time.monotonic()
    assert session.get(proxy.url + "/x", timeout=5).status_code == 200
    assert 0.4 <= time.monotonic() - started < 3


def test_hold_before_forwards_only_on_release(proxy, upstream, session):
    rule = proxy.add_rule("hold_before", method="DELETE", times=1, hold_seconds=10)
    result = {}

    def call():
        result["status"] = session.delete(proxy.url + "/c/1", timeout=10).status_code

    caller = threading.Thread(target=call)
    caller.start()
    assert rule.wait_fired(5)
    time.sleep(0.2)
    assert upstream.got() == []
    rule.release()
    caller.join(5)
    assert result == {"status": 200}
    assert upstream.got() == [("DELETE", "/c/1", "")]


def test_on_fire_runs_when_the_held_answer_is_there(proxy, upstream):
    seen = []
    rule = proxy.add_rule("hold", path="_register", times=1, hold_seconds=10,
                          on_fire=lambda record: seen.append((record.path, record.forwarded, len(upstream.got()))))
    caller = threading.Thread(target=lambda: requests.post(proxy.url + "/_register", timeout=10))
    caller.start()
    assert rule.wait_fired(5)
    assert seen == [("/_register", True, 1)]
    rule.release()
    caller.join(5)


def test_delay_slows_every_answer(proxy, session):
    proxy.add_rule("delay", delay_ms=150)
    for _round in range(3):
        started = time.monotonic()
        assert session.get(proxy.url + "/x", timeout=5).status_code == 200
        assert time.monotonic() - started >= 0.15
    assert [r.action for r in proxy.records()] == ["delay"] * 3


def test_every_nth_request(proxy, session):
    rule = proxy.add_rule("status", status=503, every=2)
    statuses = [session.get(proxy.url + "/x", timeout=5).status_code for _round in range(5)]
    assert statuses == [200, 503, 200, 503, 200]
    assert (rule.matched, rule.fired) == (5, 2)


def test_rules_select_by_method_and_path_and_the_first_that_fires_decides(proxy, session):
    create = proxy.add_rule("status", method="POST", path=r"/connectors/_create$", status=502, times=1)
    any_post = proxy.add_rule("status", method="POST", status=503, times=2)
    assert session.get(proxy.url + "/connectors/_create", timeout=5).status_code == 200
    assert session.post(proxy.url + "/connectors/_create/x", timeout=5).status_code == 503
    assert session.post(proxy.url + "/connectors/_create", timeout=5).status_code == 502
    # the second rule counted the request the first one answered: its two are used up
    assert session.post(proxy.url + "/connectors/_create", timeout=5).status_code == 200
    assert (create.matched, create.fired, any_post.matched, any_post.fired) == (2, 1, 3, 1)


def test_clear_rules_and_records(proxy, session):
    proxy.add_rule("status", status=503)
    assert session.get(proxy.url + "/x", timeout=5).status_code == 503
    assert proxy.mark() == 1
    proxy.clear_rules()
    assert proxy.rules() == []
    assert session.get(proxy.url + "/x", timeout=5).status_code == 200
    proxy.clear_records()
    assert proxy.records() == [] and proxy.mark() == 0


def test_chunked_request_body_is_forwarded(proxy, upstream):
    def body():
        yield b'{"a": '
        yield b'1}'

    answer = requests.post(proxy.url + "/chunked", data=body(), timeout=5)
    assert answer.status_code == 200
    assert upstream.got() == [("POST", "/chunked", '{"a": 1}')]


def test_unreachable_upstream_answers_502(session):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FaultProxy("http://127.0.0.1:%d" % port, lifetime=30) as proxy:
        answer = session.get(proxy.url + "/x", timeout=5)
        assert answer.status_code == 502
        record = proxy.records()[0]
        assert not record.forwarded and record.error.startswith("upstream:")


def test_stop_releases_held_requests_and_closes_connections(upstream):
    proxy = FaultProxy(upstream.url, lifetime=60).start()
    rule = proxy.add_rule("hold_before", times=1, hold_seconds=60)
    outcome = {}

    def call():
        try:
            outcome["status"] = requests.get(proxy.url + "/x", timeout=30).status_code
        except requests.exceptions.RequestException as exc:
            outcome["error"] = type(exc).__name__

    caller = threading.Thread(target=call)
    caller.start()
    assert rule.wait_fired(5)
    started = time.monotonic()
    proxy.stop()
    caller.join(10)
    assert not caller.is_alive() and time.monotonic() - started < 10
    # a request held before forwarding is not forwarded once the proxy stops
    assert "error" in outcome and upstream.got() == []
    assert not proxy.running
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(proxy.url + "/x", timeout=2)
    proxy.stop()


def test_stops_by_itself_after_its_lifetime(upstream):
    proxy = FaultProxy(upstream.url, lifetime=0.3).start()
    assert requests.get(proxy.url + "/x", timeout=5).status_code == 200
    deadline = time.monotonic() + 5
    while proxy.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not proxy.running
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(proxy.url + "/x", timeout=2)


@pytest.mark.parametrize("options, message", [
    ({"action": "drop"}, "action must be one of"),
    ({"action": "status"}, "needs a status"),
    ({"action": "forward_status"}, "needs a status"),
    ({"action": "reset", "times": 1, "every": 2}, "not both"),
    ({"action": "reset", "every": 0}, "every must be 1 or more"),
])
def test_bad_rules(options, message):
    with pytest.raises(ValueError, match=message):
        Rule(options.pop("action"), **options)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:9200", "http://10.0.0.1:9200", "https://example.com:9200",
                                 "http://example.com"])
def test_upstream_must_be_on_loopback(url):
    with pytest.raises(ValueError, match="upstream must be"):
        FaultProxy(url, ca_path="/nonexistent")


def test_an_https_upstream_needs_its_ca():
    with pytest.raises(ValueError, match="needs ca_path"):
        FaultProxy("https://127.0.0.1:9200")


def test_forwards_to_an_https_upstream_verified_with_its_ca_and_keeps_the_authorization(tmp_path):
    """The secure profile's node speaks HTTPS with its own CA and basic auth: the proxy verifies the node with
    that CA (an environment's REQUESTS_CA_BUNDLE plays no part) and forwards the client's Authorization."""
    from net_servers import CertificateAuthority, WebServer  # pylint: disable=import-outside-toplevel

    ca = CertificateAuthority("fault-proxy test CA")
    ca_path = tmp_path / "ca.pem"
    ca.write(ca_path)
    with WebServer(tls=ca.issue(tmp_path)) as node:
        node.users = {"admin": "s3cret-pass"}
        with FaultProxy(node.url, ca_path=str(ca_path)) as proxy:
            answer = requests.get(proxy.url + "/_cluster/health", auth=("admin", "s3cret-pass"), timeout=5)
            refused = requests.get(proxy.url + "/_cluster/health", timeout=5)
        assert answer.status_code == 200 and answer.json()["path"] == "/_cluster/health"
        assert refused.status_code == 401
        other = CertificateAuthority("another CA")
        other_path = tmp_path / "other.pem"
        other.write(other_path)
        with FaultProxy(node.url, ca_path=str(other_path)) as proxy:
            unverified = requests.get(proxy.url + "/_cluster/health", auth=("admin", "s3cret-pass"), timeout=5)
        assert unverified.status_code == 502


def test_adds_no_delayed_ack_wait_to_keep_alive_requests(proxy, session):
    # An answer written as two small segments (headers, then body) waits on Linux for the client's
    # delayed ACK (40 ms) under Nagle's algorithm; the benchmark counts that wait as client time.
    # Keep-alive requests from one session (as the modules make them) must not pay it.
    took = []
    for _index in range(15):
        started = time.monotonic()
        session.post(proxy.url + "/_plugins/_ml/models/_search", json={"size": 1}, timeout=5).raise_for_status()
        took.append(time.monotonic() - started)
    assert sorted(took)[len(took) // 2] < 0.025, ["%.1f ms" % (t * 1000) for t in took]


class MlUpstream:
    """A tiny ML Commons: creates answer a new ID, ``_search`` lists every object of its kind, GET one by ID."""

    KINDS = {"connectors": ("_create", "connector_id"), "models": ("_register", "model_id"),
             "model_groups": ("_register", "model_group_id")}

    def __init__(self, zipped=False):
        self.objects = {kind: {} for kind in self.KINDS}
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # pylint: disable=redefined-builtin
                pass

            def do_GET(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                status, answer = upstream.answer(self.command, self.path.split("?")[0], body)
                data = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if zipped and "gzip" in (self.headers.get("Accept-Encoding") or ""):
                    # the plain node gzips its answers to a client that accepts it (OpenSearch http.compression)
                    data = gzip.compress(data)
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, method, path, body):
        parts = path.strip("/").split("/")[2:]   # after _plugins/_ml
        kind, tail = parts[0], parts[1:]
        store = self.objects[kind]
        create, key = self.KINDS[kind]
        if method == "POST" and tail == [create]:
            object_id = "%s-%d" % (kind, len(store) + 1)
            store[object_id] = dict(body)
            return 200, {key: object_id, "status": "CREATED"}
        if tail == ["_search"]:
            hits = [{"_id": i, "_source": doc} for i, doc in store.items()]
            return 200, {"hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits}}
        if method == "GET" and len(tail) == 1 and tail[0] in store:
            return 200, store[tail[0]]
        return 404, {"error": "not found"}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(params=[False, True], ids=["identity", "gzip"])
def ml_proxy(request):
    upstream = MlUpstream(zipped=request.param)
    with FaultProxy(upstream.url, lifetime=60) as running:
        yield running
    upstream.stop()


def _search_ids(session, url, kind):
    answer = session.post(url + "/_plugins/_ml/%s/_search" % kind, json={"query": {"match_all": {}}}, timeout=5).json()
    assert answer["hits"]["total"]["value"] == len(answer["hits"]["hits"])
    return [hit["_id"] for hit in answer["hits"]["hits"]]


@pytest.mark.parametrize("kind, create, key", [("connectors", "_create", "connector_id"),
                                               ("models", "_register", "model_id"),
                                               ("model_groups", "_register", "model_group_id")])
def test_search_lag_hides_a_new_object_from_searches_but_not_from_a_get(ml_proxy, session, kind, create, key):
    base = ml_proxy.url + "/_plugins/_ml/" + kind
    old = session.post(base + "/" + create, json={"name": "n"}, timeout=5).json()[key]
    ml_proxy.set_search_lag(0.6)
    new = session.post(base + "/" + create, json={"name": "n"}, timeout=5).json()[key]
    assert _search_ids(session, ml_proxy.url, kind) == [old]
    assert session.get(base + "/" + new, timeout=5).status_code == 200   # GET by ID is real time
    assert ml_proxy.hidden_hits == 1
    time.sleep(0.7)
    assert _search_ids(session, ml_proxy.url, kind) == [old, new]


def test_search_lag_counts_from_each_create_and_keeps_kinds_apart(ml_proxy, session):
    ml_proxy.set_search_lag(2.0)
    base = ml_proxy.url + "/_plugins/_ml/"
    first = session.post(base + "connectors/_create", json={}, timeout=5).json()["connector_id"]
    time.sleep(1.0)
    second = session.post(base + "connectors/_create", json={}, timeout=5).json()["connector_id"]
    group = session.post(base + "model_groups/_register", json={}, timeout=5).json()["model_group_id"]
    assert _search_ids(session, ml_proxy.url, "connectors") == []
    time.sleep(1.2)
    assert _search_ids(session, ml_proxy.url, "connectors") == [first]
    ml_proxy.set_search_lag(0)      # a new create is seen at once; the ones hidden stay hidden until their time
    third = session.post(base + "connectors/_create", json={}, timeout=5).json()["connector_id"]
    assert _search_ids(session, ml_proxy.url, "connectors") == [first, third]
    time.sleep(1.0)
    assert _search_ids(session, ml_proxy.url, "connectors") == [first, second, third]
    assert _search_ids(session, ml_proxy.url, "model_groups") == [group]


def test_without_search_lag_answers_pass_unchanged(ml_proxy, session):
    base = ml_proxy.url + "/_plugins/_ml/"
    made = session.post(base + "models/_register", json={}, timeout=5).json()["model_id"]
    assert _search_ids(session, ml_proxy.url, "models") == [made]
    assert ml_proxy.hidden_hits == 0


@pytest.mark.parametrize("path, kind", [
    ("/_plugins/_ml/models/aQxpSqIBGiC-XVXcC5ru", "model_get"),
    # generated IDs that start with "_" or "-": model reads all the same
    ("/_plugins/_ml/models/_QxpSqIBGiC-XVXcC5ru", "model_get"),
    ("/_plugins/_ml/models/-QxpSqIBGiC-XVXcC5ru", "model_get"),
    ("/_plugins/_ml/models/_QxpSqIBGiC-XVXcC5ru/_predict", "predict"),
    ("/_plugins/_ml/models/_search", "models"),
    ("/_plugins/_ml/models/_register", "models"),
    ("/_plugins/_ml/connectors/_search", "connectors"),
    ("/_cluster/settings?include_defaults=true", "settings"),
    ("/_cat/health", "other"),
])
def test_the_kind_of_object_a_request_reads_or_writes(path, kind):
    assert object_kind(path) == kind
