"""Local stand-in for the model APIs that PolarSearch connectors call.

It speaks just enough of three wire formats to exercise ML Commons remote
models end to end without leaving the machine:

* OpenAI-compatible embeddings and chat completions, under the DashScope
  compatible-mode prefix (``/compatible-mode/v1/...``) and under ``/v1/...``;
* DashScope text rerank (``/api/v1/services/rerank/text-rerank/text-rerank``);
* a Cohere/Jina-style rerank at ``/v1/rerank`` for self-hosted presets.

Embeddings are deterministic hashed-feature vectors (word tokens and character
trigrams, signed hashing, L2-normalised), so similar texts get a higher cosine
similarity than unrelated ones. Rerank scores are that cosine similarity
clipped into [0, 1]. Chat replies are a deterministic function of the last
user message.

Test helpers (no API key needed, loopback only):

* ``GET /health``
* ``POST /admin/faults`` ``{"status": 500, "count": 2, "path": "/v1/..."}`` or
  ``{"delay_ms": 250}``; ``GET /admin/faults``; ``DELETE /admin/faults``
* ``GET /admin/requests[?limit=N]`` / ``DELETE /admin/requests``
* per-request header ``X-Fault: 500`` / ``429`` / ``delay=<ms>`` (comma
  separated directives may be combined, e.g. ``delay=200,503``)

Standard library only; runs on Python 3.8+ (developed against 3.11).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import ipaddress
import json
import math
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 18080
DEFAULT_API_KEY = "local-dev-key-0001"
DEFAULT_DIMENSIONS = 1024
MAX_DIMENSIONS = 8192
MAX_BODY_BYTES = 16 * 1024 * 1024
REQUEST_LOG_SIZE = 500

EMBEDDING_PATHS = ("/compatible-mode/v1/embeddings", "/v1/embeddings")
CHAT_PATHS = ("/compatible-mode/v1/chat/completions", "/v1/chat/completions")
DASHSCOPE_RERANK_PATH = "/api/v1/services/rerank/text-rerank/text-rerank"
SIMPLE_RERANK_PATHS = ("/v1/rerank", "/compatible-mode/v1/rerank")

_WORD_RE = re.compile(r"\w+", re.UNICODE)

_STOPWORDS = frozenset(
    """a an and are as at be but by do does for from has have how i in is it its
    me my of on or our please so that the their them then there these this to
    us was we were what when where which who why will with you your""".split()
)


# --------------------------------------------------------------------------
# Deterministic text features
# --------------------------------------------------------------------------

def tokenize(text: str) -> list:
    """Lower-cased word tokens."""
    return _WORD_RE.findall(text.lower())


def _features(text: str):
    """Yield (feature, weight) pairs: words and character trigrams."""
    for word in tokenize(text):
        yield "w:" + word, 1.0
        padded = "#" + word + "#"
        if len(padded) >= 3:
            for i in range(len(padded) - 2):
                yield "c:" + padded[i:i + 3], 0.5


def embed(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list:
    """Signed feature hashing into ``dimensions`` buckets, L2-normalised.

    An input without any word character gives the zero vector.
    """
    vec = [0.0] * dimensions
    for feature, weight in _features(text):
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "big")
        bucket = value % dimensions
        sign = 1.0 if (value >> 63) & 1 else -1.0
        vec[bucket] += sign * weight
    norm = math.sqrt(sum(v * v for v in vec))
    if norm > 0:
        vec = [v / norm for v in vec]
    return vec


def cosine(a: list, b: list) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    if na == 0 or nb == 0:
        return 0.0
    return dot / (na * nb)


def relevance(query: str, document: str) -> float:
    """Cosine similarity of the hashed embeddings, clipped into [0, 1]."""
    score = cosine(embed(query), embed(document))
    return round(min(1.0, max(0.0, score)), 6)


def count_tokens(text: str) -> int:
    return len(tokenize(text))


def chat_reply(text: str) -> str:
    """A deterministic, non-empty reply derived from ``text``."""
    words = tokenize(text)
    keywords = []
    for word in words:
        if word in _STOPWORDS or word in keywords:
            continue
        keywords.append(word)
        if len(keywords) == 8:
            break
    snippet = " ".join(text.split())
    if len(snippet) > 200:
        snippet = snippet[:197] + "..."
    if not snippet:
        return "Local model reply: the last user message was empty."
    reply = 'Local model reply to "%s".' % snippet
    if keywords:
        reply += " Key words: " + ", ".join(keywords) + "."
    return reply


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, status: int, message: str, err_type: str = "invalid_request_error",
                 code=None, param=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.err_type = err_type
        self.code = code
        self.param = param


_DASHSCOPE_CODES = {
    400: "InvalidParameter",
    401: "InvalidApiKey",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "RequestTooLarge",
    429: "Throttling",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
}


def error_body(path: str, status: int, message: str, err_type: str, code=None, param=None) -> dict:
    """OpenAI-style error JSON. The DashScope native path additionally carries
    DashScope's top-level ``code``/``message``/``request_id`` fields."""
    body = {"error": {"message": message, "type": err_type, "param": param, "code": code}}
    if path == DASHSCOPE_RERANK_PATH:
        body["code"] = _DASHSCOPE_CODES.get(status, "Error")
        body["message"] = message
        body["request_id"] = str(uuid.uuid4())
    return body


def _status_error(status: int):
    if status == 429:
        return ("Rate limit reached for requests (injected fault).", "rate_limit_error",
                "rate_limit_exceeded")
    if status == 401:
        return ("Incorrect API key provided (injected fault).", "invalid_request_error",
                "invalid_api_key")
    if 400 <= status < 500:
        return ("Injected fault: HTTP %d." % status, "invalid_request_error", None)
    return ("The server had an error while processing your request (injected fault).",
            "server_error", None)


# --------------------------------------------------------------------------
# Request validation helpers
# --------------------------------------------------------------------------

def _require_str(value, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ApiError(400, "'%s' is required and must be a non-empty string." % name, param=name)
    return value


def _text_list(value, name: str) -> list:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        out = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict) and isinstance(item.get("text"), str):
                out.append(item["text"])
            else:
                raise ApiError(400, "'%s' must be a string or a list of strings." % name,
                               param=name)
        return out
    raise ApiError(400, "'%s' must be a string or a non-empty list of strings." % name, param=name)


def _optional_int(value, name: str, minimum: int = 1, maximum=None):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "'%s' must be an integer." % name, param=name)
    if value < minimum or (maximum is not None and value > maximum):
        raise ApiError(400, "'%s' must be between %d and %s." % (name, minimum, maximum or "inf"),
                       param=name)
    return value


def _message_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return " ".join(parts)
    return ""


# --------------------------------------------------------------------------
# Endpoint implementations (pure functions of the parsed request body)
# --------------------------------------------------------------------------

def handle_embeddings(body: dict) -> dict:
    model = _require_str(body.get("model"), "model")
    texts = _text_list(body.get("input"), "input")
    dims = _optional_int(body.get("dimensions"), "dimensions", 1, MAX_DIMENSIONS) or DEFAULT_DIMENSIONS
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64", None):
        raise ApiError(400, "'encoding_format' must be 'float' or 'base64'.", param="encoding_format")
    data = []
    tokens = 0
    for i, text in enumerate(texts):
        vec = embed(text, dims)
        tokens += count_tokens(text)
        if fmt == "base64":
            emb = base64.b64encode(struct.pack("<%df" % len(vec), *vec)).decode("ascii")
        else:
            emb = vec
        data.append({"object": "embedding", "index": i, "embedding": emb})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        "id": "emb-" + uuid.uuid4().hex[:24],
    }


def _rank(query: str, documents: list, top_n):
    scored = [(relevance(query, doc), i) for i, doc in enumerate(documents)]
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    if top_n is not None:
        scored = scored[:top_n]
    tokens = count_tokens(query) * len(documents) + sum(count_tokens(d) for d in documents)
    return scored, tokens


def handle_dashscope_rerank(body: dict) -> dict:
    _require_str(body.get("model"), "model")
    inp = body.get("input")
    if not isinstance(inp, dict):
        raise ApiError(400, "'input' must be an object with 'query' and 'documents'.", param="input")
    query = inp.get("query")
    if isinstance(query, dict):
        query = query.get("text")
    query = _require_str(query, "input.query")
    documents = _text_list(inp.get("documents"), "input.documents")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise ApiError(400, "'parameters' must be an object.", param="parameters")
    top_n = _optional_int(params.get("top_n"), "parameters.top_n")
    return_documents = params.get("return_documents", False)
    results, tokens = _rerank_results(query, documents, top_n, return_documents)
    return {
        "output": {"results": results},
        "usage": {"total_tokens": tokens},
        "request_id": str(uuid.uuid4()),
    }


def _rerank_results(query, documents, top_n, return_documents):
    """Results sorted by relevance, each with its index (and its text when asked for)."""
    scored, tokens = _rank(query, documents, top_n)
    results = []
    for score, i in scored:
        item = {"index": i, "relevance_score": score}
        if return_documents:
            item["document"] = {"text": documents[i]}
        results.append(item)
    return results, tokens


def handle_simple_rerank(body: dict) -> dict:
    model = body.get("model")
    query = _require_str(body.get("query"), "query")
    documents = _text_list(body.get("documents"), "documents")
    top_n = _optional_int(body.get("top_n"), "top_n")
    return_documents = body.get("return_documents", False)
    results, tokens = _rerank_results(query, documents, top_n, return_documents)
    out = {"id": "rerank-" + uuid.uuid4().hex[:24], "results": results,
           "usage": {"total_tokens": tokens}}
    if model is not None:
        out["model"] = model
    return out


def handle_chat(body: dict) -> dict:
    model = _require_str(body.get("model"), "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list.", param="messages")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ApiError(400, "each message needs a 'role'.", param="messages")
    if body.get("stream"):
        raise ApiError(400, "'stream' is not supported by the local model service.", param="stream")
    last_user = ""
    for m in reversed(messages):
        if m.get("role") == "user":
            last_user = _message_text(m.get("content"))
            break
    reply = chat_reply(last_user)
    prompt_tokens = sum(count_tokens(_message_text(m.get("content"))) for m in messages)
    completion_tokens = count_tokens(reply)
    digest = hashlib.sha1(json.dumps(messages, sort_keys=True).encode("utf-8")).hexdigest()
    return {
        "id": "chatcmpl-" + digest[:24],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply},
            "finish_reason": "stop",
            "logprobs": None,
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


ROUTES = {}
for _p in EMBEDDING_PATHS:
    ROUTES[_p] = handle_embeddings
for _p in CHAT_PATHS:
    ROUTES[_p] = handle_chat
for _p in SIMPLE_RERANK_PATHS:
    ROUTES[_p] = handle_simple_rerank
ROUTES[DASHSCOPE_RERANK_PATH] = handle_dashscope_rerank


# --------------------------------------------------------------------------
# Shared state: faults and request log
# --------------------------------------------------------------------------

class ServiceState:
    def __init__(self, api_key: str, log_size: int = REQUEST_LOG_SIZE):
        self.api_key = api_key
        self.lock = threading.Lock()
        self.requests = deque(maxlen=log_size)
        self.seq = 0
        self.fault = None  # dict(status, delay_ms, remaining, path)

    # faults
    def set_fault(self, spec: dict) -> dict:
        status = spec.get("status")
        delay = spec.get("delay_ms")
        count = spec.get("count")
        path = spec.get("path")
        if status is None and delay is None:
            raise ApiError(400, "give 'status' and/or 'delay_ms'.")
        if status is not None:
            if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
                raise ApiError(400, "'status' must be an integer between 400 and 599.")
        if delay is not None:
            if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0 \
                    or delay > 600000:
                raise ApiError(400, "'delay_ms' must be a number between 0 and 600000.")
        if count is not None:
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ApiError(400, "'count' must be a positive integer.")
        if path is not None and not isinstance(path, str):
            raise ApiError(400, "'path' must be a string.")
        with self.lock:
            self.fault = {"status": status, "delay_ms": delay, "remaining": count, "path": path}
            return dict(self.fault)

    def clear_fault(self):
        with self.lock:
            self.fault = None

    def get_fault(self):
        with self.lock:
            return dict(self.fault) if self.fault else None

    def take_fault(self, path: str):
        """Return (status, delay_ms) for this request and consume one count."""
        with self.lock:
            f = self.fault
            if not f:
                return None, None
            if f["path"] and not path.startswith(f["path"]):
                return None, None
            if f["remaining"] is not None:
                f["remaining"] -= 1
                if f["remaining"] <= 0:
                    self.fault = None
            return f["status"], f["delay_ms"]

    # request log
    def record(self, entry: dict) -> dict:
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.requests.append(entry)
            return entry

    def list_requests(self, limit=None):
        with self.lock:
            items = list(self.requests)
        if limit is not None:
            items = items[-limit:] if limit > 0 else []
        return items

    def clear_requests(self):
        with self.lock:
            self.requests.clear()


def parse_fault_header(value: str):
    """``500`` / ``429`` / ``delay=<ms>``, comma separated. Returns (status, delay_ms)."""
    status = None
    delay = None
    for part in value.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part.startswith("delay="):
            try:
                delay = float(part[len("delay="):])
            except ValueError:
                raise ApiError(400, "bad X-Fault delay: %r" % part)
            if delay < 0 or delay > 600000:
                raise ApiError(400, "X-Fault delay must be between 0 and 600000 ms")
        elif part.isdigit() and 400 <= int(part) <= 599:
            status = int(part)
        else:
            raise ApiError(400, "bad X-Fault directive: %r (use 500, 429 or delay=<ms>)" % part)
    return status, delay


# --------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "polarsearch-local-model-service/1.0"

    # quiet by default; the server owner may turn logging on
    def log_message(self, fmt, *args):  # noqa: N802 (stdlib name)
        if getattr(self.server, "verbose", False):
            sys.stderr.write("%s - - [%s] %s\n" % (
                self.address_string(), self.log_date_time_string(), fmt % args))

    @property
    def state(self) -> ServiceState:
        return self.server.state  # type: ignore[attr-defined]

    # --- body -------------------------------------------------------------
    def _read_body(self) -> bytes:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until blank line
                    while True:
                        trailer = self.rfile.readline(65537)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if total > MAX_BODY_BYTES:
                    raise ApiError(413, "request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ApiError(413, "request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _send_json(self, status: int, payload, extra_headers=None):
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    # --- auth -------------------------------------------------------------
    def _auth(self):
        """Return (present, matched)."""
        value = self.headers.get("Authorization")
        if value is None:
            return False, False
        scheme, _sep, token = value.strip().partition(" ")
        if scheme.lower() != "bearer":
            return True, False
        return True, hmac.compare_digest(token.strip().encode("utf-8"),
                                         self.state.api_key.encode("utf-8"))

    def _safe_headers(self, matched: bool) -> dict:
        out = {}
        for name, value in self.headers.items():
            if name.lower() == "authorization":
                value = "[redacted; matched=%s]" % ("true" if matched else "false")
            if name in out:
                out[name] = out[name] + ", " + value
            else:
                out[name] = value
        return out

    # --- dispatch ---------------------------------------------------------
    def do_GET(self):  # noqa: N802
        self._dispatch("GET")

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self):  # noqa: N802
        self._dispatch("DELETE")

    def do_PUT(self):  # noqa: N802
        self._dispatch("PUT")

    def do_HEAD(self):  # noqa: N802
        self._dispatch("HEAD")

    def _dispatch(self, method: str):
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        try:
            raw = self._read_body()
        except ApiError as exc:
            self.close_connection = True
            self._send_json(exc.status, error_body(path, exc.status, exc.message, exc.err_type))
            return
        except (ValueError, OSError):
            self.close_connection = True
            self._send_json(400, error_body(path, 400, "could not read request body",
                                            "invalid_request_error"))
            return
        if path == "/health" or path.startswith("/admin/") or path == "/admin":
            self._handle_admin(method, path, split.query, raw)
            return
        self._handle_api(method, path, split.query, raw)

    # --- admin ------------------------------------------------------------
    def _handle_admin(self, method, path, query, raw):
        try:
            if path == "/health":
                if method not in ("GET", "HEAD"):
                    raise ApiError(405, "method not allowed")
                self._send_json(200, {"status": "ok"})
                return
            if path == "/admin/faults":
                if method == "GET":
                    self._send_json(200, {"fault": self.state.get_fault()})
                elif method == "POST":
                    spec = _parse_json(raw)
                    if not isinstance(spec, dict):
                        raise ApiError(400, "body must be a JSON object")
                    self._send_json(200, {"fault": self.state.set_fault(spec)})
                elif method == "DELETE":
                    self.state.clear_fault()
                    self._send_json(200, {"fault": None})
                else:
                    raise ApiError(405, "method not allowed")
                return
            if path == "/admin/requests":
                if method == "GET":
                    limit = None
                    qs = parse_qs(query)
                    if "limit" in qs:
                        try:
                            limit = int(qs["limit"][0])
                        except ValueError:
                            raise ApiError(400, "limit must be an integer")
                    items = self.state.list_requests(limit)
                    self._send_json(200, {"count": len(items), "requests": items})
                elif method == "DELETE":
                    self.state.clear_requests()
                    self._send_json(200, {"count": 0, "requests": []})
                else:
                    raise ApiError(405, "method not allowed")
                return
            raise ApiError(404, "unknown admin path %s" % path)
        except ApiError as exc:
            self._send_json(exc.status, error_body(path, exc.status, exc.message, exc.err_type))

    # --- model API --------------------------------------------------------
    def _handle_api(self, method, path, query, raw):
        present, matched = self._auth()
        body = None
        body_text = None
        if raw:
            try:
                body = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                body_text = raw.decode("utf-8", "replace")
        entry = {
            "time": time.time(),
            "method": method,
            "path": path,
            "query": query,
            "headers": self._safe_headers(matched),
            "auth": {"present": present, "matched": matched},
            "body": body,
        }
        if body_text is not None:
            entry["body_text"] = body_text
        self.state.record(entry)

        status, payload = self._compute(method, path, raw, body, body_text, present, matched)
        entry["status"] = status
        self._send_json(status, payload)

    def _compute(self, method, path, raw, body, body_text, present, matched):
        try:
            handler = ROUTES.get(path)
            if handler is None:
                raise ApiError(404, "Unknown request URL: %s %s." % (method, path),
                               code="unknown_url")
            if method != "POST":
                raise ApiError(405, "Method %s not allowed for %s; use POST." % (method, path))
            if not present:
                raise ApiError(401, "You didn't provide an API key. Send it as "
                               "'Authorization: Bearer <key>'.", code="invalid_api_key")
            if not matched:
                raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")

            # faults: header first, then the admin-configured fault
            h_status, h_delay = (None, None)
            header = self.headers.get("X-Fault")
            if header:
                h_status, h_delay = parse_fault_header(header)
            a_status, a_delay = self.state.take_fault(path)
            delay = sum(d for d in (h_delay, a_delay) if d)
            if delay:
                time.sleep(delay / 1000.0)
            fault_status = h_status or a_status
            if fault_status:
                msg, err_type, code = _status_error(fault_status)
                raise ApiError(fault_status, msg, err_type, code=code)

            if body_text is not None or not raw:
                raise ApiError(400, "We could not parse the JSON body of your request.")
            if not isinstance(body, dict):
                raise ApiError(400, "The request body must be a JSON object.")
            return 200, handler(body)
        except ApiError as exc:
            return exc.status, error_body(path, exc.status, exc.message, exc.err_type,
                                          exc.code, exc.param)
        except Exception as exc:  # pragma: no cover - defensive
            return 500, error_body(path, 500, "internal error: %s" % exc, "server_error")


def _parse_json(raw: bytes):
    if not raw:
        raise ApiError(400, "a JSON body is required")
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "body is not valid JSON")


# --------------------------------------------------------------------------
# Server construction
# --------------------------------------------------------------------------

def resolve_loopback(host: str) -> str:
    """Return a loopback IP literal for ``host`` or raise ValueError."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError("host must be a loopback IP address (127.0.0.0/8 or ::1), got %r" % host)
    if not addr.is_loopback:
        raise ValueError("refusing to bind to non-loopback address %s" % host)
    return str(addr)


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, api_key: str, verbose: bool = False):
        host = resolve_loopback(host)
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.state = ServiceState(api_key)
        self.verbose = verbose
        super().__init__((host, port), Handler)


def make_server(host: str = DEFAULT_HOST, port: int = 0, api_key: str = DEFAULT_API_KEY,
                verbose: bool = False) -> ModelServer:
    if not api_key:
        raise ValueError("an API key is required")
    return ModelServer(host, port, api_key, verbose)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="loopback address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MODEL_SERVICE_PORT",
                                                                       DEFAULT_PORT)),
                        help="port (default $MODEL_SERVICE_PORT or %d)" % DEFAULT_PORT)
    parser.add_argument("--api-key", default=os.environ.get("MODEL_SERVICE_API_KEY",
                                                            DEFAULT_API_KEY),
                        help="accepted bearer key (default $MODEL_SERVICE_API_KEY or %s)"
                        % DEFAULT_API_KEY)
    parser.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    args = parser.parse_args(argv)
    try:
        server = make_server(args.host, args.port, args.api_key, args.verbose)
    except ValueError as exc:
        parser.error(str(exc))
        return 2
    except OSError as exc:
        sys.stderr.write("model_service: cannot bind %s:%d: %s\n" % (args.host, args.port, exc))
        return 1

    def _stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    host, port = server.server_address[:2]
    sys.stderr.write("model_service: listening on http://%s:%d\n" % (host, port))
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    sys.stderr.write("model_service: stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
