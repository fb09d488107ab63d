# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""polarsearch_connector_info, run through main() against the in-memory ML Commons of fake_server."""

from __future__ import annotations

import json

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.stack import info
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_connector, polarsearch_connector_info

from fake_server import CONNECTION, ML
from plans import plan_text

pytestmark = pytest.mark.usefixtures("read_only")

FINGERPRINT = "hmac-sha256:v1:00aa:" + "f" * 64
PARAMETERS = {"endpoint": "127.0.0.1:18080", "model": "text-embedding-v4"}
ACTION = {
    "action_type": "PREDICT",
    "method": "POST",
    "url": "http://${parameters.endpoint}/v1/embeddings",
    "headers": {"Authorization": "Bearer ${credential.api_key}", "Content-Type": "application/json"},
    "request_body": '{ "model": "${parameters.model}", "input": ${parameters.input} }',
    "post_process_function": "connector.post_process.openai.embedding",
}
CLIENT_CONFIG = {"max_connection": 30, "connection_timeout": 30, "read_timeout": 30}


def add_connector(server, connector_id, name, **fields):
    """A connector as the server stores it: internal parameters, a stored credential, server-only fields."""
    parameters = dict(PARAMETERS, polarsearch_credential_fingerprint=FINGERPRINT,
                      polarsearch_replaces="old-connector")
    server.add_connector(name, parameters, connector_id=connector_id, description="%s connector" % name,
                         actions=[dict(ACTION, supports_structured_output=True)], client_config=CLIENT_CONFIG,
                         **fields)


@pytest.fixture
def cluster(server):
    """Four connectors and three remote models, on a server that sends stored credentials back."""
    server.leak_credentials = True
    add_connector(server, "c1", "embedding")
    add_connector(server, "c2", "rerank", access="private", backend_roles=["ml"], owner={"name": "admin"},
                  credential={"api_key": "leaked-secret"})
    add_connector(server, "c3", "twin")
    add_connector(server, "c4", "twin")
    for model_id, name, connector_id in (("m1", "embed-a", "c1"), ("m2", "embed-b", "c1"), ("m3", "rerank", "c2")):
        server.add_model(name, connector_id, state="DEPLOYED", model_id=model_id)
    return server


@pytest.fixture
def run_info(run_warned):
    """``run_info(check_mode=False, **args)``: the module result, with the warnings it gave."""
    return lambda check_mode=False, **args: run_warned(polarsearch_connector_info, args, check_mode=check_mode)


def searches(server, kind):
    return [r.body for r in server.calls("POST", "^%s/%s/_search$" % (ML, kind))]


# -- lookups ----------------------------------------------------------------------------
def test_by_name(run_info, cluster):
    result = run_info(name="embedding")
    assert not result["failed"], result
    assert result["changed"] is False
    assert result["connectors"] == [{
        "connector_id": "c1",
        "name": "embedding",
        "description": "embedding connector",
        "version": "1",
        "protocol": "http",
        "parameters": PARAMETERS,
        "actions": [dict(ACTION, supports_structured_output=True)],
        "client_config": CLIENT_CONFIG,
        "models": ["m1", "m2"],
        "delete_blocked_by": ["m1", "m2"],
    }]


def test_by_name_returns_every_connector_with_the_name(run_info, cluster):
    result = run_info(name="twin")
    assert not result["failed"], result
    assert [c["connector_id"] for c in result["connectors"]] == ["c3", "c4"]
    assert all(c["models"] == [] for c in result["connectors"])


def test_by_id(run_info, cluster):
    result = run_info(connector_id="c2")
    assert not result["failed"], result
    (entry,) = result["connectors"]
    assert entry["connector_id"] == "c2" and entry["name"] == "rerank"
    assert entry["access_mode"] == "private" and entry["backend_roles"] == ["ml"]
    assert "owner" not in entry and "access" not in entry
    assert entry["models"] == ["m3"]
    assert cluster.calls("GET", "^%s/connectors/c2$" % ML)


@pytest.mark.parametrize("args", [{"connector_id": "missing"}, {"name": "missing"}])
def test_missing_is_an_empty_list(run_info, cluster, args):
    result = run_info(**args)
    assert not result["failed"], result
    assert result == dict(result, changed=False, connectors=[])


def test_all_connectors_page_by_page(run_info, cluster, monkeypatch):
    monkeypatch.setattr(info, "PAGE_SIZE", 3)
    result = run_info()
    assert not result["failed"], result
    assert [c["connector_id"] for c in result["connectors"]] == ["c1", "c2", "c3", "c4"]
    assert [c["models"] for c in result["connectors"]] == [["m1", "m2"], ["m3"], [], []]
    assert [c["delete_blocked_by"] for c in result["connectors"]] == [["m1", "m2"], ["m3"], [], []]
    assert [(s["from"], s["size"]) for s in searches(cluster, "connectors")] == [(0, 3), (3, 3)]
    # one search for the models of every connector, not one per connector
    assert [s["query"] for s in searches(cluster, "models")] == [
        {"bool": {"filter": [{"term": {"algorithm": "REMOTE"}}]}}]
    assert result["warnings"] == []


def test_listing_is_capped_with_a_warning(run_info, cluster, monkeypatch):
    monkeypatch.setattr(info, "PAGE_SIZE", 2)
    monkeypatch.setattr(info, "MAX_HITS", 3)
    result = run_info()
    assert not result["failed"], result
    assert len(result["connectors"]) == 3
    assert any("first 3 of 4 connectors" in w for w in result["warnings"])


def test_check_mode_reads_the_same(run_info, cluster):
    assert run_info(name="embedding") == run_info(check_mode=True, name="embedding")


def test_name_and_connector_id_are_exclusive(run_info, cluster):
    result = run_info(name="a", connector_id="b")
    assert result["failed"]
    assert "mutually exclusive" in result["msg"]


# -- what is never returned -------------------------------------------------------------
def test_no_credential_and_no_fingerprint_in_output(run_info, cluster):
    result = run_info()
    assert not result["failed"], result
    assert cluster.get_connector("c2")["credential"] == {"api_key": "leaked-secret"}  # the server sends it
    text = json.dumps(result)
    for needle in ("credential_fingerprint", FINGERPRINT, "polarsearch_replaces", "old-connector",
                   "leaked-secret", '"credential"'):
        assert needle not in text


# -- feeding an entry back --------------------------------------------------------------
def test_entries_use_polarsearch_connector_option_names(run_info, cluster, module_spec):
    result = run_info()
    assert not result["failed"], result
    captured = module_spec(polarsearch_connector)
    spec = captured.argument_spec
    action_options = set(spec["actions"]["options"])
    for entry in result["connectors"]:
        options = {k: v for k, v in entry.items() if k not in info.CONNECTOR_READ_ONLY}
        assert set(options) <= set(spec), set(options) - set(spec)
        for action in options["actions"]:
            assert set(action) <= action_options, set(action) - action_options
        # the whole entry passes the module's own argument validation
        assert captured.errors(dict(options, host=CONNECTION["host"])) == []


def test_an_entry_fed_back_to_polarsearch_connector_changes_nothing(run_info, run, cluster):
    entry = run_info(name="embedding")["connectors"][0]
    options = {k: v for k, v in entry.items() if k not in info.CONNECTOR_READ_ONLY}
    result = run(polarsearch_connector, dict(options, credential={"api_key": "fed-back-api-key-value"}, credential_update="on_create",
                                             **CONNECTION))
    assert not result["failed"], result
    assert result["changed"] is False
    assert plan_text(result) == []


# -- what keeps a delete from happening ------------------------------------------------------------
@pytest.mark.parametrize("args", [{"name": "amo-old"}, {}])
def test_delete_blocked_by_counts_models_whose_connector_id_shares_a_term(run_info, server, args):
    """The server refuses to delete A0zK...-aMO while a model uses BUzK...-aMo (shared term "amo"):
    one connector is read with the server's own query, a listing from the models it read."""
    server.add_connector("amo-old", connector_id="A0zKG6IBdy9ujDy4-aMO")
    server.add_connector("amo-new", connector_id="BUzKG6IBdy9ujDy4-aMo")
    server.add_connector("unrelated", connector_id="C0zKG6IBdy9ujDy4xaMO")
    server.add_model("user", "BUzKG6IBdy9ujDy4-aMo", model_id="m-user")
    result = run_info(**args)
    entries = {c["name"]: c for c in result["connectors"]}
    assert entries["amo-old"]["models"] == []
    assert entries["amo-old"]["delete_blocked_by"] == ["m-user"]
    if not args:
        assert entries["amo-new"]["delete_blocked_by"] == ["m-user"]
        assert entries["unrelated"]["delete_blocked_by"] == []


def test_a_listing_analyzes_each_id_once(run_info, server, monkeypatch):
    """A listing of every connector with a model each: the IDs are analyzed once each, not once per
    connector and model pair (with 500 of each that pair loop took seconds of a teardown)."""
    for index in range(40):
        cid = server.add_connector("c-%d" % index)
        server.add_model("m-%d" % index, cid)
    calls = []
    terms = info.id_terms
    monkeypatch.setattr(info, "id_terms", lambda value: calls.append(value) or terms(value))
    result = run_info()
    assert len(result["connectors"]) == 40 and all(len(c["delete_blocked_by"]) == 1 for c in result["connectors"])
    assert len(calls) <= 80
