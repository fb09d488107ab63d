# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP client of the collection.

Every request to PolarSearch goes through :class:`PolarSearchClient`. It owns the retry policy
(:func:`may_retry`: which request may be sent again after which failure), the rule that a
``_create``/``_register`` POST whose answer was lost is looked up before it is sent again, the
errors that name their likely cause and fix, and the redaction of secrets from every error and
warning it produces.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import os
import random
import re
import time
from urllib.parse import urlsplit

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised through missing_required_lib
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc


RETRY_STATUSES = frozenset((429, 502, 503, 504))
MASTER_KEY_TEXT = "master key"
REDACTED = "********"
SHOWN_CHARS = 200
MAX_RETRY_AFTER = 30.0

# What kind of request it is (decides what may be sent again).
READ = "read"                # GET, HEAD, POST .../_search: no effect
IDEMPOTENT = "idempotent"    # PUT, DELETE, POST _deploy/_undeploy: doing it twice is doing it once
CREATE = "create"            # POST _create/_register, PUT <index>: a second send makes a second object (or fails)
PREDICT = "predict"          # POST _predict: a second send runs (and bills) a second prediction
OTHER = "other"              # any other POST: its effect is unknown

# What kind of failure it is.
CONNECT = "connect"          # no connection: the request never reached the server
BUSY = "busy"                # 429/503: refused before it was acted on
MASTER_KEY = "master key"    # ML Commons has no master key yet: refused before it was acted on
LOST = "lost"                # sent, but the answer was lost: it may have been done
FATAL = "fatal"              # waiting cannot cure it (TLS, bad URL, 4xx, other 5xx)

BUSY_STATUSES = frozenset((429, 503))
LOST_STATUSES = frozenset((502, 504))
READ_ENDPOINTS = frozenset(("_search", "_count", "_msearch", "_mget"))
IDEMPOTENT_ENDPOINTS = frozenset(("_deploy", "_undeploy"))
CREATE_ENDPOINTS = frozenset(("_create", "_register"))

CONNECT_MARKERS = ("connection refused", "failed to establish a new connection", "name or service not known",
                   "nodename nor servname", "temporary failure in name resolution", "getaddrinfo failed",
                   "failed to resolve", "no route to host", "network is unreachable", "name resolution")
CLOSED_MARKERS = ("remote end closed connection", "connection reset", "connection aborted",
                  "remotedisconnected", "badstatusline", "empty reply")
PLAIN_HTTP_MARKERS = ("wrong version number", "wrong_version_number", "record layer failure",
                      "packet length too long", "unknown protocol", "http request")
HOSTNAME_MARKERS = ("hostname mismatch", "doesn't match", "ip address mismatch", "does not match")


class PolarSearchError(Exception):
    """A failed request, with method, path, HTTP status and the server's reason."""

    def __init__(self, message, status=None, method=None, path=None, reason=None, body=None, kind=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.reason = reason
        self.body = body
        self.kind = kind

    def __str__(self):
        return self.message


# -- the policy -------------------------------------------------------------------------------------------
def request_kind(method, path):
    """:data:`READ`, :data:`IDEMPOTENT`, :data:`CREATE`, :data:`PREDICT` or :data:`OTHER`."""
    method = method.upper()
    if method in ("GET", "HEAD"):
        return READ
    bare = path.split("?", 1)[0].strip("/")
    if method == "PUT" and bare and "/" not in bare and not bare.startswith("_"):
        # PUT <index> creates the index: sent twice, the second answers 400 resource_already_exists_exception.
        return CREATE
    if method in ("PUT", "DELETE"):
        return IDEMPOTENT
    endpoint = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if endpoint in READ_ENDPOINTS:
        return READ
    if endpoint in IDEMPOTENT_ENDPOINTS:
        return IDEMPOTENT
    if endpoint in CREATE_ENDPOINTS:
        return CREATE
    if endpoint == "_predict":
        return PREDICT
    return OTHER


def may_retry(kind, failure, has_lookup=False, resend=False):
    """Whether a request of ``kind`` may be sent again after a ``failure``.

    A request that never reached the server, or that the server refused before acting on it
    (429, 503, no master key yet), may always be sent again. After a lost answer only what is
    safe to do twice is: reads and idempotent writes; a create only when ``has_lookup`` finds
    what the lost attempt made before it is sent again; a predict or any other POST only when
    the caller allows it (``resend``). Nothing that waiting cannot cure is retried.
    """
    if failure in (CONNECT, BUSY, MASTER_KEY):
        return True
    if failure == LOST:
        if kind in (READ, IDEMPOTENT):
            return True
        if kind == CREATE:
            return bool(has_lookup)
        return bool(resend)
    return False


# -- helpers ----------------------------------------------------------------------------------------------
def server_reason(body):
    """The most useful reason text of an OpenSearch error body."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            reason = error.get("reason")
            causes = error.get("root_cause") or []
            if not reason and causes and isinstance(causes[0], dict):
                reason = causes[0].get("reason")
            if reason:
                return str(reason)
            return json.dumps(error, sort_keys=True)
        if isinstance(error, str):
            return error
        if body.get("result"):
            return "result: %s" % body["result"]
        if body.get("reason") and body.get("status"):
            return str(body["reason"])  # the security plugin's REST API: {"status": "error", "reason": ...}
        return json.dumps(body, sort_keys=True)[:500]
    if body:
        return str(body)[:500]
    return ""


def error_type(body):
    """The ``error.type`` (or first root cause's type) of an OpenSearch error body, else ``None``."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    causes = error.get("root_cause") or []
    if error.get("type"):
        return error["type"]
    return causes[0].get("type") if causes and isinstance(causes[0], dict) else None


def redact(text, secrets):
    """Replace every secret value that occurs in ``text``."""
    if text is None:
        return text
    text = str(text)
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _chain(exc):
    """``exc`` and every exception it wraps (arguments, ``reason``, cause and context)."""
    seen, todo = [], [exc]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend(arg for arg in getattr(item, "args", ()) if isinstance(arg, BaseException))
        todo.extend((getattr(item, "reason", None), item.__cause__, item.__context__))
    return seen


def _text(exc):
    return " ".join(str(item) for item in _chain(exc)).lower()


def _short(text, limit=SHOWN_CHARS):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _retry_after(response):
    value = (response.headers.get("Retry-After") or "").strip() if response is not None else ""
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


class PolarSearchClient:
    """A small JSON client over a ``requests.Session``.

    ``timeout`` is the read timeout and ``connect_timeout`` (when set) the connect timeout.
    ``verify``, when not ``None``, is passed with every request so that it wins over
    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` (a session's ``verify`` does not).
    ``warn`` receives one message per retry. ``lookup_attempts`` and ``lookup_interval``: how
    often, and how many seconds apart, a create whose answer was lost is looked up before it is
    sent again (the server may make the first object visible to search only after a while).
    ``retry_predict`` lets a ``_predict`` whose answer was lost be sent again.
    """

    def __init__(self, base_url, session, timeout=30, retries=3, backoff=0.5, max_backoff=8.0,
                 secrets=(), sleep=time.sleep, rand=random.uniform, connect_timeout=None, verify=None,
                 warn=None, user=None, credential_source=None, tls_source=None, lookup_attempts=3,
                 lookup_interval=2.0, retry_predict=False):
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.secrets = [s for s in secrets if s]
        self.verify = verify
        self.warn = warn
        self.user = user
        self.credential_source = credential_source
        self.tls_source = tls_source
        self.lookup_attempts = max(1, int(lookup_attempts))
        self.lookup_interval = lookup_interval
        self.retry_predict = retry_predict
        # A per-run read cache (module_utils.core.snapshot) that every write drops, or None.
        self.snapshot = None
        self._sleep = sleep
        self._rand = rand

    # -- public helpers ---------------------------------------------------------------
    def get(self, path, params=None, missing_ok=False):
        return self.request("GET", path, params=params, missing_ok=missing_ok)

    def post(self, path, body=None, params=None, lookup=None, missing_ok=False, resend=None):
        return self.request("POST", path, body=body, params=params, lookup=lookup, missing_ok=missing_ok,
                            resend=resend)

    def put(self, path, body=None, params=None, lookup=None):
        return self.request("PUT", path, body=body, params=params, lookup=lookup)

    def delete(self, path, missing_ok=True):
        return self.request("DELETE", path, missing_ok=missing_ok)

    def search(self, path, query, size=100):
        """Run a search and return the list of hits (``_id`` and ``_source``)."""
        body = {"query": query, "size": size}
        result = self.post(path, body=body)
        hits = result.get("hits") if isinstance(result, dict) else None
        hits = hits.get("hits") if isinstance(hits, dict) else hits
        if not isinstance(hits, list) or not all(isinstance(hit, dict) for hit in hits):
            raise self._error("POST %s answered with %s, not a search answer ({\"hits\": {\"hits\": [...]}}): "
                              "check that host points at the PolarSearch REST endpoint" % (path, _shape(result)),
                              method="POST", path=path, reason="not a search answer", kind=FATAL)
        return [{"_id": hit.get("_id"), "_source": hit.get("_source") or {}} for hit in hits]

    # -- core -------------------------------------------------------------------------
    def request(self, method, path, body=None, params=None, lookup=None, missing_ok=False, resend=None):
        """Send one request, retrying what :func:`may_retry` allows.

        ``lookup`` makes a POST that creates something safe to retry: before every resend, and
        before failing for good, it is called, and a non-``None`` answer (the object the lost
        attempt created after all) is returned instead. After a lost answer it is called up to
        ``lookup_attempts`` times, ``lookup_interval`` seconds apart.
        ``missing_ok`` turns a 404 into a ``None`` answer. ``resend`` (default: ``retry_predict``
        for a ``_predict``, else false) lets a predict or another POST be sent again after its
        answer was lost.
        """
        method = method.upper()
        url = self.base_url + "/" + path.lstrip("/")
        kind = request_kind(method, path)
        # What the run sent last, for an error that only shows when its answer is used.
        self.last_request = "%s %s" % (method, path)
        if kind != READ and self.snapshot is not None:
            # Whatever was read before a write may be stale after it: read it again.
            self.snapshot.drop()
        if resend is None:
            resend = self.retry_predict if kind == PREDICT else False
        attempt = 0
        while True:
            response = None
            try:
                response = self._send(method, url, body, params)
            except (requests.exceptions.RequestException, OSError) as exc:
                failure, cause = self._classify(exc, url)
                status = None
            else:
                status = response.status_code
                if status < 300:
                    try:
                        return self._payload(method, url, response)
                    except PolarSearchError:
                        # A create whose answer is unusable may have created its object: look first.
                        found = self._look(lookup, LOST) if kind == CREATE else None
                        if found is None:
                            raise
                        self._warn("%s %s: the answer was unusable, but what it created was found; it is used"
                                   % (method, path))
                        return found
                payload = _decode(response)
                reason = server_reason(payload)
                failure = FATAL
                if status in (404, 500) and MASTER_KEY_TEXT in reason.lower():
                    failure = MASTER_KEY
                elif status in BUSY_STATUSES:
                    failure = BUSY
                elif status in LOST_STATUSES:
                    failure = LOST
                elif status == 404 and missing_ok:
                    return None
                cause = "HTTP %s: %s" % (status, self._status_text(method, path, status, reason, response, payload))
            retry = may_retry(kind, failure, lookup is not None, resend)
            if failure == FATAL or (not retry and lookup is None):
                raise self._failure(method, path, attempt, status, cause, failure, kind, retry, response)
            if retry and attempt < self.retries:
                delay = self._delay(attempt, failure, response)
                self._warn("%s %s: %s; %ssending it again in %.1f s (attempt %d of %d)" % (
                    method, path, _short(cause), "looking up what it may have created, then " if lookup else "",
                    delay, attempt + 2, self.retries + 1))
                self._sleep(delay)
                attempt += 1
                found = self._look(lookup, failure)
                if found is not None:
                    self._warn("%s %s: found what the failed attempt created; it is used, not created again"
                               % (method, path))
                    return found
                continue
            # Out of attempts (or not to be sent again): it may have been done after all, look before failing.
            found = self._look(lookup, failure)
            if found is not None:
                self._warn("%s %s: %s, but what it created was found; it is used" % (method, path, _short(cause)))
                return found
            raise self._failure(method, path, attempt, status, cause, failure, kind, retry, response)

    def _send(self, method, url, body, params):
        kwargs = {}
        if self.verify is not None:
            kwargs["verify"] = self.verify
        timeout = self.timeout if self.connect_timeout is None else (self.connect_timeout, self.timeout)
        return self.session.request(
            method, url, json=body, params=params, timeout=timeout,
            headers={"Content-Type": "application/json", "Accept": "application/json"}, **kwargs)

    def _look(self, lookup, failure):
        if lookup is None:
            return None
        tries = self.lookup_attempts if failure == LOST else 1
        for index in range(tries):
            if index:
                self._sleep(self.lookup_interval)
            found = lookup()
            if found is not None:
                return found
        return None

    def _warn(self, message):
        if self.warn is not None:
            self.warn(redact(message, self.secrets))

    def _delay(self, attempt, failure, response):
        delay = min(self.max_backoff, self.backoff * (2 ** attempt))
        delay = self._rand(delay / 2.0, delay)
        if failure == MASTER_KEY:
            # The server asks for about ten seconds while it creates its key.
            delay = max(delay, 5.0)
        retry_after = _retry_after(response) if response is not None and response.status_code in (429, 503) else None
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return delay

    # -- answers and errors ------------------------------------------------------------
    def _payload(self, method, url, response):
        """The JSON of a 2xx answer: a JSON object (a JSON array for ``_cat`` APIs). Any other
        answer (empty, an array, a scalar, not JSON, cut short) is an error naming the request and
        what came back, never a value a caller has to guess about."""
        text = response.text
        path = urlsplit(url).path.lstrip("/")
        expected = list if path.startswith("_cat/") else dict
        content_type = response.headers.get("Content-Type") or "no content type"
        if method == "HEAD":
            return {}
        if not text or not text.strip():
            payload, what = None, "an empty body"
        else:
            try:
                payload = response.json()
            except ValueError:
                payload = None
                what = ("JSON that is cut short or malformed" if "json" in content_type.lower() and
                        text.lstrip()[:1] in "{[" else "not JSON")
            else:
                what = _shape(payload)
        if isinstance(payload, expected):
            return payload
        hint = ("the answer may have been cut short by a proxy or a closed connection, or host does not point at "
                "the PolarSearch REST endpoint (a proxy, load balancer or console page answered): check host and "
                "port" if what != "not JSON" or "html" not in content_type.lower() else
                "host does not point at the PolarSearch REST endpoint (a proxy, load balancer or console page "
                "answered): check host and port")
        if what != "not JSON":
            what = "%s, not a JSON %s" % (what, "array" if expected is list else "object")
        raise self._error(
            "%s %s answered HTTP %s with %s, %s: %r. %s"
            % (method, url, response.status_code, content_type, what, _short(text), hint),
            status=response.status_code, method=method, path=path, reason=what, kind=FATAL)

    def _status_text(self, method, path, status, reason, response, payload):
        """The server's reason and, for the statuses a user can act on, what to do.

        Only the security plugin's own 401 and 403 get the credential and permission hints: a
        401 or 403 that ML Commons passes on from a model service ("Error from remote service:
        ...") or raises itself ("Model is disabled.") is about something else.
        """
        security = error_type(payload) == "security_exception"
        if status == 401 and (security or not isinstance(payload, dict)
                              or "WWW-Authenticate" in response.headers):
            if self.user:
                hint = ("the server did not accept the credentials of user %r (from %s): check the credentials "
                        "(username and password, or user_password; or the POLARSEARCH_USERNAME/"
                        "POLARSEARCH_PASSWORD or POLARSEARCH_USER_PASSWORD environment variables)"
                        % (self.user, self.credential_source or "the task"))
            else:
                hint = ("the cluster requires authentication and no credentials were given: set username and "
                        "password, or user_password (or POLARSEARCH_USERNAME/POLARSEARCH_PASSWORD or "
                        "POLARSEARCH_USER_PASSWORD)")
            return "%s: %s" % (_short(reason) or "Unauthorized", hint)
        if status == 403 and security:
            who = "user %r" % self.user if self.user else "the anonymous user"
            missing = re.search(r"no permissions for \[([^\]]*)\]", reason)
            if missing:
                hint = ("%s lacks the permission %s needed for %s %s: grant it through a role mapped to the user "
                        "(security plugin), or run this as a user that has it" % (who, missing.group(1), method, path))
            else:
                hint = "%s may not %s %s" % (who, method, path)
            return "%s: %s" % (reason, hint)
        if status in (301, 302, 303, 307, 308):
            return "%s: the server redirects to %s; set host to the REST endpoint itself" % (
                reason or "redirect", response.headers.get("Location") or "another address")
        return reason

    def _classify(self, exc, url):
        """``(failure kind, cause text that names the fix)`` of an exception from ``requests``."""
        parts = urlsplit(url)
        where = parts.netloc
        raw = _short(str(exc), 400)
        text = _text(exc)
        if not isinstance(exc, requests.exceptions.RequestException):
            # requests raises OSError for a CA bundle or client certificate file it cannot read
            if "ca certificate bundle" in text:
                return FATAL, "cannot read the CA bundle (%s): set ca_path to a readable PEM file (%s)" % (
                    self._tls_in_use(), raw)
            return FATAL, "a TLS file cannot be read: check ca_path, client_cert and client_key (%s)" % raw
        if isinstance(exc, requests.exceptions.SSLError):
            if any(marker in text for marker in PLAIN_HTTP_MARKERS):
                return FATAL, ("%s answered the TLS handshake with plain HTTP: the port does not serve HTTPS; use "
                               "http:// in host (or scheme: http), or the port that serves HTTPS (%s)" % (where, raw))
            if "certificate verify failed" in text or "certificate_verify_failed" in text:
                if any(marker in text for marker in HOSTNAME_MARKERS):
                    return FATAL, ("the server's certificate does not name %s (does not match the host): use the "
                                   "name the certificate was issued for in host, or set validate_certs: false (%s)"
                                   % (parts.hostname, raw))
                return FATAL, ("the server's certificate could not be verified with %s: set ca_path (or "
                               "POLARSEARCH_CA_PATH) to the PEM file of the CA that signed it, or validate_certs: "
                               "false (POLARSEARCH_VALIDATE_CERTS=false) to skip verification (%s)"
                               % (self._tls_in_use(), raw))
            return FATAL, "the TLS handshake with %s failed: check ca_path, client_cert and client_key (%s)" % (
                where, raw)
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema, requests.exceptions.URLRequired,
                            requests.exceptions.InvalidHeader)):
            return FATAL, "the URL %s is not valid: check host (%s)" % (url, raw)
        if isinstance(exc, requests.exceptions.ProxyError):
            return CONNECT, ("the proxy failed (%s): check HTTPS_PROXY/HTTP_PROXY, or list the host in NO_PROXY "
                             "for a private endpoint" % raw)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return CONNECT, ("could not connect to %s within %s s (connect_timeout): check host, port, firewall "
                             "and proxy settings (%s)" % (where, self.connect_timeout or self.timeout, raw))
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return LOST, ("no answer from %s within %s s (timeout): raise timeout if the cluster is slow (%s)"
                          % (where, self.timeout, raw))
        if isinstance(exc, requests.exceptions.ConnectionError) and any(m in text for m in CONNECT_MARKERS):
            if "refused" in text:
                return CONNECT, "nothing accepts connections at %s (connection refused): check host and port (%s)" % (
                    where, raw)
            if "resolve" in text or "name" in text:
                return CONNECT, "the host name %s cannot be resolved: check host (%s)" % (parts.hostname, raw)
            return CONNECT, "cannot reach %s: check host, port and network (%s)" % (where, raw)
        if parts.scheme == "http" and any(marker in text for marker in CLOSED_MARKERS):
            return LOST, ("%s closed the connection without an answer; if this port serves HTTPS, use https:// in "
                          "host (or scheme: https) (%s)" % (where, raw))
        return LOST, raw

    def _tls_in_use(self):
        if self.tls_source:
            return self.tls_source
        if self.verify is None and getattr(self.session, "trust_env", True):
            for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
                if os.environ.get(variable):
                    return ("the CA bundle %s=%s from the environment (ca_path overrides it)"
                            % (variable, os.environ[variable]))
        if isinstance(getattr(self.session, "verify", None), str):
            return "the CA bundle %s" % self.session.verify
        return "the default CA bundle"

    def _failure(self, method, path, attempt, status, cause, failure, kind, retry, response):
        attempts = attempt + 1
        if status is None:
            message = "%s %s failed%s: %s" % (
                method, path, " after %d attempt(s)" % attempts if failure != FATAL else "", cause)
        else:
            message = "%s %s failed: %s" % (method, path, cause)
        if not retry and failure in (LOST,):
            if kind == PREDICT:
                message += ("; not sent again: the prediction may have run (and be billed) although its answer "
                            "was lost; set retry_predict to allow sending it again")
            elif kind in (CREATE, OTHER):
                message += "; not sent again: the server may have done it although its answer was lost"
        reason = None
        if status is not None:
            reason = server_reason(_decode(response))
        return self._error(message, status=status, method=method, path=path, reason=reason, kind=failure)

    def _error(self, message, **kwargs):
        if kwargs.get("reason") is not None:
            kwargs["reason"] = redact(kwargs["reason"], self.secrets)
        return PolarSearchError(redact(message, self.secrets), **kwargs)


def answer_id(answer, key, request):
    """The ID ``key`` of a create or register answer; an answer without it is an error naming
    ``request`` and what came back (the object may have been made: a rerun finds it by name)."""
    value = answer.get(key) if isinstance(answer, dict) else None
    if isinstance(value, str) and value:
        return value
    raise PolarSearchError("%s answered with %s, without %s: the server may have made it anyway; run again to find "
                           "it by name, and check that host points at the PolarSearch REST endpoint"
                           % (request, _shape(answer), key), method=request.split(" ", 1)[0],
                           path=request.split(" ", 1)[-1], reason="no %s in the answer" % key, kind=FATAL)


def _shape(value):
    """What an answer is, in words: for errors about answers of the wrong shape."""
    if value is None or value == "":
        return "an empty body"
    if isinstance(value, list):
        return "a JSON array of %d item(s)" % len(value)
    if isinstance(value, dict):
        return "a JSON object with keys %s" % (", ".join(sorted(map(str, value))[:8]) or "none")
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return "a JSON scalar (%s)" % json.dumps(value)
    if isinstance(value, str):
        return "a JSON string"
    return "an answer of type %s" % type(value).__name__


def _decode(response):
    text = response.text
    if not text:
        return {}
    try:
        return response.json()
    except ValueError:
        return text
