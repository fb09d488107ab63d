# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""polarsearch_model_info, run through main() against the in-memory ML Commons of fake_server."""

from __future__ import annotations

import json

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.stack import info
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_model, polarsearch_model_info

from fake_server import CONNECTION, ML

pytestmark = pytest.mark.usefixtures("read_only")


def add_model(server, model_id, name, connector_id="c1", group_id="g1", state="DEPLOYED", **fields):
    """A remote model with the server-only fields the module leaves out of its entries."""
    server.add_model(name, connector_id, state=state, model_group_id=group_id, model_id=model_id,
                     description="%s model" % name, last_deployed_time=1795757420693,
                     planning_worker_nodes=["-s3gjHeIQJaF9fo21hcBdw"], **fields)


@pytest.fixture
def cluster(server):
    """Two connectors, two groups, six remote models (one pointing at a deleted connector and group), one local."""
    server.add_connector("embedding", connector_id="c1")
    server.add_connector("chat", connector_id="c2")
    server.add_group("embeddings", group_id="g1")
    server.add_group("chat", group_id="g2")
    server.add_group("gone-group", group_id="gone-group")
    add_model(server, "m1", "embed", is_enabled=True, rate_limiter={"limit": "10", "unit": "MINUTES"},
              interface={"input": '{"type": "object"}', "output": '{"type": "object"}'})
    add_model(server, "m2", "embed-v2", state="UNDEPLOYED")
    add_model(server, "m3", "chat", connector_id="c2", group_id="g2", state="REGISTERED",
              guardrails={"type": "local_regex", "input_guardrail": {"regex": [".*x.*"]}})
    add_model(server, "m4", "orphan", connector_id="gone", group_id="gone-group", state="DEPLOY_FAILED")
    add_model(server, "m5", "twin", state="PARTIALLY_DEPLOYED")
    add_model(server, "m6", "twin")
    server.add_model("local", None, model_id="local", algorithm="TEXT_EMBEDDING")
    del server.groups["gone-group"]
    return server


@pytest.fixture
def run_info(run):
    """``run_info(check_mode=False, **args)``: the module result."""
    return lambda check_mode=False, **args: run(polarsearch_model_info, args, check_mode=check_mode)


# -- lookups ----------------------------------------------------------------------------
def test_by_name(run_info, cluster):
    result = run_info(name="embed")
    assert not result["failed"], result
    assert result["changed"] is False
    assert result["models"] == [{
        "model_id": "m1",
        "name": "embed",
        "description": "embed model",
        "connector_id": "c1",
        "connector": "embedding",
        "model_group_id": "g1",
        "model_group": "embeddings",
        "interface": {"input": {"type": "object"}, "output": {"type": "object"}},
        "is_enabled": True,
        "rate_limiter": {"limit": "10", "unit": "MINUTES"},
        "model_state": "DEPLOYED",
        "model_version": "1",
        "state": "deployed",
    }]


def test_by_name_returns_every_model_with_the_name(run_info, cluster):
    result = run_info(name="twin")
    assert not result["failed"], result
    assert [(m["model_id"], m["model_state"], m["state"]) for m in result["models"]] == [
        ("m5", "PARTIALLY_DEPLOYED", "present"), ("m6", "DEPLOYED", "deployed")]


def test_by_id(run_info, cluster):
    result = run_info(model_id="m3")
    assert not result["failed"], result
    (entry,) = result["models"]
    assert entry["model_id"] == "m3" and entry["name"] == "chat"
    assert entry["connector"] == "chat" and entry["model_group"] == "chat"
    assert entry["guardrails"] == {"type": "local_regex", "input_guardrail": {"regex": [".*x.*"]}}
    assert entry["state"] == "present" and entry["model_state"] == "REGISTERED"
    assert cluster.calls("GET", "^%s/models/m3$" % ML)


@pytest.mark.parametrize("args", [{"model_id": "missing"}, {"name": "missing"}])
def test_missing_is_an_empty_list(run_info, cluster, args):
    result = run_info(**args)
    assert not result["failed"], result
    assert result == dict(result, changed=False, models=[])


def test_all_remote_models(run_info, cluster, monkeypatch):
    monkeypatch.setattr(info, "PAGE_SIZE", 4)
    result = run_info()
    assert not result["failed"], result
    assert [m["model_id"] for m in result["models"]] == ["m3", "m1", "m2", "m4", "m5", "m6"]
    assert [m["state"] for m in result["models"]] == [
        "present", "deployed", "present", "present", "present", "deployed"]
    searches = [r.body for r in cluster.calls("POST", "^%s/models/_search$" % ML)]
    assert [(s["from"], s["size"]) for s in searches] == [(0, 4), (4, 4)]
    assert all({"term": {"algorithm": "REMOTE"}} in s["query"]["bool"]["filter"] for s in searches)


def test_connector_and_group_names_cost_one_get_per_distinct_id(run_info, cluster):
    result = run_info()
    assert not result["failed"], result
    gets = sorted(r.path for r in cluster.calls("GET"))
    assert gets == sorted([ML + "/connectors/c1", ML + "/connectors/c2", ML + "/connectors/gone",
                           ML + "/model_groups/g1", ML + "/model_groups/g2", ML + "/model_groups/gone-group"])


def test_a_missing_connector_or_group_leaves_out_its_name(run_info, cluster):
    result = run_info(name="orphan")
    assert not result["failed"], result
    (entry,) = result["models"]
    assert entry["connector_id"] == "gone" and "connector" not in entry
    assert entry["model_group_id"] == "gone-group" and "model_group" not in entry


def test_a_connector_or_group_the_caller_may_not_read_leaves_out_only_its_name(run_info, cluster):
    """With connector access control, GET of another team's private connector answers 403 "You don't have
    permission to access this connector" (observed on 2.19.1, reference section 11); the listing goes on."""
    cluster.fail_next("GET", r"connectors/c2$", status=403, reason="You don't have permission to access this "
                      "connector")
    cluster.fail_next("GET", r"model_groups/g1$", status=403, reason="User doesn't have privilege to perform "
                      "this operation on this model group")
    result = run_info()
    assert not result["failed"], result["msg"]
    by_id = {m["model_id"]: m for m in result["models"]}
    assert by_id["m3"]["connector_id"] == "c2" and "connector" not in by_id["m3"]
    assert by_id["m3"]["model_group"] == "chat"
    assert by_id["m1"]["connector"] == "embedding" and "model_group" not in by_id["m1"]
    assert len(result["models"]) == 6


def test_another_error_on_a_connector_get_still_fails(run_info, cluster):
    cluster.fail_next("GET", r"connectors/c2$", status=400, reason="bad request")
    result = run_info()
    assert result["failed"] is True and "connectors/c2" in result["msg"]


def test_check_mode_reads_the_same(run_info, cluster):
    assert run_info(name="embed") == run_info(check_mode=True, name="embed")


def test_name_and_model_id_are_exclusive(run_info, cluster):
    result = run_info(name="a", model_id="b")
    assert result["failed"]
    assert "mutually exclusive" in result["msg"]


def test_no_inline_connector_credential_in_output(run_info, server):
    server.leak_credentials = True
    inline = {"name": "inline", "protocol": "http", "credential": {"api_key": "leaked-secret"}}
    server.add_model("inline", None, model_id="m1", connector=inline)
    assert server.get_model("m1")["connector"]["credential"] == {"api_key": "leaked-secret"}  # the server sends it
    result = run_info()
    assert not result["failed"], result
    assert "leaked-secret" not in json.dumps(result)
    assert "credential" not in json.dumps(result)


# -- feeding an entry back --------------------------------------------------------------
def test_entries_use_polarsearch_model_option_names(run_info, cluster, module_spec):
    result = run_info()
    assert not result["failed"], result
    captured = module_spec(polarsearch_model)
    spec = captured.argument_spec
    for entry in result["models"]:
        options = {k: v for k, v in entry.items() if k not in info.MODEL_READ_ONLY}
        assert set(options) <= set(spec), set(options) - set(spec)
        assert entry["state"] in spec["state"]["choices"]
        # connector and connector_id are both returned; the module takes one of them
        options.pop("connector_id", None)
        assert captured.errors(dict(options, host=CONNECTION["host"])) == []
