# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest
import requests

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.connection import (
    ConnectionOptions,
    ConnectionOptionsError,
)
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_cluster_settings as settings_module

PW = "S3cr3t:With:Colons"
READ_ONLY = {"persistent": {"plugins.ml_commons.only_run_on_ml_node": True}}


def options(**params):
    base = {name: spec.get("default") for name, spec in ConnectionOptions.ARGUMENT_SPEC.items()}
    base.update(params)
    return ConnectionOptions(base)


# -- base URL -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("host,scheme,url", [
    ("pc-abc.polardbsearch.rds.aliyuncs.com:3001", "https", "https://pc-abc.polardbsearch.rds.aliyuncs.com:3001"),
    ("localhost:9200", "http", "http://localhost:9200"),
    ("https://127.0.0.1:9200", "http", "https://127.0.0.1:9200"),
    ("http://127.0.0.1:9200/", "https", "http://127.0.0.1:9200"),
    ("  search.local:9200  ", "https", "https://search.local:9200"),
    ("HTTPS://search.local", "http", "HTTPS://search.local"),
])
def test_base_url(host, scheme, url):
    assert options(host=host, scheme=scheme).base_url() == url


def test_full_url_with_another_scheme_fails():
    with pytest.raises(ConnectionOptionsError, match="scheme 'ftp'"):
        options(host="ftp://search.local").base_url()


@pytest.mark.parametrize("host", [None, "", "   "])
def test_missing_host_fails_naming_the_option_and_the_variables(host):
    with pytest.raises(ConnectionOptionsError) as info:
        options(host=host).base_url()
    message = str(info.value)
    assert "host" in message
    assert "POLARSEARCH_HOST_PORT" in message and "POLARSEARCH_URL" in message


# -- authentication -------------------------------------------------------------------------------------
def test_user_password_is_split_at_the_first_colon():
    opts = options(user_password="admin:" + PW)
    assert opts.auth() == ("admin", PW)
    assert PW in opts.secrets and "admin:" + PW in opts.secrets


def test_username_and_password():
    opts = options(username="admin", password=PW)
    assert opts.auth() == ("admin", PW)
    assert opts.secrets == [PW]


def test_no_credentials_means_no_auth():
    assert options().auth() is None
    assert options().secrets == []


@pytest.mark.parametrize("params,words", [
    ({"user_password": "admin:x", "username": "admin"}, ["mutually exclusive"]),
    ({"user_password": "admin:x", "password": "x"}, ["mutually exclusive"]),
    ({"user_password": "no-colon-here"}, ["user_password", "user:password"]),
    ({"password": "x"}, ["username"]),
    ({"username": "admin"}, ["password"]),
])
def test_bad_credential_combinations(params, words):
    with pytest.raises(ConnectionOptionsError) as info:
        options(**params).auth()
    for word in words:
        assert word in str(info.value)
    assert "no-colon-here" not in str(info.value)


# -- TLS, timeout, retries ----------------------------------------------------------------------------------
def test_tls_options():
    assert options().tls() == (True, None)
    assert options(validate_certs=False, ca_path="/ca.pem").tls() == (False, None)
    assert options(ca_path="/ca.pem").tls() == ("/ca.pem", None)
    assert options(client_cert="/c.pem").tls() == (True, "/c.pem")
    assert options(client_cert="/c.pem", client_key="/k.pem").tls() == (True, ("/c.pem", "/k.pem"))
    with pytest.raises(ConnectionOptionsError, match="client_cert"):
        options(client_key="/k.pem").tls()


def test_client_is_configured_from_the_options(server, tmp_path):
    session = requests.Session()
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nx\n")
    client = options(host="h:9200", user_password="admin:" + PW, ca_path=str(ca), timeout=7.5, retries=5).client(
        extra_secrets=["extra-secret", ""], session=session)
    assert client.base_url == "https://h:9200"
    assert client.session is session
    assert session.auth == ("admin", PW)
    assert session.verify == str(ca)
    assert client.verify == str(ca)  # passed with each request, so the environment's bundle cannot replace it
    assert session.trust_env is True  # proxy variables still apply
    assert client.timeout == 7.5
    assert client.retries == 5
    assert set(client.secrets) == {"admin:" + PW, PW, "extra-secret"}


@pytest.mark.parametrize("params,option", [({"timeout": 0}, "timeout"), ({"retries": -1}, "retries")])
def test_bad_timeout_or_retries(params, option):
    with pytest.raises(ConnectionOptionsError, match=option):
        options(host="h", **params).client()


def test_retries_zero_is_allowed(server):
    assert options(host="h", retries=0).client().retries == 0


# -- through a module: env fallbacks and failures --------------------------------------------------------------
def test_module_uses_host_and_scheme(run, server):
    result = run(settings_module, dict(READ_ONLY, host="search.local:9200", scheme="http"), connection=False)
    assert result["failed"] is False
    assert server.requests[0].url == "http://search.local:9200/_cluster/settings"
    assert server.requests[0].auth is None
    assert server.requests[0].verify is True


def test_module_user_password_reaches_the_session(run, server):
    run(settings_module, dict(READ_ONLY, host="h:1", user_password="admin:" + PW, validate_certs=False),
        connection=False)
    assert server.requests[0].auth == ("admin", PW)
    assert server.requests[0].verify is False


def test_env_host_port_comes_before_env_url(run, server, monkeypatch):
    monkeypatch.setenv("POLARSEARCH_HOST_PORT", "from-host-port:3001")
    monkeypatch.setenv("POLARSEARCH_URL", "http://from-url:9200")
    run(settings_module, READ_ONLY, connection=False)
    assert server.requests[0].url == "https://from-host-port:3001/_cluster/settings"


def test_env_url_is_the_second_fallback(run, server, monkeypatch):
    monkeypatch.setenv("POLARSEARCH_URL", "http://from-url:9200")
    run(settings_module, READ_ONLY, connection=False)
    assert server.requests[0].url == "http://from-url:9200/_cluster/settings"


def test_host_option_beats_the_environment(run, server, monkeypatch):
    monkeypatch.setenv("POLARSEARCH_HOST_PORT", "from-env:3001")
    run(settings_module, dict(READ_ONLY, host="from-option:3001"), connection=False)
    assert server.requests[0].url == "https://from-option:3001/_cluster/settings"


def test_env_credentials(run, server, monkeypatch):
    monkeypatch.setenv("POLARSEARCH_USER_PASSWORD", "envuser:" + PW)
    run(settings_module, dict(READ_ONLY, host="h:1"), connection=False, extra_secrets=[PW])
    assert server.requests[0].auth == ("envuser", PW)


def test_env_username_and_password(run, server, monkeypatch):
    monkeypatch.setenv("POLARSEARCH_USERNAME", "envuser")
    monkeypatch.setenv("POLARSEARCH_PASSWORD", PW)
    run(settings_module, dict(READ_ONLY, host="h:1"), connection=False, extra_secrets=[PW])
    assert server.requests[0].auth == ("envuser", PW)


def test_missing_host_fails_before_any_request(run, server):
    result = run(settings_module, READ_ONLY, connection=False)
    assert result["failed"] is True
    assert "POLARSEARCH_HOST_PORT" in result["msg"]
    assert server.requests == []


def test_option_forms_are_mutually_exclusive(run, server):
    result = run(settings_module, dict(READ_ONLY, host="h", username="admin", password=PW,
                                       user_password="admin:" + PW), connection=False)
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]
    assert server.requests == []
    assert PW not in json.dumps(result)


def test_env_forms_are_mutually_exclusive(run, server, monkeypatch):
    monkeypatch.setenv("POLARSEARCH_USERNAME", "envuser")
    monkeypatch.setenv("POLARSEARCH_PASSWORD", PW)
    monkeypatch.setenv("POLARSEARCH_USER_PASSWORD", "envuser:" + PW)
    result = run(settings_module, dict(READ_ONLY, host="h"), connection=False, extra_secrets=[PW])
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]
    assert server.requests == []


def test_user_password_without_colon_fails_without_showing_it(run, server):
    result = run(settings_module, dict(READ_ONLY, host="h", user_password="JustASecretNoColon"), connection=False)
    assert result["failed"] is True
    assert "user_password" in result["msg"]
    assert server.requests == []


def test_unreachable_host_fails_with_the_request_named(run, server):
    server.fail_next("GET", "_cluster/settings", exc=requests.exceptions.ConnectionError("Connection refused"),
                     times=99)
    result = run(settings_module, dict(READ_ONLY, retries=2))
    assert result["failed"] is True
    assert result["msg"] == ("GET _cluster/settings failed after 3 attempt(s): nothing accepts connections at "
                             "search.example.com:9200 (connection refused): check host and port (Connection refused)")
    assert len(server.requests) == 3


# -- precedence: an option beats the environment; credential forms are never mixed -------------------------------
ENV_USER = "envuser"
ENV_PW = "Env-Pa55word-0042"
OPT_PW = "Opt-Pa55word-0043"


@pytest.mark.parametrize("environment,task,expected", [
    # the AWX case: username/password injected, user_password in the task
    ({"POLARSEARCH_USERNAME": ENV_USER, "POLARSEARCH_PASSWORD": ENV_PW}, {"user_password": "optuser:" + OPT_PW},
     ("optuser", OPT_PW)),
    # and the other way round
    ({"POLARSEARCH_USER_PASSWORD": ENV_USER + ":" + ENV_PW}, {"username": "optuser", "password": OPT_PW},
     ("optuser", OPT_PW)),
    # both forms in the environment, one in the task: the task decides
    ({"POLARSEARCH_USERNAME": ENV_USER, "POLARSEARCH_PASSWORD": ENV_PW,
      "POLARSEARCH_USER_PASSWORD": ENV_USER + ":" + ENV_PW}, {"user_password": "optuser:" + OPT_PW},
     ("optuser", OPT_PW)),
    # the same form in both places: the task decides, nothing is taken from the environment
    ({"POLARSEARCH_USERNAME": ENV_USER, "POLARSEARCH_PASSWORD": ENV_PW}, {"username": "optuser", "password": OPT_PW},
     ("optuser", OPT_PW)),
    ({"POLARSEARCH_USER_PASSWORD": ENV_USER + ":" + ENV_PW}, {"user_password": "optuser:" + OPT_PW},
     ("optuser", OPT_PW)),
    # nothing in the task: the environment, either form
    ({"POLARSEARCH_USERNAME": ENV_USER, "POLARSEARCH_PASSWORD": ENV_PW}, {}, (ENV_USER, ENV_PW)),
    ({"POLARSEARCH_USER_PASSWORD": ENV_USER + ":" + ENV_PW}, {}, (ENV_USER, ENV_PW)),
    # empty variables (what a credential injector writes for an empty field) count as unset
    ({"POLARSEARCH_USERNAME": "", "POLARSEARCH_PASSWORD": "", "POLARSEARCH_USER_PASSWORD": ENV_USER + ":" + ENV_PW},
     {}, (ENV_USER, ENV_PW)),
    ({"POLARSEARCH_USERNAME": "", "POLARSEARCH_PASSWORD": ""}, {}, None),
])
def test_credential_precedence(run, server, monkeypatch, environment, task, expected):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = run(settings_module, dict(READ_ONLY, host="h:1", **task), connection=False,
                 extra_secrets=[ENV_PW, OPT_PW])
    assert result["failed"] is False, result["msg"]
    assert server.requests[0].auth == expected


def test_a_task_username_is_never_completed_with_the_environment_password(run, server, monkeypatch):
    monkeypatch.setenv("POLARSEARCH_USERNAME", ENV_USER)
    monkeypatch.setenv("POLARSEARCH_PASSWORD", ENV_PW)
    result = run(settings_module, dict(READ_ONLY, host="h:1", username="optuser"), connection=False,
                 extra_secrets=[ENV_PW])
    assert result["failed"] is True
    assert "password" in result["msg"] and "POLARSEARCH_PASSWORD" in result["msg"]
    assert server.requests == []


def test_env_secrets_never_reach_the_result(run, server, monkeypatch):
    monkeypatch.setenv("POLARSEARCH_USER_PASSWORD", ENV_USER + ":" + ENV_PW)
    server.fail_next("GET", "_cluster/settings", 400, reason="echo " + ENV_PW)
    result = run(settings_module, dict(READ_ONLY, host="h:1"), connection=False, extra_secrets=[ENV_PW])
    assert result["failed"] is True
    assert ENV_PW not in json.dumps(result)


@pytest.mark.parametrize("variable,value,option,expected", [
    ("POLARSEARCH_CA_PATH", "{ca}", "ca_path", "{ca}"),
    ("POLARSEARCH_VALIDATE_CERTS", "false", "validate_certs", False),
    ("POLARSEARCH_VALIDATE_CERTS", "no", "validate_certs", False),
    ("POLARSEARCH_VALIDATE_CERTS", "true", "validate_certs", True),
])
def test_tls_environment_fallbacks(variable, value, option, expected, monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    monkeypatch.setenv(variable, value.format(ca=ca))
    verify = options(host="h").tls()[0]
    assert verify == (expected.format(ca=ca) if isinstance(expected, str) else expected)


def test_tls_options_beat_the_environment(monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    monkeypatch.setenv("POLARSEARCH_VALIDATE_CERTS", "false")
    monkeypatch.setenv("POLARSEARCH_CA_PATH", "/not/used.pem")
    assert options(host="h", validate_certs=True, ca_path=str(ca)).tls()[0] == str(ca)
    monkeypatch.setenv("POLARSEARCH_VALIDATE_CERTS", "true")
    assert options(host="h", validate_certs=False).tls()[0] is False


def test_a_bad_validate_certs_variable_names_it(monkeypatch):
    monkeypatch.setenv("POLARSEARCH_VALIDATE_CERTS", "sometimes")
    with pytest.raises(ConnectionOptionsError) as info:
        options(host="h").tls()
    assert "POLARSEARCH_VALIDATE_CERTS" in str(info.value) and "sometimes" in str(info.value)


@pytest.mark.parametrize("variable,value,attribute,expected", [
    ("POLARSEARCH_TIMEOUT", "12.5", "timeout", 12.5),
    ("POLARSEARCH_CONNECT_TIMEOUT", "3", "connect_timeout", 3.0),
    ("POLARSEARCH_RETRIES", "0", "retries", 0),
])
def test_timeout_and_retries_environment_fallbacks(server, monkeypatch, variable, value, attribute, expected):
    monkeypatch.setenv(variable, value)
    assert getattr(options(host="h").client(), attribute) == expected


@pytest.mark.parametrize("variable,value", [("POLARSEARCH_TIMEOUT", "soon"), ("POLARSEARCH_RETRIES", "2.5"),
                                            ("POLARSEARCH_CONNECT_TIMEOUT", "-1")])
def test_bad_numeric_variables_name_the_variable(server, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConnectionOptionsError, match=variable):
        options(host="h").client()


def test_timeout_options_beat_the_environment(server, monkeypatch):
    monkeypatch.setenv("POLARSEARCH_TIMEOUT", "99")
    monkeypatch.setenv("POLARSEARCH_CONNECT_TIMEOUT", "99")
    monkeypatch.setenv("POLARSEARCH_RETRIES", "9")
    c = options(host="h", timeout=5, connect_timeout=2, retries=1).client()
    assert (c.timeout, c.connect_timeout, c.retries) == (5, 2, 1)


def test_connect_and_read_timeouts_are_sent_separately(server, monkeypatch):
    seen = {}
    original = requests.Session.request

    def spy(session, method, url, **kwargs):
        seen.update(kwargs)
        return original(session, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    options(host="h", timeout=45, connect_timeout=4).client().get("_cluster/settings")
    assert seen["timeout"] == (4, 45)
    options(host="h").client().get("_cluster/settings")
    assert seen["timeout"] == (10.0, 30.0)


def test_the_module_no_longer_declares_env_fallbacks_in_its_argument_spec(module_spec):
    captured = module_spec(settings_module)
    for name in ("host", "username", "password", "user_password", "ca_path", "validate_certs"):
        assert "fallback" not in captured.argument_spec[name]
    assert captured.errors(dict(READ_ONLY, user_password="a:b", username="c")) == []


@pytest.mark.parametrize("host", ["https://admin:" + PW + "@h:9200", "admin:" + PW + "@h:9200"])
def test_credentials_in_host_are_refused_without_showing_them(host):
    with pytest.raises(ConnectionOptionsError) as info:
        options(host=host).base_url()
    assert "username" in str(info.value) and "user_password" in str(info.value)
    assert PW not in str(info.value)


def test_retry_warnings_never_show_an_environment_password(run_warned, server, monkeypatch):
    monkeypatch.setenv("POLARSEARCH_USER_PASSWORD", ENV_USER + ":" + ENV_PW)
    server.fail_next("GET", "_cluster/settings", 503, reason="busy for Basic " + ENV_PW)
    result = run_warned(settings_module, dict(READ_ONLY, host="h:1"), connection=False, extra_secrets=[ENV_PW])
    assert result["failed"] is False
    assert len(result["warnings"]) == 1
    assert ENV_PW not in json.dumps(result)


def test_an_environment_password_is_taken_as_it_is(monkeypatch):
    monkeypatch.setenv("POLARSEARCH_USERNAME", ENV_USER)
    monkeypatch.setenv("POLARSEARCH_PASSWORD", " spaced " + ENV_PW + " ")
    assert options(host="h").auth() == (ENV_USER, " spaced " + ENV_PW + " ")
