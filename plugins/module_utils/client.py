# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP client of the collection.

Every request to PolarSearch goes through :class:`PolarSearchClient`. It owns
retries (exponential backoff with jitter), the rule that a non-idempotent
``_create``/``_register`` POST is never blindly repeated, and the redaction of
secrets from every error message it raises.
"""

from __future__ import annotations

import json
import random
import time

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


class PolarSearchError(Exception):
    """A failed request, with method, path, HTTP status and the server's reason."""

    def __init__(self, message, status=None, method=None, path=None, reason=None, body=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.reason = reason
        self.body = body

    def __str__(self):
        return self.message


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
        return json.dumps(body, sort_keys=True)[:500]
    if body:
        return str(body)[:500]
    return ""


def redact(text, secrets):
    """Replace every secret value that occurs in ``text``."""
    if text is None:
        return text
    text = str(text)
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class PolarSearchClient:
    """A small JSON client over a ``requests.Session``."""

    def __init__(self, base_url, session, timeout=30, retries=3, backoff=0.5, max_backoff=8.0,
                 secrets=(), sleep=time.sleep, rand=random.uniform):
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.secrets = [s for s in secrets if s]
        self._sleep = sleep
        self._rand = rand

    # -- public helpers ---------------------------------------------------------------
    def get(self, path, params=None, missing_ok=False):
        return self.request("GET", path, params=params, missing_ok=missing_ok)

    def post(self, path, body=None, params=None, lookup=None, missing_ok=False):
        return self.request("POST", path, body=body, params=params, lookup=lookup, missing_ok=missing_ok)

    def put(self, path, body=None, params=None):
        return self.request("PUT", path, body=body, params=params)

    def delete(self, path, missing_ok=True):
        return self.request("DELETE", path, missing_ok=missing_ok)

    def search(self, path, query, size=100):
        """Run a search and return the list of hits (``_id`` and ``_source``)."""
        body = {"query": query, "size": size}
        result = self.post(path, body=body) or {}
        return [
            {"_id": hit.get("_id"), "_source": hit.get("_source") or {}}
            for hit in ((result.get("hits") or {}).get("hits") or [])
        ]

    # -- core -------------------------------------------------------------------------
    def request(self, method, path, body=None, params=None, lookup=None, missing_ok=False):
        """Send one request, retrying what may be retried.

        ``lookup`` makes a POST that creates something safe to retry: before every
        retry, and before failing for good, it is called, and a non-``None`` answer
        (the object the lost attempt created after all) is returned instead.
        ``missing_ok`` turns a 404 into a ``None`` answer.
        """
        url = self.base_url + "/" + path.lstrip("/")
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method, url, json=body, params=params, timeout=self.timeout,
                    headers={"Content-Type": "application/json", "Accept": "application/json"},
                )
            except requests.exceptions.RequestException as exc:
                response, retry_reason = None, "connection"
                failure = self._error("%s %s failed after %d attempt(s): %s" % (method, path, attempt + 1, exc),
                                      method=method, path=path)
            else:
                payload = _decode(response)
                status = response.status_code
                if status < 300:
                    return payload
                reason = server_reason(payload)
                retry_reason = None
                if status == 404 and MASTER_KEY_TEXT in reason.lower():
                    retry_reason = "master_key"
                elif status in RETRY_STATUSES:
                    retry_reason = "status"
                elif status == 404 and missing_ok:
                    return None
                failure = self._error("%s %s failed: HTTP %s: %s" % (method, path, status, reason),
                                      status=status, method=method, path=path, reason=reason)
                if retry_reason is None:
                    raise failure
            exhausted = attempt >= self.retries
            if not exhausted:
                self._sleep(self._delay(attempt, retry_reason, response))
                attempt += 1
            # What failed may have been done after all: look before sending it again, or before failing.
            found = lookup() if lookup is not None else None
            if found is not None:
                return found
            if exhausted:
                raise failure

    def _delay(self, attempt, retry_reason, response):
        delay = min(self.max_backoff, self.backoff * (2 ** attempt))
        delay = self._rand(delay / 2.0, delay)
        if retry_reason == "master_key":
            # The server asks for about ten seconds while it creates its key.
            delay = max(delay, 5.0)
        if response is not None and response.status_code == 429:
            retry_after = response.headers.get("Retry-After")
            if retry_after and retry_after.isdigit():
                delay = max(delay, min(float(retry_after), 30.0))
        return delay

    def _error(self, message, **kwargs):
        if "reason" in kwargs:
            kwargs["reason"] = redact(kwargs["reason"], self.secrets)
        return PolarSearchError(redact(message, self.secrets), **kwargs)


def _decode(response):
    text = response.text
    if not text:
        return {}
    try:
        return response.json()
    except ValueError:
        return text
