"""Version-dependent rules against the real servers: a connector field newer than the server is refused
before any write (2.19.1) and kept without drift where the server has it (3.6.0)."""

from __future__ import annotations

import copy
import time

from conftest import ML, four_steps
from specs import embedding_connector


def server_ml_version(rest):
    plugins = rest.call("GET", "/_cat/plugins?format=json")
    version = next(p["version"] for p in plugins if p["component"] == "opensearch-ml")
    return tuple(int(part) for part in version.split(".")[:3])


def newer_fields(spec):
    """The connector with two ML Commons 3.5 fields: client_config.skip_ssl_verification and an action name."""
    spec = copy.deepcopy(spec)
    spec["client_config"] = {"skip_ssl_verification": True}
    spec["actions"][0]["name"] = "embed_texts"
    return spec


def test_a_35_field_is_refused_before_any_write_on_an_older_server_and_kept_on_a_newer_one(
        env, rest, ansible, trusted, prefix, cleanup):
    name = prefix + "-v35"
    cleanup[1].append(name)
    spec = newer_fields(embedding_connector(name, env))
    version = server_ml_version(rest)
    if version < (3, 5, 0):
        shown = ".".join(str(p) for p in version)
        for check in (True, False):
            result = ansible.run("polarsearch_connector", spec, check=check)
            assert result["failed"] is True
            assert result["msg"].startswith(
                "client_config.skip_ssl_verification needs ML Commons 3.5 or later; this server runs %s" % shown), (
                result["msg"])
            assert result["plan"] == [] and result["changed"] is False
        without_client_config = dict(spec, client_config=None)
        result = ansible.run("polarsearch_connector", without_client_config)
        assert result["failed"] is True and result["msg"].startswith(
            "actions[0].name needs ML Commons 3.5 or later; this server runs %s" % shown), result["msg"]
        assert rest.connectors(name) == [], "nothing was written"
        return
    created = four_steps(ansible, "polarsearch_connector", spec)
    (stored,) = rest.connectors(name)
    assert stored["client_config"]["skip_ssl_verification"] is True
    assert stored["actions"][0]["name"] == "embed_texts"
    assert created["connector_id"] == stored["connector_id"]


def test_the_ml_user_reads_the_version_too(env, ansible, trusted, prefix, ml_user, cleanup):
    """A non-admin user with ml_full_access may read GET / and _cat/plugins (cluster_monitor): the refusal
    names the server's version for that user as for the admin (secure profile: 2.19.1)."""
    name = prefix + "-v35-user"
    cleanup[1].append(name)
    spec = newer_fields(embedding_connector(name, env))
    version = server_ml_version(ml_user["rest"])
    result = ansible.run("polarsearch_connector", spec, extra_env=ml_user["env"])
    if version < (3, 5, 0):
        assert result["failed"] is True
        assert "needs ML Commons 3.5 or later; this server runs %s" % ".".join(map(str, version)) in result["msg"]
        assert ml_user["rest"].connectors(name) == []
    else:
        assert result["failed"] is False, result["msg"]


def test_the_rest_call_shows_what_an_older_server_does_with_the_field(env, rest, trusted, prefix):
    """The behaviour the refusal guards against: the server answers 200 and drops the field (2.19.1), or
    keeps it (3.5 and later)."""
    spec = newer_fields(embedding_connector(prefix + "-raw", env))
    fields = ("name", "version", "protocol", "parameters", "credential", "actions", "client_config", "description")
    body = {k: v for k, v in spec.items() if k in fields}
    created = rest.call("POST", ML + "/connectors/_create", body)
    try:
        stored = rest.call("GET", ML + "/connectors/%s" % created["connector_id"])
        kept = "skip_ssl_verification" in (stored.get("client_config") or {})
        assert kept is (server_ml_version(rest) >= (3, 5, 0))
        assert ("name" in stored["actions"][0]) is kept
    finally:
        rest.call("DELETE", ML + "/connectors/%s" % created["connector_id"])


def test_affix_settings_the_server_lists_only_when_set_are_managed(rest, ansible, prefix):
    """logger.<package> and cluster.remote.<alias>.seeds are not in include_defaults until set, and the
    server accepts them; an unknown key under the affix is refused before any write."""
    logger = "logger.org.opensearch.ml.%s" % prefix.replace("-", "_")
    alias = "cluster.remote.%s.seeds" % prefix.replace("-", "_")
    args = {"transient": {logger: "info", alias: ["127.0.0.1:1"]}}
    try:
        four_steps(ansible, "polarsearch_cluster_settings", args)
        transient = rest.call("GET", "/_cluster/settings?flat_settings=true")["transient"]
        assert transient[logger] == "info" and transient[alias] == ["127.0.0.1:1"]
    finally:
        ansible.run("polarsearch_cluster_settings", {"transient": {logger: None, alias: None}})
    transient = rest.call("GET", "/_cluster/settings?flat_settings=true")["transient"]
    assert logger not in transient and alias not in transient
    unknown = ansible.run("polarsearch_cluster_settings",
                          {"transient": {alias.replace(".seeds", ".nonsense"): "x"}})
    assert unknown["failed"] is True and "not recognized by the server" in unknown["msg"]


def test_a_connector_the_caller_may_not_read_does_not_fail_the_model_listing(
        env, ansible, prefix, ml_user, ml_user2):
    """Secure profile, connector access control: user A's private connector, and a model of user B on it
    (registered without a model group, which the server lets through). B's GET of the connector is 403;
    B's polarsearch_model_info lists the model without the connector's name, with a warning."""
    a, b = ml_user["rest"], ml_user2["rest"]
    spec = {"name": prefix + "-private", "version": "1", "protocol": "http", "access_mode": "private",
            "parameters": {"model": "m"}, "credential": {"api_key": "not-used-0001"},
            "actions": [{"action_type": "predict", "method": "POST", "url": "https://api.openai.com/v1/embeddings",
                         "headers": {"Authorization": "Bearer ${credential.api_key}"},
                         "request_body": '{"input": ${parameters.input}}'}]}
    cid = a.call("POST", ML + "/connectors/_create", spec)["connector_id"]
    mid = group = None
    try:
        mid = b.call("POST", ML + "/models/_register", {"name": prefix + "-on-private", "function_name": "remote",
                                                        "connector_id": cid})["model_id"]
        assert b.request("GET", ML + "/connectors/%s" % cid).status_code == 403
        result = ansible.run("polarsearch_model_info", {"name": prefix + "-on-private"}, extra_env=ml_user2["env"])
        assert not result.get("failed"), result.get("msg")
        (model,) = result["models"]
        group = model["model_group_id"]
        assert model["model_id"] == mid and model["connector_id"] == cid and "connector" not in model
        assert "connector %s is not readable by this user" % cid in str(result.get("warnings")), result.get("warnings")
    finally:
        if mid:
            b.call("DELETE", ML + "/models/%s" % mid)
        if group:
            for dummy in range(10):
                if b.request("DELETE", ML + "/model_groups/%s" % group).status_code in (200, 404):
                    break
                time.sleep(1)
        a.call("DELETE", ML + "/connectors/%s" % cid)
