# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fault-injecting HTTP proxy for tests, between the collection's modules and OpenSearch.

Plain HTTP on 127.0.0.1 only, standard library only. It forwards each request to one upstream
(``http://127.0.0.1:<port>``, or ``https://127.0.0.1:<port>`` with ``ca_path``: the secure profile's node) unless a
rule says otherwise, and records every request.

Rules are chosen per request by method, a path regex (``re.search`` on the path with its query
string) and a count: the first ``times`` matching requests, or every ``every``-th one, or all
of them. The first rule that fires decides; every rule counts every request that matches it.
What a rule does (``action``):

``status``          answer ``status`` (429, 502, 503, 504, ...) without forwarding; ``retry_after``
                    adds a ``Retry-After`` header
``reset``           reset the connection (TCP RST) without forwarding
``forward_status``  forward, then answer ``status`` instead of the server's answer (a gateway
                    that lost the answer: the server acted)
``forward_reset``   forward, then reset the connection (the server acted, the answer is lost)
``hold``            forward, then keep the answer for ``hold_seconds`` (or until
                    :meth:`Rule.release`) before sending it: past the client's read timeout
``hold_before``     keep the request for ``hold_seconds`` (or until released), then forward it
``delay``           forward, then wait ``delay_ms`` before answering (slow every answer)

Use it in-process from a test::

    with FaultProxy("http://127.0.0.1:9250") as proxy:
        rule = proxy.add_rule("forward_reset", method="POST", path=r"/_create$", times=1)
        ... point the client at proxy.url ...
        assert rule.fired == 1
        assert [r.status for r in proxy.records(path=r"/_create$")] == [None, 200]

Searches can be made to lag behind creates, as on a busy node (:meth:`FaultProxy.set_search_lag`):
the ID in the answer of every ``connectors/_create``, ``models/_register`` and ``model_groups/_register``
is left out of the hits of the ``_search`` of its kind for ``seconds`` after the answer; a GET by ID
finds it at once, as the node's real-time GET does.

Everything is bounded: a held request waits at most ``hold_seconds`` (capped at ``MAX_HOLD``), an
upstream call at most ``upstream_timeout``, an idle client connection at most ``idle_timeout``,
and the proxy stops by itself after ``lifetime`` seconds. :meth:`FaultProxy.stop` releases every
held request and closes every client connection.

``python tests/tools/fault_proxy.py --upstream http://127.0.0.1:9250 --rule '{"action": "delay",
"delay_ms": 200}'`` runs one from a shell (port 19255 unless ``--port`` says otherwise).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import re
import socket
import ssl
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ACTIONS = ("status", "reset", "forward_status", "forward_reset", "hold", "hold_before", "delay")
FORWARDING = ("forward_status", "forward_reset", "hold", "hold_before", "delay")
HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "transfer-encoding", "upgrade"))
MAX_HOLD = 300.0
MAX_BODY = 64 * 1024 * 1024
MAX_CHUNKS = 100000
DEFAULT_PORT = 19255
# The creates whose new object a search lag hides, and the search of its kind: (create path, ID key, search path).
LAGGED_CREATES = (
    (re.compile(r"^/_plugins/_ml/connectors/_create(?:\?|$)"), "connector_id",
     re.compile(r"^/_plugins/_ml/connectors/_search(?:\?|$)")),
    (re.compile(r"^/_plugins/_ml/models/_register(?:\?|$)"), "model_id",
     re.compile(r"^/_plugins/_ml/models/_search(?:\?|$)")),
    (re.compile(r"^/_plugins/_ml/model_groups/_register(?:\?|$)"), "model_group_id",
     re.compile(r"^/_plugins/_ml/model_groups/_search(?:\?|$)")),
)
REASONS = {429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class Rule:
    """One fault: which requests (method, path regex, count) and what happens to them.

    ``on_fire(record)``, when given, is called in the proxy's thread when the rule fires (for
    ``hold``: once the server has answered and the answer is held), before :meth:`wait_fired`
    returns; a test can, for example, kill the client there.
    """

    def __init__(self, action, method=None, path=None, times=None, every=None, status=None,
                 retry_after=None, hold_seconds=30.0, delay_ms=0, on_fire=None, name=None):
        if action not in ACTIONS:
            raise ValueError("action must be one of %s, not %r" % (", ".join(ACTIONS), action))
        if action in ("status", "forward_status") and not status:
            raise ValueError("action %s needs a status" % action)
        if times is not None and every is not None:
            raise ValueError("give times or every, not both")
        if every is not None and every < 1:
            raise ValueError("every must be 1 or more")
        self.action = action
        self.method = method.upper() if method else None
        self.path = re.compile(path) if path else None
        self.times = times
        self.every = every
        self.status = status
        self.retry_after = retry_after
        self.hold_seconds = min(float(hold_seconds), MAX_HOLD)
        self.delay_ms = delay_ms
        self.on_fire = on_fire
        self.name = name or "%s %s %s" % (action, self.method or "*", path or ".*")
        self.matched = 0
        self.fired = 0
        self._fired_event = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()

    def matches(self, method, path):
        return (self.method is None or self.method == method) and (self.path is None or bool(self.path.search(path)))

    def take(self, method, path):
        """Count a request; True when this rule is due to fire for it (``fired`` counts only the
        requests it then decided, the first due rule deciding)."""
        if not self.matches(method, path):
            return False
        with self._lock:
            self.matched += 1
            if self.times is not None:
                fire = self.matched <= self.times
            elif self.every is not None:
                fire = self.matched % self.every == 0
            else:
                fire = True
        return fire

    def _count_fired(self):
        with self._lock:
            self.fired += 1

    def wait_fired(self, timeout):
        """Wait until the rule has fired; True if it did. For ``hold`` that is once the server has
        answered and the answer is being held."""
        return self._fired_event.wait(timeout)

    def release(self):
        """Let every request this rule holds go on, now and from now on."""
        self._released.set()

    def hold(self):
        self._released.wait(self.hold_seconds)

    def __repr__(self):
        return "Rule(%s, matched=%d, fired=%d)" % (self.name, self.matched, self.fired)


# The kind of object a request reads or writes, by its path: how the tests count the requests of a run. A
# generated ID may start with "_" or "-" (URL-safe base64 of the generator's sequence byte), so the endpoints
# under models/ are told from a model's ID by their names.
OBJECT_KINDS = (
    ("predict", re.compile(r"^/_plugins/_ml/models/[^/]+/_predict")),
    ("model_get", re.compile(r"^/_plugins/_ml/models/(?!_search$|_register$)[^/]+$")),
    ("settings", re.compile(r"^/_cluster/settings")),
    ("connectors", re.compile(r"^/_plugins/_ml/connectors")),
    ("model_groups", re.compile(r"^/_plugins/_ml/model_groups")),
    ("models", re.compile(r"^/_plugins/_ml/models")),
    ("tasks", re.compile(r"^/_plugins/_ml/tasks")),
    ("ingest_pipelines", re.compile(r"^/_ingest/pipeline")),
    ("search_pipelines", re.compile(r"^/_search/pipeline")),
)


def object_kind(path):
    """The first of :data:`OBJECT_KINDS` whose pattern matches ``path``, else ``other``."""
    return next((kind for kind, pattern in OBJECT_KINDS if pattern.search(path)), "other")


class Record:
    """What happened to one request."""

    __slots__ = ("method", "path", "rule", "action", "forwarded", "upstream_status", "status", "started",
                 "seconds", "client_gone", "error")

    def __init__(self, method, path, rule, action, started):
        self.method = method
        self.path = path
        self.rule = rule
        self.action = action
        self.forwarded = False
        self.upstream_status = None
        self.status = None
        self.started = started
        self.seconds = None
        self.client_gone = False
        self.error = None

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self):
        return "Record(%s %s %s forwarded=%s status=%s)" % (
            self.method, self.path, self.action, self.forwarded, self.status)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault-proxy"
    sys_version = ""

    def setup(self):
        self.timeout = self.server.proxy.idle_timeout
        super().setup()
        # an answer goes out as headers then body: without TCP_NODELAY the body waits for the
        # client's delayed ACK of the headers (40 ms on Linux), which a real server does not add
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.proxy._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        self.server.proxy._track(self.connection, False)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, socket.timeout):
            self.close_connection = True

    def do_GET(self):  # noqa: N802 - the names http.server dispatches to
        self.server.proxy._handle(self)

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            for _count in range(MAX_CHUNKS):
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            raise ValueError("too many chunks")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    # -- answers ---------------------------------------------------------------------------
    def send_answer(self, status, headers, body, record):
        # recorded before the client can see the answer, so a test that got it finds the record complete
        record.status = status
        record.seconds = time.monotonic() - record.started
        try:
            self.send_response(status, REASONS.get(status))
            for key, value in headers:
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            record.client_gone = True
            self.close_connection = True

    def reset(self, record):
        """Close the client connection with a TCP RST (no answer at all)."""
        record.seconds = time.monotonic() - record.started
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True
        # nothing more may be written to the closed socket
        self.wfile = _Discard()


class _Discard:
    def write(self, data):
        return len(data)

    def flush(self):
        pass

    def close(self):
        pass

    @property
    def closed(self):
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, proxy):
        self.proxy = proxy
        super().__init__(address, _Handler)


class FaultProxy:
    """The proxy; ``url`` is where clients connect, ``upstream`` where requests go."""

    def __init__(self, upstream, port=0, lifetime=900.0, upstream_timeout=120.0, idle_timeout=60.0, ca_path=None):
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError("upstream must be http(s)://127.0.0.1:<port>, not %r" % upstream)
        if parts.scheme == "https" and not ca_path:
            raise ValueError("an https upstream needs ca_path, the CA that signed the node's certificate")
        self.upstream = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        # an https node (the secure profile) is reached over TLS that verifies its certificate with ca_path; the
        # client side stays plain HTTP on loopback, and the client's Authorization header is forwarded as it is
        self._tls = ssl.create_default_context(cafile=ca_path) if parts.scheme == "https" else None
        self.lifetime = lifetime
        self.upstream_timeout = upstream_timeout
        self.idle_timeout = idle_timeout
        self._rules = []
        self._records = []
        self._lock = threading.Lock()
        self._connections = set()
        self._server = _Server(("127.0.0.1", port), self)
        self.port = self._server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self._thread = None
        self._timer = None
        self._stopped = threading.Event()
        self.search_lag = 0.0
        self._fresh = {}          # kind index -> {object ID: monotonic time it reaches searches}
        self.hidden_hits = 0      # search hits the lag left out

    # -- life --------------------------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fault-proxy-%d" % self.port, daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self):
        """Stop serving, release every held request and close every client connection (idempotent)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            rules = list(self._rules)
            connections = list(self._connections)
        for rule in rules:
            rule.release()
        if self._thread is not None:
            self._server.shutdown()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def running(self):
        return self._thread is not None and not self._stopped.is_set()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _track(self, connection, open_):
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # -- rules -------------------------------------------------------------------------------
    def add_rule(self, action, **options):
        """Add a rule (see :class:`Rule` for the options) after the existing ones; returns it."""
        rule = Rule(action, **options)
        with self._lock:
            self._rules.append(rule)
        if self._stopped.is_set():
            rule.release()
        return rule

    def set_search_lag(self, seconds):
        """Hide each object a create makes from the searches of its kind for ``seconds`` after the create's
        answer (0: no lag; objects already hidden stay hidden until their time)."""
        with self._lock:
            self.search_lag = max(0.0, float(seconds))

    def _lag(self, method, path, status, headers, answer):
        """Note the ID a create answered, or leave the IDs still too new out of a search's hits (an answer
        the node gzipped is read, and written back, gzipped)."""
        if method != "POST" or not 200 <= status < 300:
            return answer
        zipped = any(k.lower() == "content-encoding" and "gzip" in v.lower() for k, v in headers)
        now = time.monotonic()
        for kind, (create, key, search) in enumerate(LAGGED_CREATES):
            if create.search(path):
                with self._lock:
                    lag = self.search_lag
                if lag > 0:
                    object_id = _json(answer, zipped).get(key)
                    if object_id:
                        with self._lock:
                            self._fresh.setdefault(kind, {})[str(object_id)] = now + lag
                return answer
            if search.search(path):
                with self._lock:
                    fresh = self._fresh.get(kind) or {}
                    for object_id in [i for i, until in fresh.items() if until <= now]:
                        del fresh[object_id]
                    hidden = set(fresh)
                if not hidden:
                    return answer
                data = _json(answer, zipped)
                hits = (data.get("hits") or {}) if isinstance(data.get("hits"), dict) else {}
                kept = [hit for hit in hits.get("hits") or [] if str(hit.get("_id")) not in hidden]
                dropped = len(hits.get("hits") or []) - len(kept)
                if not dropped:
                    return answer
                hits["hits"] = kept
                if isinstance(hits.get("total"), dict):
                    hits["total"]["value"] = max(0, int(hits["total"].get("value") or 0) - dropped)
                with self._lock:
                    self.hidden_hits += dropped
                text = json.dumps(data).encode("utf-8")
                return gzip.compress(text) if zipped else text
        return answer

    def clear_rules(self):
        """Remove every rule and release what they hold."""
        with self._lock:
            rules, self._rules = self._rules, []
        for rule in rules:
            rule.release()

    def rules(self):
        with self._lock:
            return list(self._rules)

    # -- records -----------------------------------------------------------------------------
    def records(self, method=None, path=None, since=0):
        """The records from index ``since`` on, optionally only those of a method and a path regex."""
        pattern = re.compile(path) if path else None
        with self._lock:
            found = list(self._records[since:])
        return [r for r in found if (method is None or r.method == method.upper())
                and (pattern is None or pattern.search(r.path))]

    def mark(self):
        """The index the next request's record gets (for ``records(since=...)``)."""
        with self._lock:
            return len(self._records)

    def clear_records(self):
        with self._lock:
            self._records = []

    # -- one request -------------------------------------------------------------------------
    def _choose(self, method, path):
        with self._lock:
            rules = list(self._rules)
        chosen = None
        for rule in rules:
            # every rule counts every request it matches, also when an earlier rule decides
            if rule.take(method, path) and chosen is None:
                chosen = rule
        if chosen is not None:
            chosen._count_fired()
        return chosen

    def _handle(self, handler):
        method, path = handler.command.upper(), handler.path
        started = time.monotonic()
        try:
            body = handler._read_body()
        except (ValueError, OSError) as exc:
            record = self._record(Record(method, path, None, "bad_request", started))
            record.error = str(exc)
            handler.close_connection = True
            handler.send_answer(400, [("Content-Type", "text/plain")], b"bad request", record)
            return
        rule = self._choose(method, path)
        action = rule.action if rule else "forward"
        record = self._record(Record(method, path, rule.name if rule else None, action, started))
        try:
            self._act(handler, rule, action, method, path, body, record)
        finally:
            if record.seconds is None:
                record.seconds = time.monotonic() - started

    def _record(self, record):
        with self._lock:
            self._records.append(record)
        return record

    @staticmethod
    def _fire(rule, record):
        """The rule's effect is in place (a held answer: the server has answered): tell the test."""
        if rule.on_fire is not None:
            try:
                rule.on_fire(record)
            except Exception as exc:  # pylint: disable=broad-except
                record.error = "on_fire: %s" % exc
        rule._fired_event.set()

    def _act(self, handler, rule, action, method, path, body, record):
        if rule is not None and action != "hold":
            self._fire(rule, record)
        if action == "status":
            headers = [("Content-Type", "application/json")]
            if rule.retry_after is not None:
                headers.append(("Retry-After", str(rule.retry_after)))
            handler.send_answer(rule.status, headers, _error_body(rule.status), record)
            return
        if action == "reset":
            handler.reset(record)
            return
        if action == "hold_before":
            rule.hold()
        if self._stopped.is_set():
            handler.reset(record)
            return
        try:
            status, headers, answer = self._forward(method, path, handler.headers, body)
            answer = self._lag(method, path, status, headers, answer)
        except OSError as exc:
            record.error = "upstream: %s" % exc
            handler.send_answer(502, [("Content-Type", "application/json")], _error_body(502), record)
            return
        record.forwarded = True
        record.upstream_status = status
        if action == "forward_status":
            handler.send_answer(rule.status, [("Content-Type", "application/json")], _error_body(rule.status),
                                record)
        elif action == "forward_reset":
            handler.reset(record)
        else:
            if action == "hold":
                self._fire(rule, record)
                rule.hold()
            elif action == "delay":
                time.sleep(min(rule.delay_ms / 1000.0, MAX_HOLD))
            handler.send_answer(status, headers, answer, record)

    def _forward(self, method, path, headers, body):
        if self._tls is not None:
            connection = http.client.HTTPSConnection(self.upstream[0], self.upstream[1], timeout=self.upstream_timeout,
                                                     context=self._tls)
        else:
            connection = http.client.HTTPConnection(self.upstream[0], self.upstream[1],
                                                    timeout=self.upstream_timeout)
        try:
            outgoing = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
            outgoing["Host"] = "%s:%d" % self.upstream
            outgoing["Connection"] = "close"
            if body or method in ("POST", "PUT", "PATCH"):
                outgoing["Content-Length"] = str(len(body))
            connection.request(method, path, body=body or None, headers=outgoing)
            response = connection.getresponse()
            answer = response.read()
            return response.status, response.getheaders(), answer
        finally:
            connection.close()


def _json(body, zipped=False):
    try:
        data = json.loads((gzip.decompress(body) if zipped else body).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, AttributeError, OSError, EOFError):
        return {}
    return data if isinstance(data, dict) else {}


def _error_body(status):
    reason = REASONS.get(status, "error")
    return json.dumps({"error": {"type": "fault_proxy", "reason": "%d %s (injected by the fault proxy)" % (
        status, reason)}, "status": status}).encode("utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the fault proxy in the foreground.")
    parser.add_argument("--upstream", required=True, help="http(s)://127.0.0.1:<port> of the node")
    parser.add_argument("--ca-path", help="the CA of an https node")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--lifetime", type=float, default=3600.0, help="seconds until it stops by itself")
    parser.add_argument("--rule", action="append", default=[], help="a rule as JSON: {\"action\": ..., ...}")
    parser.add_argument("--search-lag", type=float, default=0.0,
                        help="seconds a new connector, model or model group stays out of searches")
    args = parser.parse_args(argv)
    proxy = FaultProxy(args.upstream, port=args.port, lifetime=args.lifetime, ca_path=args.ca_path)
    for text in args.rule:
        options = json.loads(text)
        proxy.add_rule(options.pop("action"), **options)
    proxy.set_search_lag(args.search_lag)
    proxy.start()
    print("fault proxy on %s -> http://%s:%d, stops in %.0f s" % (
        proxy.url, proxy.upstream[0], proxy.upstream[1], args.lifetime), flush=True)
    try:
        while proxy.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
        for record in proxy.records():
            print(json.dumps(record.as_dict(), sort_keys=True))


if __name__ == "__main__":
    main()
