# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server's version, read once per run, and the table of version-dependent rules."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import server_rules
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_connector as connector_module
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_ml_stack as stack_module
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_model as model_module

from fake_server import FakeServer, PipelineServer, default_action

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "modules"))
from test_polarsearch_ml_stack import API_KEY, args, stack_of  # noqa: E402  pylint: disable=wrong-import-position

KEY = "sk-version-key-0001"


def connector(**overrides):
    out = {"name": "versioned", "version": "1", "parameters": {"model": "m"}, "credential": {"api_key": KEY},
           "actions": [default_action()]}
    out.update(overrides)
    return out


def version_reads(server):
    return [r.path for r in server.requests if r.method == "GET" and r.path in ("", "_cat/plugins")]


def test_every_rule_names_its_first_version_and_its_source():
    assert len(server_rules.BY_KEY) == len(server_rules.RULES)
    for rule in server_rules.RULES:
        assert rule.kind in (server_rules.FIELD, server_rules.PROTOCOL, server_rules.SETTING, server_rules.RULE)
        assert len(rule.since) == 3 and rule.since >= (2, 0, 0) and rule.source.strip()


@pytest.mark.parametrize("text, expected", [("2.19.1.0", (2, 19, 1)), ("3.6.0", (3, 6, 0)),
                                            ("3.9.0-SNAPSHOT", (3, 9, 0)), ("3.1", (3, 1, 0)), ("x", None)])
def test_parse_version(text, expected):
    assert server_rules.parse_version(text) == expected


@pytest.mark.parametrize("overrides, option, needs", [
    ({"client_config": {"skip_ssl_verification": True}}, "client_config.skip_ssl_verification", "3.5"),
    ({"actions": [dict(default_action(), name="embed_one")]}, "actions[0].name", "3.5"),
    ({"actions": [dict(default_action(), supports_structured_output=True)]},
     "actions[0].supports_structured_output", "3.7"),
])
def test_a_field_newer_than_the_server_fails_before_any_write(fresh, run, overrides, option, needs):
    server = fresh(version="2.19.1")
    result = run(connector_module, connector(**overrides))
    assert result["failed"] is True
    assert result["msg"].startswith("%s needs ML Commons %s or later; this server runs 2.19.1" % (option, needs))
    assert server.writes == [] and server.connectors == {}
    assert version_reads(server) == ["", "_cat/plugins"]


def test_the_fake_server_drops_what_its_version_lacks_as_the_real_one_does(fresh):
    """Observed on 2.19.1 (docs/local-cluster.md): 200, and the fields are gone."""
    old = fresh(version="2.19.1")
    body = connector(protocol="http", client_config={"skip_ssl_verification": True},
                     actions=[dict(default_action(), name="embed_one", supports_structured_output=True)])
    status, answer = old.route("POST", "_plugins/_ml/connectors/_create", {}, copy.deepcopy(body))
    stored = old.connectors[answer["connector_id"]]
    assert status == 200 and "skip_ssl_verification" not in stored["client_config"]
    assert "name" not in stored["actions"][0] and "supports_structured_output" not in stored["actions"][0]
    new = FakeServer(version="3.6.0")
    stored = new.connectors[new.route("POST", "_plugins/_ml/connectors/_create", {}, copy.deepcopy(body))[1][
        "connector_id"]]
    assert stored["client_config"]["skip_ssl_verification"] is True and stored["actions"][0]["name"] == "embed_one"
    assert "supports_structured_output" not in stored["actions"][0]


def test_a_field_the_server_has_is_written_and_converges(fresh, run):
    server = fresh(version="3.6.0")
    options = connector(client_config={"skip_ssl_verification": True},
                        actions=[dict(default_action(), name="embed_one")])
    assert run(connector_module, options)["changed"] is True
    again = run(connector_module, options)
    assert again["changed"] is False and again["failed"] is False
    refused = run(connector_module, connector(actions=[dict(default_action(), supports_structured_output=True)]))
    assert refused["failed"] is True and "needs ML Commons 3.7 or later; this server runs 3.6.0" in refused["msg"]
    assert len(server.connectors) == 1


def test_a_connector_without_versioned_fields_reads_no_version(fresh, run):
    server = fresh(version="2.19.1")
    assert run(connector_module, connector())["changed"] is True
    assert version_reads(server) == []


def test_protocols_follow_the_version(fresh, run):
    server = fresh(version="3.2.0")
    server.set_setting("plugins.ml_commons.mcp_connector_enabled", "true")
    result = run(connector_module, {"name": "mcp", "version": "1", "protocol": "mcp_streamable_http",
                                    "url": "https://mcp.example.com"})
    assert result["failed"] is True
    assert result["msg"].startswith("protocol mcp_streamable_http needs ML Commons 3.3 or later; this server runs 3.2.0")
    assert server.writes == []


def test_without_cat_plugins_the_ml_version_is_the_opensearch_version(fresh, run):
    server = fresh(version="2.19.1", plugins_readable=False)
    result = run(connector_module, connector(client_config={"skip_ssl_verification": True}))
    assert result["failed"] is True and "this server runs 2.19.1" in result["msg"] and server.writes == []


def test_a_user_who_may_read_no_version_is_warned_and_not_checked(fresh, run_warned):
    server = fresh(version="3.6.0", plugins_readable=False, root_readable=False)
    result = run_warned(connector_module, connector(client_config={"skip_ssl_verification": True}))
    assert result["changed"] is True and len(server.connectors) == 1
    assert any("could not be read" in w for w in result["warnings"])


def test_a_stack_reads_the_version_once_and_fails_before_its_first_write(monkeypatch, clock, run):
    server = PipelineServer(version="2.19.1").install(monkeypatch)
    stack = stack_of()
    for entry in stack["present"]:
        entry["connector"]["client_config"] = {"skip_ssl_verification": True}
    result = run(stack_module, args(stack), extra_secrets=[API_KEY, "fp-key-5678"])
    assert result["failed"] is True and server.writes == []
    assert "client_config.skip_ssl_verification needs ML Commons 3.5 or later; this server runs 2.19.1" in result["msg"]
    assert version_reads(server) == ["", "_cat/plugins"]


def test_a_stack_on_a_new_enough_server_reads_the_version_once(monkeypatch, clock, run):
    server = PipelineServer(version="3.6.0").install(monkeypatch)
    stack = stack_of()
    for entry in stack["present"]:
        entry["connector"]["client_config"] = {"skip_ssl_verification": True}
    result = run(stack_module, args(stack), extra_secrets=[API_KEY, "fp-key-5678"])
    assert result["failed"] is False, result["msg"]
    assert version_reads(server) == ["", "_cat/plugins"]
    assert all(c["client_config"]["skip_ssl_verification"] is True for c in server.connectors.values())


@pytest.mark.parametrize("version, update_status, delete_status, safe_delete", [
    ("2.11.0", 500, 500, False), ("2.12.0", 400, 409, False), ("2.19.1", 400, 409, True), ("3.6.0", 400, 409, True)])
def test_the_fake_server_follows_the_rules_that_changed(version, update_status, delete_status, safe_delete):
    server = FakeServer(version=version)
    cid = server.add_connector("used")
    server.add_model("user", cid, state="DEPLOYED")
    assert server.route("GET", "_cluster/settings", {"include_defaults": "true", "flat_settings": "true"}, None)[1][
        "defaults"].get("plugins.ml_commons.safe_delete_model") == ("false" if safe_delete else None)
    assert server._dispatch("PUT", "_plugins/_ml/connectors/%s" % cid, {}, {"description": "x"})[0] == update_status
    assert server._dispatch("DELETE", "_plugins/_ml/connectors/%s" % cid, {}, None)[0] == delete_status


@pytest.mark.parametrize("status", [400, 403, 404, 501])
def test_a_gateway_that_refuses_cat_plugins_falls_back_to_the_opensearch_version(fresh, run, status):
    server = fresh(version="2.19.1")
    server.fail_next("GET", r"^_cat/plugins$", status=status)
    result = run(connector_module, connector(client_config={"skip_ssl_verification": True}))
    assert result["failed"] is True and "this server runs 2.19.1" in result["msg"] and server.writes == []


@pytest.mark.parametrize("overrides, option, needs", [
    ({"interface": {"input": "{}"}}, "interface", "2.14"),
    ({"is_enabled": False}, "is_enabled", "2.12"),
    ({"rate_limiter": {"limit": "1", "unit": "SECONDS"}}, "rate_limiter", "2.12"),
])
def test_a_model_field_newer_than_the_server_fails_before_any_write(fresh, run, overrides, option, needs):
    server = fresh(version="2.11.0")
    cid = server.add_connector("versioned-connector")
    result = run(model_module, dict({"name": "versioned-model", "connector_id": cid, "state": "present"}, **overrides))
    assert result["failed"] is True
    assert result["msg"].startswith("%s needs ML Commons %s or later; this server runs 2.11" % (option, needs)), \
        result["msg"]
    assert server.writes == [] and server.models == {}


def test_a_model_without_versioned_fields_reads_no_version(fresh, run):
    server = fresh(version="2.11.0")
    cid = server.add_connector("versioned-connector")
    result = run(model_module, {"name": "versioned-model", "connector_id": cid, "state": "present"})
    assert result["failed"] is False, result["msg"]
    assert version_reads(server) == []
