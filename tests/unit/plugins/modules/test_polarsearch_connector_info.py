# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""polarsearch_connector_info, run through main() against an in-memory ML Commons behind requests."""

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
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_connector, polarsearch_connector_info

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
                polarsearch_connector_info.main()
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
FINGERPRINT = "hmac-sha256:v1:00aa:" + "f" * 64


def connector(name, **extra):
    source = {
        "name": name,
        "description": "%s connector" % name,
        "version": "1",
        "protocol": "http",
        "created_time": 1795757416971,
        "last_updated_time": 1795757416971,
        "parameters": {"endpoint": "127.0.0.1:18080", "model": "text-embedding-v4",
                       "polarsearch_credential_fingerprint": FINGERPRINT,
                       "polarsearch_replaces": "old-connector"},
        "actions": [{
            "action_type": "PREDICT",
            "method": "POST",
            "url": "http://${parameters.endpoint}/v1/embeddings",
            "headers": {"Authorization": "Bearer ${credential.api_key}", "Content-Type": "application/json"},
            "request_body": '{ "model": "${parameters.model}", "input": ${parameters.input} }',
            "post_process_function": "connector.post_process.openai.embedding",
            "supports_structured_output": True,
        }],
        "client_config": {"max_connection": 30, "connection_timeout": 30, "read_timeout": 30},
    }
    source.update(extra)
    return source


def remote_model(name, connector_id):
    return {"name": name, "algorithm": "REMOTE", "model_state": "DEPLOYED", "connector_id": connector_id,
            "model_group_id": "g1", "model_version": "1"}


@pytest.fixture
def cluster():
    return FakeCluster(
        connectors={
            "c1": connector("embedding"),
            "c2": connector("rerank", access="private", backend_roles=["ml"], owner={"name": "admin"},
                            credential={"api_key": "leaked-secret"}),
            "c3": connector("twin"),
            "c4": connector("twin"),
        },
        models={"m1": remote_model("embed-a", "c1"), "m2": remote_model("embed-b", "c1"),
                "m3": remote_model("rerank", "c2")},
    )


# -- lookups ----------------------------------------------------------------------------
def test_by_name(run, cluster):
    ok, result = run(cluster, name="embedding")
    assert ok, result
    assert result["changed"] is False
    assert result["connectors"] == [{
        "connector_id": "c1",
        "name": "embedding",
        "description": "embedding connector",
        "version": "1",
        "protocol": "http",
        "parameters": {"endpoint": "127.0.0.1:18080", "model": "text-embedding-v4"},
        "actions": [{
            "action_type": "PREDICT",
            "method": "POST",
            "url": "http://${parameters.endpoint}/v1/embeddings",
            "headers": {"Authorization": "Bearer ${credential.api_key}", "Content-Type": "application/json"},
            "request_body": '{ "model": "${parameters.model}", "input": ${parameters.input} }',
            "post_process_function": "connector.post_process.openai.embedding",
        }],
        "client_config": {"max_connection": 30, "connection_timeout": 30, "read_timeout": 30},
        "models": ["m1", "m2"],
    }]


def test_by_name_returns_every_connector_with_the_name(run, cluster):
    ok, result = run(cluster, name="twin")
    assert ok, result
    assert [c["connector_id"] for c in result["connectors"]] == ["c3", "c4"]
    assert all(c["models"] == [] for c in result["connectors"])


def test_by_id(run, cluster):
    ok, result = run(cluster, connector_id="c2")
    assert ok, result
    (entry,) = result["connectors"]
    assert entry["connector_id"] == "c2" and entry["name"] == "rerank"
    assert entry["access_mode"] == "private" and entry["backend_roles"] == ["ml"]
    assert "owner" not in entry and "access" not in entry
    assert entry["models"] == ["m3"]
    assert ("GET", ML + "/connectors/c2", None) in cluster.calls


@pytest.mark.parametrize("args", [{"connector_id": "missing"}, {"name": "missing"}])
def test_missing_is_an_empty_list(run, cluster, args):
    ok, result = run(cluster, **args)
    assert ok, result
    assert result == dict(result, changed=False, connectors=[])


def test_all_connectors_page_by_page(run, cluster, monkeypatch):
    monkeypatch.setattr(info, "PAGE_SIZE", 3)
    ok, result = run(cluster)
    assert ok, result
    assert [c["connector_id"] for c in result["connectors"]] == ["c1", "c2", "c3", "c4"]
    assert [c["models"] for c in result["connectors"]] == [["m1", "m2"], ["m3"], [], []]
    searches = [call[2] for call in cluster.calls if call[1] == ML + "/connectors/_search"]
    assert [(s["from"], s["size"]) for s in searches] == [(0, 3), (3, 3)]
    # one search for the models of every connector, not one per connector
    model_searches = [call[2] for call in cluster.calls if call[1] == ML + "/models/_search"]
    assert [s["query"] for s in model_searches] == [{"bool": {"filter": [{"term": {"algorithm": "REMOTE"}}]}}]
    assert result["warnings"] == []


def test_listing_is_capped_with_a_warning(run, cluster, monkeypatch):
    monkeypatch.setattr(info, "PAGE_SIZE", 2)
    monkeypatch.setattr(info, "MAX_HITS", 3)
    ok, result = run(cluster)
    assert ok, result
    assert len(result["connectors"]) == 3
    assert any("first 3 of 4 connectors" in w for w in result["warnings"])


def test_check_mode_reads_the_same(run, cluster):
    assert run(cluster, name="embedding") == run(cluster, check_mode=True, name="embedding")


def test_name_and_connector_id_are_exclusive(run, cluster):
    ok, result = run(cluster, name="a", connector_id="b")
    assert not ok
    assert "mutually exclusive" in result["msg"]


# -- what is never returned -------------------------------------------------------------
def test_no_credential_and_no_fingerprint_in_output(run, cluster):
    ok, result = run(cluster)
    assert ok, result
    text = json.dumps(result)
    for needle in ("credential_fingerprint", FINGERPRINT, "polarsearch_replaces", "old-connector",
                   "leaked-secret", '"credential"'):
        assert needle not in text


# -- feeding an entry back --------------------------------------------------------------
def test_entries_use_polarsearch_connector_option_names(run, cluster, monkeypatch):
    ok, result = run(cluster)
    assert ok, result
    captured = module_spec(monkeypatch, polarsearch_connector)
    spec = captured["argument_spec"]
    action_options = set(spec["actions"]["options"])
    for entry in result["connectors"]:
        options = {k: v for k, v in entry.items() if k not in info.CONNECTOR_READ_ONLY}
        assert set(options) <= set(spec), set(options) - set(spec)
        for action in options["actions"]:
            assert set(action) <= action_options, set(action) - action_options
        # the whole entry passes the module's own argument validation
        validator = ArgumentSpecValidator(
            spec, mutually_exclusive=captured.get("mutually_exclusive"),
            required_one_of=captured.get("required_one_of"))
        validated = validator.validate(dict(options, host="http://127.0.0.1:9200"))
        assert validated.error_messages == []
