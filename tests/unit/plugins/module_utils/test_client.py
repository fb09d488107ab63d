# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
import requests

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import (
    REDACTED,
    PolarSearchClient,
    PolarSearchError,
    redact,
    server_reason,
)

from fake_server import default_action

ML = "_plugins/_ml"
BASE = "https://search.example.com:9200"


@pytest.fixture
def client(server):
    return PolarSearchClient(BASE, requests.Session(), retries=3, secrets=["top-secret-value"])


def connector_body(name="emb"):
    return {"name": name, "version": "1", "protocol": "http", "credential": {"api_key": "k"},
            "actions": [default_action()]}


# -- plain requests -------------------------------------------------------------------------------
def test_get_sends_json_headers_timeout_and_full_url(client, server, monkeypatch):
    seen = {}
    original = requests.Session.request

    def spy(session, method, url, **kwargs):
        seen.update(kwargs, method=method, url=url)
        return original(session, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    assert client.get("_cluster/settings", params={"flat_settings": "true"})["persistent"] == {}
    assert seen["url"] == BASE + "/_cluster/settings"
    assert seen["method"] == "GET"
    assert seen["timeout"] == 30
    assert seen["params"] == {"flat_settings": "true"}
    assert seen["headers"] == {"Content-Type": "application/json", "Accept": "application/json"}


def test_leading_slash_and_trailing_slash_are_joined_once(server):
    client = PolarSearchClient(BASE + "/", requests.Session())
    client.get("/_cluster/settings")
    assert server.requests[-1].url == BASE + "/_cluster/settings"


def test_search_returns_ids_and_sources(client, server):
    a = server.add_connector("emb")
    server.add_connector("other")
    hits = client.search("%s/connectors/_search" % ML, {"term": {"name.keyword": "emb"}})
    assert [h["_id"] for h in hits] == [a]
    assert hits[0]["_source"]["name"] == "emb"
    assert "credential" not in hits[0]["_source"]
    assert server.requests[-1].body == {"query": {"term": {"name.keyword": "emb"}}, "size": 100}


def test_search_of_nothing_is_an_empty_list(client, server):
    assert client.search("%s/models/_search" % ML, {"term": {"name.keyword": "x"}}, size=5) == []


def test_missing_ok_turns_404_into_none(client, server):
    assert client.get("%s/connectors/nope" % ML, missing_ok=True) is None
    assert client.delete("%s/models/nope" % ML) is None


def test_404_without_missing_ok_is_an_error(client, server):
    with pytest.raises(PolarSearchError) as info:
        client.get("%s/models/nope" % ML)
    err = info.value
    assert err.status == 404
    assert err.method == "GET"
    assert err.path == "%s/models/nope" % ML
    assert err.reason == "Failed to find model with the provided model id: nope"
    assert str(err) == "GET %s/models/nope failed: HTTP 404: Failed to find model with the provided model id: nope" \
        % ML
    assert len(server.requests) == 1


def test_client_errors_are_not_retried(client, server, clock):
    with pytest.raises(PolarSearchError) as info:
        client.post("%s/connectors/_create" % ML, body={"name": "x"})
    assert info.value.status == 400
    assert "Connector version is null" in str(info.value)
    assert len(server.requests) == 1
    assert clock.client_sleeps == []


def test_an_empty_2xx_body_is_an_error_naming_the_request(client, server):
    """Every ML Commons and cluster API answers a JSON object; an empty 2xx body was cut short (or is not
    from the server), and a caller reading it as ``{}`` would fail with a KeyError further on."""
    server.fail_next("GET", "_cluster/settings", 200, body="")
    with pytest.raises(PolarSearchError) as caught:
        client.get("_cluster/settings")
    assert "GET https://search.example.com:9200/_cluster/settings answered HTTP 200 with text/html, an empty body" in str(
        caught.value)


# -- retries --------------------------------------------------------------------------------------
def test_503_then_200(client, server, clock):
    cid = server.add_connector("emb")
    server.fail_next("GET", "connectors/%s$" % cid, 503)
    assert client.get("%s/connectors/%s" % (ML, cid))["name"] == "emb"
    assert [r.method for r in server.requests] == ["GET", "GET"]
    assert clock.client_sleeps == [0.5]


@pytest.mark.parametrize("status", [429, 502, 504])
def test_other_retryable_statuses(client, server, clock, status):
    server.fail_next("GET", "_cluster/settings", status, times=2)
    assert "persistent" in client.get("_cluster/settings")
    assert len(server.requests) == 3
    assert clock.client_sleeps == [0.5, 1.0]


def test_connection_error_then_success(client, server, clock):
    server.fail_next("GET", "_cluster/settings", exc=requests.exceptions.ConnectionError("connection refused"))
    assert "persistent" in client.get("_cluster/settings")
    assert len(server.requests) == 2
    assert len(clock.client_sleeps) == 1


def test_timeout_is_retried_like_a_connection_error(client, server):
    server.fail_next("GET", "_cluster/settings", exc=requests.exceptions.ReadTimeout("read timed out"))
    assert "persistent" in client.get("_cluster/settings")
    assert len(server.requests) == 2


def test_master_key_404_then_success(client, server, clock):
    server.master_key_missing = 2
    answer = client.post("%s/connectors/_create" % ML, body=connector_body())
    assert answer["connector_id"] in server.connectors
    assert len(server.calls("POST", "_create$")) == 3
    # the server asks for about ten seconds: each wait is at least five
    assert len(clock.client_sleeps) == 2
    assert all(delay >= 5.0 for delay in clock.client_sleeps)


def test_master_key_404_is_retried_even_with_missing_ok(client, server):
    server.fail_next("GET", "connectors/x$", 404, reason="The ML encryption master key has not been initialized yet.")
    assert client.get("%s/connectors/x" % ML, missing_ok=True) is None
    assert len(server.requests) == 2


def test_backoff_grows_and_is_capped(server, clock):
    client = PolarSearchClient(BASE, requests.Session(), retries=6, backoff=1.0, max_backoff=4.0)
    server.fail_next("GET", "_cluster/settings", 503, times=6)
    client.get("_cluster/settings")
    assert clock.client_sleeps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_backoff_has_jitter_between_half_and_full_delay(server):
    draws = []
    client = PolarSearchClient(BASE, requests.Session(), retries=2, backoff=2.0)
    client._rand = lambda low, high: draws.append((low, high)) or low
    server.fail_next("GET", "_cluster/settings", 503, times=2)
    client.get("_cluster/settings")
    assert draws == [(1.0, 2.0), (2.0, 4.0)]


def test_retry_after_header_is_honoured_up_to_30s(client, server, clock):
    server.fail_next("GET", "_cluster/settings", 429, reason="Too Many Requests", headers={"Retry-After": "12"})
    server.fail_next("GET", "_cluster/settings", 429, reason="Too Many Requests", headers={"Retry-After": "600"})
    client.get("_cluster/settings")
    assert clock.client_sleeps == [12.0, 30.0]


def test_retries_exhausted_names_method_path_status_and_reason(client, server, clock):
    server.fail_next("PUT", "connectors/abc$", 503, reason="No shard available for [update]", times=99)
    with pytest.raises(PolarSearchError) as info:
        client.put("%s/connectors/abc" % ML, body={"description": "x"})
    err = info.value
    assert str(err) == "PUT %s/connectors/abc failed: HTTP 503: No shard available for [update]" % ML
    assert (err.method, err.path, err.status, err.reason) == ("PUT", "%s/connectors/abc" % ML, 503,
                                                              "No shard available for [update]")
    assert len(server.requests) == 4
    assert len(clock.client_sleeps) == 3


def test_connection_errors_exhausted(server):
    client = PolarSearchClient(BASE, requests.Session(), retries=2)
    server.fail_next("GET", "_cluster/settings", exc=requests.exceptions.ConnectionError("Name or service not known"),
                     times=99)
    with pytest.raises(PolarSearchError) as info:
        client.get("_cluster/settings")
    assert str(info.value) == ("GET _cluster/settings failed after 3 attempt(s): the host name search.example.com "
                               "cannot be resolved: check host (Name or service not known)")
    assert info.value.status is None
    assert info.value.method == "GET"
    assert len(server.requests) == 3


def test_retries_zero_means_one_attempt(server, clock):
    client = PolarSearchClient(BASE, requests.Session(), retries=0)
    server.fail_next("GET", "_cluster/settings", 503)
    with pytest.raises(PolarSearchError):
        client.get("_cluster/settings")
    assert len(server.requests) == 1
    assert clock.client_sleeps == []


def test_non_json_error_page_is_reported_as_text(client, server):
    server.fail_next("GET", "_cluster/settings", 403, body="<html>403 Forbidden by gateway</html>")
    with pytest.raises(PolarSearchError) as info:
        client.get("_cluster/settings")
    assert str(info.value) == "GET _cluster/settings failed: HTTP 403: <html>403 Forbidden by gateway</html>"


# -- creating POSTs are never blindly repeated ------------------------------------------------------------
def _lookup(client, name):
    def lookup():
        hits = client.search("%s/connectors/_search" % ML, {"term": {"name.keyword": name}})
        return {"connector_id": hits[0]["_id"]} if hits else None
    return lookup


def test_create_that_failed_with_502_after_the_server_created_it_is_not_repeated(client, server):
    server.fail_next("POST", "connectors/_create$", 502, reason="Bad Gateway", process=True)
    answer = client.post("%s/connectors/_create" % ML, body=connector_body(), lookup=_lookup(client, "emb"))
    assert list(server.connectors) == [answer["connector_id"]]
    assert [(r.method, r.path) for r in server.requests] == [
        ("POST", "%s/connectors/_create" % ML), ("POST", "%s/connectors/_search" % ML)]


def test_create_lost_on_a_connection_error_after_the_server_created_it_is_not_repeated(client, server):
    server.fail_next("POST", "connectors/_create$", exc=requests.exceptions.ConnectionError("reset by peer"),
                     process=True)
    answer = client.post("%s/connectors/_create" % ML, body=connector_body(), lookup=_lookup(client, "emb"))
    assert list(server.connectors) == [answer["connector_id"]]
    assert len(server.calls("POST", "_create$")) == 1


def test_create_that_really_failed_is_sent_again_after_the_lookup(client, server):
    server.fail_next("POST", "connectors/_create$", 503)
    answer = client.post("%s/connectors/_create" % ML, body=connector_body(), lookup=_lookup(client, "emb"))
    assert list(server.connectors) == [answer["connector_id"]]
    assert [(r.method, r.path.rsplit("/", 1)[1]) for r in server.requests] == [
        ("POST", "_create"), ("POST", "_search"), ("POST", "_create")]


def test_create_processed_on_the_last_attempt_is_found_instead_of_failing(server, clock):
    client = PolarSearchClient(BASE, requests.Session(), retries=0)
    server.fail_next("POST", "connectors/_create$", 502, reason="Bad Gateway", process=True)
    answer = client.post("%s/connectors/_create" % ML, body=connector_body(), lookup=_lookup(client, "emb"))
    assert list(server.connectors) == [answer["connector_id"]]
    assert [(r.method, r.path.rsplit("/", 1)[1]) for r in server.requests] == [("POST", "_create"), ("POST", "_search")]


def test_create_lost_on_the_last_connection_error_is_found_instead_of_failing(server, clock):
    client = PolarSearchClient(BASE, requests.Session(), retries=0)
    server.fail_next("POST", "connectors/_create$", exc=requests.exceptions.ConnectionError("reset by peer"),
                     process=True)
    answer = client.post("%s/connectors/_create" % ML, body=connector_body(), lookup=_lookup(client, "emb"))
    assert list(server.connectors) == [answer["connector_id"]]


def test_create_that_failed_on_the_last_attempt_and_is_not_found_is_an_error(server, clock):
    client = PolarSearchClient(BASE, requests.Session(), retries=0)
    server.fail_next("POST", "connectors/_create$", 502, reason="Bad Gateway")
    with pytest.raises(PolarSearchError) as info:
        client.post("%s/connectors/_create" % ML, body=connector_body(), lookup=_lookup(client, "emb"))
    assert info.value.status == 502
    assert server.connectors == {}


# -- redaction ---------------------------------------------------------------------------------------------
def test_secrets_in_the_reason_are_redacted(client, server):
    server.fail_next("POST", "connectors/_create$", 400, reason="bad header Bearer top-secret-value in request")
    with pytest.raises(PolarSearchError) as info:
        client.post("%s/connectors/_create" % ML, body=connector_body())
    assert "top-secret-value" not in str(info.value)
    assert "top-secret-value" not in info.value.reason
    assert info.value.reason == "bad header Bearer %s in request" % REDACTED
    assert info.value.body is None


def test_secrets_in_a_connection_error_are_redacted(client, server):
    server.fail_next("GET", "_cluster/settings", exc=requests.exceptions.ConnectionError("top-secret-value"),
                     times=9)
    with pytest.raises(PolarSearchError) as info:
        client.get("_cluster/settings")
    assert "top-secret-value" not in str(info.value)


def test_redact_replaces_longer_secrets_first():
    assert redact("pw=abcdef and abc", ["abc", "abcdef"]) == "pw=%s and %s" % (REDACTED, REDACTED)
    assert redact(None, ["x"]) is None
    assert redact("nothing", ["", None]) == "nothing"


@pytest.mark.parametrize("body,reason", [
    ({"error": {"root_cause": [{"reason": "root"}], "reason": "top"}}, "top"),
    ({"error": {"root_cause": [{"reason": "root"}], "type": "x"}}, "root"),
    ({"error": {"type": "x"}}, '{"type": "x"}'),
    ({"error": "plain text error"}, "plain text error"),
    ({"_id": "a", "result": "not_found"}, "result: not_found"),
    ({"message": "hello"}, '{"message": "hello"}'),
    ("gateway timeout page", "gateway timeout page"),
    ("", ""),
    (None, ""),
])
def test_server_reason(body, reason):
    assert server_reason(body) == reason
