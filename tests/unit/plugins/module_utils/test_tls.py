# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS against a real HTTPS server on 127.0.0.1 signed by a private CA.

``requests`` lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` replace ``Session.verify``; these tests
point those variables at another CA's bundle and show that ``ca_path`` and ``validate_certs`` still
decide, and that without either the environment's bundle is used.
"""

from __future__ import annotations

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.connection import (
    ConnectionOptions,
    ConnectionOptionsError,
)

from net_servers import CertificateAuthority, ConnectProxy, WebServer

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

BUNDLE_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
              "NO_PROXY", "no_proxy")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    private = CertificateAuthority("polarsearch-test-private-ca")
    other = CertificateAuthority("some-corporate-ca")
    return {
        "private_ca": private.write(directory / "private-ca.pem"),
        "other_ca": other.write(directory / "other-ca.pem"),
        "server": private.issue(directory),
        "ip_only": private.issue(directory, names=("127.0.0.1",)),
    }


@pytest.fixture
def https(pki):
    with WebServer(tls=pki["server"]) as server:
        yield server


@pytest.fixture
def env(monkeypatch):
    for name in BUNDLE_VARS + PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def client(url, **params):
    base = {"host": url}
    base.update(params)
    return ConnectionOptions(base).client()


def settings(c):
    return c.get("_cluster/settings")


# -- the options win over the environment's bundle ---------------------------------------------------------
@pytest.mark.parametrize("variable", BUNDLE_VARS)
def test_ca_path_wins_over_an_environment_bundle_of_another_ca(https, pki, env, variable):
    env.setenv(variable, pki["other_ca"])
    assert settings(client(https.url, ca_path=pki["private_ca"]))["ok"] is True


@pytest.mark.parametrize("variable", BUNDLE_VARS)
def test_validate_certs_false_wins_over_an_environment_bundle(https, pki, env, variable):
    env.setenv(variable, pki["other_ca"])
    assert settings(client(https.url, validate_certs=False))["ok"] is True


def test_polarsearch_ca_path_variable_wins_over_requests_ca_bundle(https, pki, env):
    env.setenv("REQUESTS_CA_BUNDLE", pki["other_ca"])
    env.setenv("POLARSEARCH_CA_PATH", pki["private_ca"])
    assert settings(client(https.url))["ok"] is True


def test_polarsearch_validate_certs_variable_wins_over_requests_ca_bundle(https, pki, env):
    env.setenv("REQUESTS_CA_BUNDLE", pki["other_ca"])
    env.setenv("POLARSEARCH_VALIDATE_CERTS", "false")
    assert settings(client(https.url))["ok"] is True


# -- without an option the environment's bundle is honoured ---------------------------------------------
def test_without_options_the_environment_bundle_is_used(https, pki, env):
    env.setenv("REQUESTS_CA_BUNDLE", pki["private_ca"])
    assert settings(client(https.url))["ok"] is True


def test_validate_certs_true_alone_still_uses_the_environment_bundle(https, pki, env):
    env.setenv("CURL_CA_BUNDLE", pki["private_ca"])
    assert settings(client(https.url, validate_certs=True))["ok"] is True


def test_an_unknown_ca_fails_naming_ca_path_validate_certs_and_the_variable_used(https, pki, env):
    env.setenv("REQUESTS_CA_BUNDLE", pki["other_ca"])
    c = client(https.url, retries=2)
    with pytest.raises(PolarSearchError) as info:
        settings(c)
    message = str(info.value)
    assert "ca_path" in message and "validate_certs" in message
    assert "REQUESTS_CA_BUNDLE" in message and pki["other_ca"] in message
    assert "certificate" in message
    # verification errors are not cured by waiting: one attempt only
    assert len(https.seen) == 0
    assert "attempt" not in message


def test_an_unknown_ca_with_ca_path_names_that_file(https, pki, env):
    c = client(https.url, ca_path=pki["other_ca"])
    with pytest.raises(PolarSearchError) as info:
        settings(c)
    assert "ca_path %s" % pki["other_ca"] in str(info.value)


def test_a_certificate_for_another_name_says_so(pki, env):
    with WebServer(tls=pki["ip_only"]) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        with pytest.raises(PolarSearchError) as info:
            settings(client(url, ca_path=pki["private_ca"]))
    message = str(info.value)
    assert "localhost" in message and "validate_certs" in message
    assert "does not name" in message or "does not match" in message


def test_a_missing_ca_path_fails_before_any_request(pki, env, tmp_path):
    with pytest.raises(ConnectionOptionsError) as info:
        client("https://127.0.0.1:1", ca_path=str(tmp_path / "nope.pem"))
    assert "ca_path" in str(info.value) and "nope.pem" in str(info.value)


def test_a_missing_environment_bundle_is_a_clear_error(https, env, tmp_path):
    env.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "gone.pem"))
    with pytest.raises(PolarSearchError) as info:
        settings(client(https.url, retries=0))
    assert "gone.pem" in str(info.value)
    assert "ca_path" in str(info.value)


# -- proxies from the environment keep working ------------------------------------------------------------
def test_https_proxy_variable_is_used_with_ca_path(https, pki, env):
    env.setenv("REQUESTS_CA_BUNDLE", pki["other_ca"])
    with ConnectProxy() as proxy:
        env.setenv("HTTPS_PROXY", proxy.url)
        assert settings(client(https.url, ca_path=pki["private_ca"]))["ok"] is True
    assert proxy.targets == ["127.0.0.1:%d" % https.port]


def test_no_proxy_bypasses_the_proxy(https, pki, env):
    with ConnectProxy() as proxy:
        env.setenv("HTTPS_PROXY", proxy.url)
        env.setenv("NO_PROXY", "127.0.0.1")
        assert settings(client(https.url, ca_path=pki["private_ca"]))["ok"] is True
    assert proxy.targets == []


def test_an_unreadable_client_certificate_is_a_clear_error(https, pki, env, tmp_path):
    cert = tmp_path / "client.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nx\n")
    c = client(https.url, ca_path=pki["private_ca"], client_cert=str(cert), retries=0)
    cert.unlink()
    with pytest.raises(PolarSearchError) as info:
        settings(c)
    assert "client_cert" in str(info.value)
