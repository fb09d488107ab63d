# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection failures from real sockets on 127.0.0.1: the message names the cause, the policy holds.

The servers copy what was seen from PolarSearch: plain ``http://`` to the HTTPS port is closed
without an answer; a wrong password gets 401 ``Unauthorized`` with ``WWW-Authenticate: Basic``.
"""

from __future__ import annotations

import socket

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.connection import ConnectionOptions

from net_servers import CertificateAuthority, RawServer, WebServer

ML = "_plugins/_ml"
PW = "Wr0ng-Pa55word-0815"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def client(host, **params):
    warnings = []
    base = {"host": host, "retries": 1}
    base.update(params)
    c = ConnectionOptions(base).client(warn=warnings.append)
    c._sleep = lambda seconds: None
    c.lookup_interval = 0
    return c, warnings


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_plain_http_to_an_https_port_says_use_https(tmp_path):
    ca = CertificateAuthority("ca")
    with WebServer(tls=ca.issue(tmp_path)) as server:
        c, warnings = client("http://127.0.0.1:%d" % server.port)
        with pytest.raises(PolarSearchError) as info:
            c.get("_cluster/settings")
    message = str(info.value)
    assert "closed the connection without an answer" in message
    assert "use https://" in message
    assert len(warnings) == 1  # a read may be sent again: it was, once


def test_https_to_a_plain_http_port_says_use_http():
    with WebServer() as server:
        c, warnings = client("https://127.0.0.1:%d" % server.port)
        with pytest.raises(PolarSearchError) as info:
            c.get("_cluster/settings")
    message = str(info.value)
    assert "does not serve HTTPS" in message and "use http://" in message
    assert warnings == []  # not cured by waiting: not retried


def test_a_refused_connection_names_host_and_port_and_is_retried_even_for_a_predict():
    port = free_port()
    c, warnings = client("http://127.0.0.1:%d" % port)
    with pytest.raises(PolarSearchError) as info:
        c.post("%s/models/m1/_predict" % ML, body={"parameters": {}})
    assert "nothing accepts connections at 127.0.0.1:%d (connection refused)" % port in str(info.value)
    assert "failed after 2 attempt(s)" in str(info.value)
    assert len(warnings) == 1


@pytest.mark.parametrize("mode", ["reset", "close"])
def test_a_predict_lost_after_sending_is_not_sent_again_but_a_get_is(mode):
    with RawServer(mode) as server:
        c, warnings = client("http://127.0.0.1:%d" % server.port)
        with pytest.raises(PolarSearchError) as info:
            c.post("%s/models/m1/_predict" % ML, body={"parameters": {"input": ["a"]}})
        assert server.connections == 1
        assert "retry_predict" in str(info.value)
        with pytest.raises(PolarSearchError):
            c.get("_cluster/settings")
        assert server.connections == 3


def test_a_read_timeout_names_host_and_seconds_and_a_predict_is_not_resent():
    with RawServer("hold") as server:
        c, warnings = client("127.0.0.1:%d" % server.port, scheme="http", timeout=0.3)
        with pytest.raises(PolarSearchError) as info:
            c.post("%s/models/m1/_predict" % ML, body={"parameters": {}})
        assert server.connections == 1
    assert "no answer from 127.0.0.1:%d within 0.3 s (timeout)" % server.port in str(info.value)


def test_a_predict_may_be_resent_when_the_caller_allows_it():
    with RawServer("reset") as server:
        c, warnings = client("http://127.0.0.1:%d" % server.port)
        with pytest.raises(PolarSearchError):
            c.post("%s/models/m1/_predict" % ML, body={"parameters": {}}, resend=True)
        assert server.connections == 2


def test_a_lost_create_is_looked_up_before_it_is_sent_again():
    looks = []
    with RawServer("reset") as server:
        c, warnings = client("http://127.0.0.1:%d" % server.port)
        answer = c.post("%s/connectors/_create" % ML, body={"name": "x"},
                        lookup=lambda: looks.append(1) or ({"connector_id": "c1"} if len(looks) == 2 else None))
        assert answer == {"connector_id": "c1"}
        assert server.connections == 1


def test_a_wrong_password_names_the_user_and_never_the_password():
    with WebServer() as server:
        server.users = {"ml_user": "the-right-one"}
        c, warnings = client(server.url, username="ml_user", password=PW)
        with pytest.raises(PolarSearchError) as info:
            c.get("_cluster/settings")
        assert len(server.seen) == 1
    message = str(info.value)
    assert "HTTP 401: Unauthorized" in message
    assert "'ml_user'" in message and "check the credentials" in message
    assert PW not in message


def test_a_console_page_on_2xx_names_the_url_and_what_came_back():
    with WebServer() as server:
        server.routes["/_cluster/settings"] = (200, {"Content-Type": "text/html"},
                                               "<!DOCTYPE html><html><title>Console login</title></html>")
        c, warnings = client(server.url)
        with pytest.raises(PolarSearchError) as info:
            c.get("_cluster/settings")
    message = str(info.value)
    assert "%s/_cluster/settings" % server.url in message
    assert "text/html" in message and "Console login" in message
    assert "not JSON" in message
