# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""polarsearch_model_info, run through main() against an in-memory ML Commons behind requests."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.testing import patch_module_args

from ansible_collections.polardb.polarsearch.plugins.module_utils import common, info
from ansible_collections.polardb.polarsearch.plugins.module_utils.connection import ConnectionOptions
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_model, polarsearch_model_info

ML = "_plugins/_ml"


# -- an in-memory ML Commons ------------------------------------------------------------
class Response:
    def __init__(self, status, body):
        self.status_code = status
        self.text = body if isinstance(body, str) else json.dumps(body)
        self.headers = {}

    def json(self):
        return json.loads(self.text)


def matches(query, source):
    if "match_all" in query:
        return True
    if "bool" in query:
        return all(matches(q, source) for q in query["bool"].get("filter", []))
    if "term" in query:
        (field, value), = query["term"].items()
        return source.get(field[:-len(".keyword")] if field.endswith(".keyword") else field) == value
    raise AssertionError("query not understood by the fake: %r" % query)


class FakeCluster:
    """Answers the ML Commons GET and _search calls from dicts of documents and records every call."""

    def __init__(self, connectors=None, models=None, groups=None):
        self.indices = {"connectors": dict(connectors or {}), "models": dict(models or {}),
                        "model_groups": dict(groups or {})}
        self.calls = []

    def request(self, method, url, json=None, params=None, timeout=None, headers=None):
        path = urlsplit(url).path.strip("/")
        self.calls.append((method, path, json))
        kind, rest = path[len(ML) + 1:].split("/", 1)
        docs = self.indices[kind]
        if method == "POST" and rest == "_search":
            found = [(i, s) for i, s in docs.items() if matches(json["query"], s)]
            start = json.get("from", 0)
            page = found[start:start + json.get("size", 10)]
            return Response(200, {"hits": {"total": {"value": len(found), "relation": "eq"},
                                           "hits": [{"_id": i, "_source": s} for i, s in page]}})
        if method == "GET" and rest in docs:
            return Response(200, docs[rest])
        if method == "GET":
            reason = "Failed to find %s with the provided id: %s" % (kind, rest)
            return Response(404, {"error": {"type": "status_exception", "reason": reason}, "status": 404})
        raise AssertionError("a read-only module sent %s %s" % (method, path))


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


@pytest.fixture
def run(monkeypatch):
    """run(cluster, check_mode=False, **args) -> (ok, result) through main()."""
    def exit_json(self, **kwargs):
        kwargs["warnings"] = list(ansible_warnings.get_warning_messages())
        raise ExitJson(kwargs)

    def fail_json(self, **kwargs):
        raise FailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(ansible_warnings, "_global_warnings", {})

    def runner(cluster, check_mode=False, **args):
        original = ConnectionOptions.client
        monkeypatch.setattr(ConnectionOptions, "client",
                            lambda self, extra_secrets=(), session=None: original(self, extra_secrets, session=cluster))
        args = dict({"host": "http://127.0.0.1:9200", "retries": 0}, **args)
        if check_mode:
            args["_ansible_check_mode"] = True
        with patch_module_args(args):
            try:
                polarsearch_model_info.main()
            except ExitJson as exc:
                return True, exc.args[0]
            except FailJson as exc:
                return False, exc.args[0]
        raise AssertionError("the module neither exited nor failed")

    return runner


class Captured(Exception):
    pass


def module_spec(monkeypatch, module):
    """The argument spec and constraints a module's main() hands to AnsibleModule."""
    def capture(**kwargs):
        raise Captured(kwargs)

    monkeypatch.setattr(common, "AnsibleModule", capture)
    with pytest.raises(Captured) as exc:
        module.main()
    return exc.value.args[0]


# -- data -------------------------------------------------------------------------------
def remote_model(name, connector_id="c1", group_id="g1", state="DEPLOYED", **extra):
    source = {
        "name": name,
        "algorithm": "REMOTE",
        "description": "%s model" % name,
        "model_state": state,
        "model_version": "1",
        "connector_id": connector_id,
        "model_group_id": group_id,
        "created_time": 1795757420029,
        "last_deployed_time": 1795757420693,
        "planning_worker_nodes": ["-s3gjHeIQJaF9fo21hcBdw"],
        "is_hidden": False,
    }
    source.update(extra)
    return {k: v for k, v in source.items() if v is not None}


@pytest.fixture
def cluster():
    return FakeCluster(
        connectors={"c1": {"name": "embedding", "version": "1", "protocol": "http"},
                    "c2": {"name": "chat", "version": "1", "protocol": "http"}},
        groups={"g1": {"name": "embeddings", "latest_version": 2}, "g2": {"name": "chat", "latest_version": 1}},
        models={
            "m1": remote_model("embed", is_enabled=True,
                               rate_limiter={"limit": "10", "unit": "MINUTES"},
                               interface={"input": '{"type": "object"}', "output": '{"type": "object"}'}),
            "m2": remote_model("embed-v2", state="UNDEPLOYED"),
            "m3": remote_model("chat", connector_id="c2", group_id="g2", state="REGISTERED",
                               guardrails={"type": "local_regex", "input_guardrail": {"regex": [".*x.*"]}}),
            "m4": remote_model("orphan", connector_id="gone", group_id="gone-group", state="DEPLOY_FAILED"),
            "m5": remote_model("twin", state="PARTIALLY_DEPLOYED"),
            "m6": remote_model("twin"),
            "local": {"name": "local", "algorithm": "TEXT_EMBEDDING", "model_state": "REGISTERED"},
        },
    )


# -- lookups ----------------------------------------------------------------------------
def test_by_name(run, cluster):
    ok, result = run(cluster, name="embed")
    assert ok, result
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


def test_by_name_returns_every_model_with_the_name(run, cluster):
    ok, result = run(cluster, name="twin")
    assert ok, result
    assert [(m["model_id"], m["model_state"], m["state"]) for m in result["models"]] == [
        ("m5", "PARTIALLY_DEPLOYED", "present"), ("m6", "DEPLOYED", "deployed")]


def test_by_id(run, cluster):
    ok, result = run(cluster, model_id="m3")
    assert ok, result
    (entry,) = result["models"]
    assert entry["model_id"] == "m3" and entry["name"] == "chat"
    assert entry["connector"] == "chat" and entry["model_group"] == "chat"
    assert entry["guardrails"] == {"type": "local_regex", "input_guardrail": {"regex": [".*x.*"]}}
    assert entry["state"] == "present" and entry["model_state"] == "REGISTERED"
    assert ("GET", ML + "/models/m3", None) in cluster.calls


@pytest.mark.parametrize("args", [{"model_id": "missing"}, {"name": "missing"}])
def test_missing_is_an_empty_list(run, cluster, args):
    ok, result = run(cluster, **args)
    assert ok, result
    assert result == dict(result, changed=False, models=[])


def test_all_remote_models(run, cluster, monkeypatch):
    monkeypatch.setattr(info, "PAGE_SIZE", 4)
    ok, result = run(cluster)
    assert ok, result
    assert [m["model_id"] for m in result["models"]] == ["m3", "m1", "m2", "m4", "m5", "m6"]
    assert [m["state"] for m in result["models"]] == [
        "present", "deployed", "present", "present", "present", "deployed"]
    searches = [call[2] for call in cluster.calls if call[1] == ML + "/models/_search"]
    assert [(s["from"], s["size"]) for s in searches] == [(0, 4), (4, 4)]
    assert all({"term": {"algorithm": "REMOTE"}} in s["query"]["bool"]["filter"] for s in searches)


def test_connector_and_group_names_cost_one_get_per_distinct_id(run, cluster):
    ok, result = run(cluster)
    assert ok, result
    gets = sorted(call[1] for call in cluster.calls if call[0] == "GET")
    assert gets == sorted([ML + "/connectors/c1", ML + "/connectors/c2", ML + "/connectors/gone",
                           ML + "/model_groups/g1", ML + "/model_groups/g2", ML + "/model_groups/gone-group"])


def test_a_missing_connector_or_group_leaves_out_its_name(run, cluster):
    ok, result = run(cluster, name="orphan")
    assert ok, result
    (entry,) = result["models"]
    assert entry["connector_id"] == "gone" and "connector" not in entry
    assert entry["model_group_id"] == "gone-group" and "model_group" not in entry


def test_check_mode_reads_the_same(run, cluster):
    assert run(cluster, name="embed") == run(cluster, check_mode=True, name="embed")


def test_name_and_model_id_are_exclusive(run, cluster):
    ok, result = run(cluster, name="a", model_id="b")
    assert not ok
    assert "mutually exclusive" in result["msg"]


def test_no_inline_connector_credential_in_output(run):
    inline = {"name": "inline", "protocol": "http", "credential": {"api_key": "leaked-secret"}}
    cluster = FakeCluster(models={"m1": remote_model("inline", connector_id=None, connector=inline)})
    ok, result = run(cluster)
    assert ok, result
    assert "leaked-secret" not in json.dumps(result)
    assert "credential" not in json.dumps(result)


# -- feeding an entry back --------------------------------------------------------------
def test_entries_use_polarsearch_model_option_names(run, cluster, monkeypatch):
    ok, result = run(cluster)
    assert ok, result
    captured = module_spec(monkeypatch, polarsearch_model)
    spec = captured["argument_spec"]
    validator = ArgumentSpecValidator(
        spec, mutually_exclusive=captured.get("mutually_exclusive"),
        required_one_of=captured.get("required_one_of"))
    for entry in result["models"]:
        options = {k: v for k, v in entry.items() if k not in info.MODEL_READ_ONLY}
        assert set(options) <= set(spec), set(options) - set(spec)
        assert entry["state"] in spec["state"]["choices"]
        # connector and connector_id are both returned; the module takes one of them
        options.pop("connector_id", None)
        validated = validator.validate(dict(options, host="http://127.0.0.1:9200"))
        assert validated.error_messages == []
