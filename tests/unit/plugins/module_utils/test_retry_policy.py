# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The retry policy per method and per kind of failure.

A scripted session answers each request with the next scripted outcome and then 200. The outcomes
are what the server or a proxy in front of it sends: 429 (OpenSearch's rejected execution, or a
gateway's rate limit, with or without Retry-After), 502/504 from a proxy that lost the answer, 503
(no shard available), ML Commons' 404 "The ML encryption master key has not been initialized yet"
and 500 "Fetching master key timed out." (seen right after a restart), the security plugin's 401
and 403, and the exceptions ``requests`` raises for a refused connection, a read timeout and a
connection closed after the request was sent.
"""

from __future__ import annotations

import json

import pytest
import requests

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport import client as client_mod
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import (
    BUSY,
    CONNECT,
    CREATE,
    FATAL,
    IDEMPOTENT,
    LOST,
    MASTER_KEY,
    OTHER,
    PREDICT,
    READ,
    PolarSearchClient,
    PolarSearchError,
    may_retry,
    request_kind,
)

ML = "_plugins/_ml"
BASE = "https://search.example.com:9200"
SECRET = "Sup3r-Secret-Pw-77"


def error_body(status, reason, kind="status_exception"):
    return {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
            "status": status}


def throw(exc):
    raise exc


class Answer:
    def __init__(self, status, body=None, headers=None):
        self.status, self.body, self.headers = status, body, headers or {}


class ScriptedSession(requests.Session):
    """Answers the scripted outcomes in order, then 200 ``{"ok": true}``; records every request."""

    def __init__(self, *outcomes):
        super().__init__()
        self.outcomes = list(outcomes)
        self.sent = []

    def request(self, method, url, **kwargs):
        self.sent.append((method, url.split("9200/", 1)[1], kwargs))
        outcome = self.outcomes.pop(0) if self.outcomes else Answer(200, {"ok": True})
        if isinstance(outcome, BaseException):
            throw(outcome)  # an exception as requests raises it
        response = requests.Response()
        response.status_code = outcome.status
        response.url = url
        body = outcome.body
        if isinstance(body, str):
            response.headers["Content-Type"] = "text/plain; charset=UTF-8"
            response._content = body.encode("utf-8")
        else:
            response.headers["Content-Type"] = "application/json; charset=UTF-8"
            response._content = json.dumps({} if body is None else body).encode("utf-8")
        response.headers.update(outcome.headers)
        return response


class Recorder:
    def __init__(self):
        self.warnings = []
        self.sleeps = []


def make(*outcomes, **kwargs):
    session = ScriptedSession(*outcomes)
    rec = Recorder()
    kwargs.setdefault("retries", 3)
    c = PolarSearchClient(BASE, session, sleep=rec.sleeps.append, rand=lambda low, high: high,
                          warn=rec.warnings.append, secrets=[SECRET], **kwargs)
    return c, session, rec


# -- the tables ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,kind", [
    ("GET", "_cluster/settings", READ),
    ("HEAD", "_plugins/_ml/models/m1", READ),
    ("POST", ML + "/connectors/_search", READ),
    ("POST", ML + "/models/_search", READ),
    ("PUT", "_cluster/settings", IDEMPOTENT),
    ("PUT", ML + "/connectors/c1", IDEMPOTENT),
    ("PUT", "docs", CREATE),
    ("PUT", "docs/_mapping", IDEMPOTENT),
    ("PUT", "docs/_settings", IDEMPOTENT),
    ("PUT", "_ingest/pipeline/p1", IDEMPOTENT),
    ("DELETE", "docs", IDEMPOTENT),
    ("DELETE", ML + "/models/m1", IDEMPOTENT),
    ("POST", ML + "/models/m1/_deploy", IDEMPOTENT),
    ("POST", ML + "/models/m1/_undeploy", IDEMPOTENT),
    ("POST", ML + "/connectors/_create", CREATE),
    ("POST", ML + "/models/_register", CREATE),
    ("POST", ML + "/model_groups/_register", CREATE),
    ("POST", ML + "/models/m1/_predict", PREDICT),
    ("POST", ML + "/agents/a1/_execute", OTHER),
])
def test_request_kind(method, path, kind):
    assert request_kind(method, path) == kind


# (request kind, failure, has lookup, resend) -> retried
POLICY = [
    # never reached the server, or refused before acting: everything may be sent again
    *[((kind, failure, False, False), True) for kind in (READ, IDEMPOTENT, CREATE, PREDICT, OTHER)
      for failure in (CONNECT, BUSY, MASTER_KEY)],
    # the answer was lost: only what is safe twice
    ((READ, LOST, False, False), True),
    ((IDEMPOTENT, LOST, False, False), True),
    ((CREATE, LOST, False, False), False),
    ((CREATE, LOST, True, False), True),
    ((PREDICT, LOST, False, False), False),
    ((PREDICT, LOST, False, True), True),
    ((OTHER, LOST, False, False), False),
    ((OTHER, LOST, False, True), True),
    # waiting cannot cure it
    *[((kind, FATAL, lookup, resend), False) for kind in (READ, IDEMPOTENT, CREATE, PREDICT, OTHER)
      for lookup in (False, True) for resend in (False, True)],
]


@pytest.mark.parametrize("case,retried", POLICY)
def test_policy_table(case, retried):
    assert may_retry(*case) is retried


# -- the policy through the client, per method and kind of failure ------------------------------------------
REFUSED = requests.exceptions.ConnectionError(
    "HTTPSConnectionPool(host='search.example.com', port=9200): Max retries exceeded with url: /x (Caused by "
    "NewConnectionError('Failed to establish a new connection: [Errno 111] Connection refused'))")
CONNECT_TIMEOUT = requests.exceptions.ConnectTimeout("Connection to search.example.com timed out. (connect timeout=10)")
READ_TIMEOUT = requests.exceptions.ReadTimeout("Read timed out. (read timeout=30)")
RESET = requests.exceptions.ConnectionError(
    "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))")
CLOSED = requests.exceptions.ConnectionError(
    "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))")
TLS = requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate")
BAD_URL = requests.exceptions.InvalidURL("Failed to parse: https://search.example.com:port")

FAILURES = {
    "refused": (REFUSED, CONNECT),
    "connect timeout": (CONNECT_TIMEOUT, CONNECT),
    "read timeout": (READ_TIMEOUT, LOST),
    "reset": (RESET, LOST),
    "closed": (CLOSED, LOST),
    "429": (Answer(429, error_body(429, "rejected execution")), BUSY),
    "429 retry-after": (Answer(429, "Too Many Requests", {"Retry-After": "7"}), BUSY),
    "502": (Answer(502, "<html>502 Bad Gateway</html>"), LOST),
    "503": (Answer(503, error_body(503, "No shard available for [get]")), BUSY),
    "504": (Answer(504, "<html>504 Gateway Time-out</html>"), LOST),
    "master key 404": (Answer(404, error_body(404, "The ML encryption master key has not been initialized yet. "
                                                   "Please retry after waiting for 10 seconds.")), MASTER_KEY),
    "master key 500": (Answer(500, error_body(500, "Fetching master key timed out.", "m_l_exception")), MASTER_KEY),
    "tls": (TLS, FATAL),
    "invalid url": (BAD_URL, FATAL),
    "400": (Answer(400, error_body(400, "Connector version is null")), FATAL),
    "401": (Answer(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="OpenSearch Security"'}), FATAL),
    "403": (Answer(403, error_body(403, "no permissions for [cluster:admin/settings/update] and User [name=u]",
                                   "security_exception")), FATAL),
    "404": (Answer(404, error_body(404, "Failed to find model with the provided model id: m1")), FATAL),
    "500": (Answer(500, error_body(500, "some internal failure", "m_l_exception")), FATAL),
}

REQUESTS = {
    "GET": ("GET", "_cluster/settings", {}),
    "PUT": ("PUT", ML + "/connectors/c1", {}),
    "DELETE": ("DELETE", ML + "/models/m1", {"missing_ok": False}),
    "search": ("POST", ML + "/models/_search", {}),
    "deploy": ("POST", ML + "/models/m1/_deploy", {}),
    "undeploy": ("POST", ML + "/models/m1/_undeploy", {}),
    "create": ("POST", ML + "/connectors/_create", {}),
    "create+lookup": ("POST", ML + "/connectors/_create", {"lookup": lambda: None}),
    "predict": ("POST", ML + "/models/m1/_predict", {}),
    "predict+resend": ("POST", ML + "/models/m1/_predict", {"resend": True}),
}


@pytest.mark.parametrize("request_name", sorted(REQUESTS))
@pytest.mark.parametrize("failure_name", sorted(FAILURES))
def test_policy_per_method_and_failure(request_name, failure_name):
    method, path, kwargs = REQUESTS[request_name]
    outcome, failure = FAILURES[failure_name]
    expected = may_retry(request_kind(method, path), failure, "lookup" in kwargs, kwargs.get("resend", False))
    c, session, rec = make(outcome)
    if expected:
        assert c.request(method, path, **kwargs) == {"ok": True}
        sends = [s for s in session.sent if s[1] == path]
        assert len(sends) == 2
        assert len(rec.warnings) >= 1
        assert rec.warnings[0].startswith("%s %s: " % (method, path))
        assert "attempt 2 of 4" in rec.warnings[0]
    else:
        with pytest.raises(PolarSearchError) as info:
            c.request(method, path, **kwargs)
        assert len([s for s in session.sent if s[1] == path]) == 1
        assert rec.warnings == []
        assert info.value.method == method and info.value.path == path


def test_the_matrix_has_the_cases_the_policy_promises():
    # a predict whose answer was lost is not resent; a create is only with a lookup; reads always are
    assert may_retry(PREDICT, LOST) is False
    assert may_retry(CREATE, LOST) is False
    assert may_retry(READ, LOST) is True


# -- lost answers of creates: look, and give the server time to make the object visible --------------------
def test_a_lost_create_is_looked_up_several_times_before_it_is_sent_again():
    looks = []

    def lookup():
        looks.append(1)
        return {"connector_id": "c1"} if len(looks) == 3 else None

    c, session, rec = make(READ_TIMEOUT, lookup_attempts=4, lookup_interval=1.5)
    assert c.post(ML + "/connectors/_create", body={"name": "x"}, lookup=lookup) == {"connector_id": "c1"}
    assert [s[1] for s in session.sent] == [ML + "/connectors/_create"]
    assert len(looks) == 3
    assert rec.sleeps == [0.5, 1.5, 1.5]  # backoff, then two lookup intervals
    assert "found what the failed attempt created" in rec.warnings[-1]


def test_the_lookup_attempts_are_configurable_and_a_create_not_found_is_sent_again():
    looks = []
    c, session, rec = make(Answer(504, "<html>504 Gateway Time-out</html>"), lookup_attempts=2, lookup_interval=0.25)
    assert c.post(ML + "/connectors/_create", body={"name": "x"},
                  lookup=lambda: looks.append(1)) == {"ok": True}
    assert len(looks) == 2
    assert [s[1] for s in session.sent] == [ML + "/connectors/_create"] * 2
    assert rec.sleeps == [0.5, 0.25]


def test_a_create_refused_before_acting_is_looked_up_once():
    looks = []
    c, session, rec = make(Answer(503, error_body(503, "No shard available")), lookup_attempts=5)
    c.post(ML + "/connectors/_create", body={"name": "x"}, lookup=lambda: looks.append(1))
    assert len(looks) == 1


def test_a_lost_create_on_the_last_attempt_is_looked_up_before_failing():
    looks = []

    def lookup():
        looks.append(1)
        return {"model_id": "m9"} if len(looks) == 2 else None

    c, session, rec = make(RESET, retries=0, lookup_attempts=3, lookup_interval=1.0)
    assert c.post(ML + "/models/_register", body={"name": "x"}, lookup=lookup) == {"model_id": "m9"}
    assert len(session.sent) == 1


# -- predict is not sent twice unless allowed ---------------------------------------------------------------------
@pytest.mark.parametrize("outcome", [READ_TIMEOUT, RESET, Answer(502, "bad gateway"), Answer(504, "timeout")])
def test_a_predict_whose_answer_was_lost_is_not_sent_again(outcome):
    c, session, rec = make(outcome)
    with pytest.raises(PolarSearchError) as info:
        c.post(ML + "/models/m1/_predict", body={"parameters": {"input": ["a"]}})
    assert len(session.sent) == 1
    assert "retry_predict" in str(info.value)
    assert "not sent again" in str(info.value)


def test_the_client_default_can_allow_predict_resends():
    c, session, rec = make(READ_TIMEOUT, retry_predict=True)
    assert c.post(ML + "/models/m1/_predict", body={"parameters": {}}) == {"ok": True}
    assert len(session.sent) == 2
    # and a caller can still refuse for one request
    c, session, rec = make(READ_TIMEOUT, retry_predict=True)
    with pytest.raises(PolarSearchError):
        c.post(ML + "/models/m1/_predict", body={"parameters": {}}, resend=False)
    assert len(session.sent) == 1


@pytest.mark.parametrize("outcome", [REFUSED, Answer(429, "Too Many Requests"), Answer(503, "busy"),
                                     Answer(500, error_body(500, "Fetching master key timed out."))])
def test_a_predict_the_server_never_acted_on_is_sent_again(outcome):
    c, session, rec = make(outcome)
    assert c.post(ML + "/models/m1/_predict", body={"parameters": {}}) == {"ok": True}
    assert len(session.sent) == 2


# -- waits ----------------------------------------------------------------------------------------------------
def test_retry_after_seconds_and_date():
    c, session, rec = make(Answer(429, "slow down", {"Retry-After": "7"}),
                           Answer(503, "busy", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), Answer(429, "x"))
    c.get("_cluster/settings")
    # 7 s as asked; a date in the past asks for nothing, so the backoff applies; no header: the backoff
    assert rec.sleeps == [7.0, 1.0, 2.0]


def test_master_key_waits_at_least_five_seconds():
    c, session, rec = make(Answer(500, error_body(500, "Fetching master key timed out.", "m_l_exception")))
    c.post(ML + "/models/m1/_predict", body={})
    assert rec.sleeps == [5.0]


# -- warnings ----------------------------------------------------------------------------------------------------
def test_each_retry_warns_with_the_request_and_the_reason_never_the_body_or_a_secret():
    c, session, rec = make(Answer(503, error_body(503, "No shard available, token " + SECRET)), READ_TIMEOUT)
    c.put(ML + "/connectors/c1", body={"credential": {"api_key": "BODY-SECRET-123"}})
    assert len(rec.warnings) == 2
    first, second = rec.warnings
    assert first.startswith("PUT %s/connectors/c1: HTTP 503: No shard available" % ML)
    assert "attempt 2 of 4" in first and "attempt 3 of 4" in second
    assert "no answer from search.example.com:9200 within 30 s" in second
    for warning in rec.warnings:
        assert SECRET not in warning and "BODY-SECRET-123" not in warning


def test_no_warning_callback_is_fine():
    c = PolarSearchClient(BASE, ScriptedSession(Answer(503, "busy")), sleep=lambda s: None)
    assert c.get("x") == {"ok": True}


# -- errors that name the fix ----------------------------------------------------------------------------------
def test_401_names_the_user_and_the_credential_source_never_the_password():
    c, session, rec = make(FAILURES["401"][0], user="ml_user", credential_source="POLARSEARCH_USER_PASSWORD")
    with pytest.raises(PolarSearchError) as info:
        c.get("_cluster/settings")
    message = str(info.value)
    assert message.startswith("GET _cluster/settings failed: HTTP 401: Unauthorized: ")
    assert "'ml_user'" in message and "POLARSEARCH_USER_PASSWORD" in message
    assert "check the credentials" in message and "user_password" in message and "username and password" in message
    assert SECRET not in message
    assert info.value.status == 401


def test_401_without_credentials_says_to_set_them():
    c, session, rec = make(FAILURES["401"][0])
    with pytest.raises(PolarSearchError) as info:
        c.get("_cluster/settings")
    assert "no credentials were given" in str(info.value)


def test_a_model_service_401_is_not_blamed_on_the_cluster_credentials():
    reason = 'Error from remote service: {"error":{"message":"Incorrect API key provided."}}'
    c, session, rec = make(Answer(401, error_body(401, reason)), user="admin")
    with pytest.raises(PolarSearchError) as info:
        c.post(ML + "/models/m1/_predict", body={})
    assert str(info.value) == "POST %s/models/m1/_predict failed: HTTP 401: %s" % (ML, reason)


def test_403_quotes_the_missing_permission_and_names_the_action():
    reason = ("no permissions for [cluster:admin/settings/update] and User [name=ml_user, backend_roles=[team_a], "
              "requestedTenant=null]")
    c, session, rec = make(Answer(403, error_body(403, reason, "security_exception")), user="ml_user")
    with pytest.raises(PolarSearchError) as info:
        c.put("_cluster/settings", body={"persistent": {}})
    message = str(info.value)
    assert message.startswith("PUT _cluster/settings failed: HTTP 403: " + reason)
    assert "'ml_user' lacks the permission cluster:admin/settings/update needed for PUT _cluster/settings" in message
    assert info.value.reason == reason
    assert len(session.sent) == 1


def test_an_ml_commons_403_keeps_its_own_reason():
    c, session, rec = make(Answer(403, error_body(403, "Model is disabled.")), user="admin")
    with pytest.raises(PolarSearchError) as info:
        c.post(ML + "/models/m1/_predict", body={})
    assert str(info.value).endswith("HTTP 403: Model is disabled.")


def test_a_read_timeout_names_the_host_and_the_seconds():
    c, session, rec = make(READ_TIMEOUT, READ_TIMEOUT, retries=1, timeout=12.5)
    with pytest.raises(PolarSearchError) as info:
        c.get("_cluster/settings")
    assert str(info.value).startswith("GET _cluster/settings failed after 2 attempt(s): no answer from "
                                      "search.example.com:9200 within 12.5 s (timeout)")


def test_a_connect_timeout_names_the_host_and_the_connect_timeout():
    c, session, rec = make(*([CONNECT_TIMEOUT] * 4), connect_timeout=4)
    with pytest.raises(PolarSearchError) as info:
        c.get("_cluster/settings")
    assert "could not connect to search.example.com:9200 within 4 s (connect_timeout)" in str(info.value)


def test_an_invalid_url_is_not_retried_and_says_check_host():
    c, session, rec = make(BAD_URL)
    with pytest.raises(PolarSearchError) as info:
        c.get("_cluster/settings")
    assert "check host" in str(info.value)
    assert len(session.sent) == 1


# -- a 2xx answer that is not JSON ------------------------------------------------------------------------------
def test_a_2xx_html_page_is_a_clear_error_not_a_string():
    page = "<html><head><title>PolarSearch console</title></head><body>" + "x" * 500 + SECRET + "</body></html>"
    session = ScriptedSession(Answer(200, page))
    session.outcomes[0].headers = {"Content-Type": "text/html; charset=utf-8"}
    c = PolarSearchClient(BASE, session, secrets=[SECRET], sleep=lambda s: None)
    with pytest.raises(PolarSearchError) as info:
        c.get("_cluster/settings")
    message = str(info.value)
    assert message.startswith("GET %s/_cluster/settings answered HTTP 200 with text/html; charset=utf-8, not JSON: "
                              % BASE)
    assert "PolarSearch console" in message
    assert len(message) < 600  # the first ~200 characters only
    assert "check host and port" in message
    assert SECRET not in message
    assert len(session.sent) == 1


def test_search_on_a_non_json_answer_fails_cleanly():
    c = PolarSearchClient(BASE, ScriptedSession(Answer(200, "OK")), sleep=lambda s: None)
    with pytest.raises(PolarSearchError, match="not JSON"):
        c.search(ML + "/models/_search", {"match_all": {}})


def test_an_empty_2xx_answer_is_an_error_not_an_empty_dict():
    c = PolarSearchClient(BASE, ScriptedSession(Answer(200, "")), sleep=lambda s: None)
    with pytest.raises(PolarSearchError, match="answered HTTP 200 with .*an empty body, not a JSON object"):
        c.get("x")


def test_the_module_has_no_other_retry_statuses():
    # 500 without the master key text, 409 and 404 are the server's word, not a passing state
    for status in (400, 401, 403, 404, 409, 500):
        assert status not in client_mod.BUSY_STATUSES | client_mod.LOST_STATUSES


@pytest.mark.parametrize("text", ['"OK"', "42", "true"])
def test_a_2xx_json_scalar_is_an_error_not_a_string(text):
    session = ScriptedSession(Answer(200, text))
    session.outcomes[0].headers = {"Content-Type": "application/json"}
    c = PolarSearchClient(BASE, session, sleep=lambda s: None)
    with pytest.raises(PolarSearchError, match="not a JSON object"):
        c.get("_cluster/settings")
