# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import json
import re

import pytest
import requests

from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_connector as module
from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.in_use import id_terms

from fake_server import ADMIN_PASSWORD, HttpError, default_action
from plans import plan_text

FP = "polarsearch_credential_fingerprint"
REPLACES = "polarsearch_replaces"
PENDING = "%s (unused, deleted once the server allows)"
FP_FORMAT = re.compile(r"^hmac-sha256:v1:[0-9a-f]{16}:[0-9a-f]{64}$")
NAME = "openai-embedding"
KEY = "sk-live-4f9a8b7c6d5e3a2b"
NEW_KEY = "sk-live-rotated-91b2c3d4e5"
ML = "_plugins/_ml"

ACTION = default_action()
STORED_ACTION = dict(ACTION)


def spec(**overrides):
    args = {
        "name": NAME,
        "description": "OpenAI embeddings",
        "version": "1",
        "parameters": {"model": "text-embedding-3-small", "dimensions": 1536},
        "credential": {"api_key": KEY},
        "actions": [copy.deepcopy(ACTION)],
    }
    args.update(overrides)
    return {k: v for k, v in args.items() if v is not None}


def create(run, server, **overrides):
    """Create the connector through the module and clear the request log; return its ID."""
    result = run(module, spec(**overrides))
    assert result["changed"] is True and result["failed"] is False, result
    server.requests.clear()
    return result["connector_id"]


def deployed_model(server, connector_id, name="embedding-model", state="DEPLOYED"):
    return server.add_model(name, connector_id, state=state)


def public_view(server, cid):
    """The connector as the module shows it: option names, no internal parameters, no credential."""
    doc = server.connectors[cid]
    return {
        "connector_id": cid,
        "name": doc["name"],
        "description": doc["description"],
        "version": doc["version"],
        "protocol": doc["protocol"],
        "parameters": {k: v for k, v in doc["parameters"].items() if k not in (FP, REPLACES)},
        "actions": doc["actions"],
    }


# -- create --------------------------------------------------------------------------------------
def test_create_sends_the_normalized_connector(run, server):
    result = run(module, spec(actions=[dict(ACTION, action_type="predict")]))
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["create connector %s" % NAME]
    creates = server.calls("POST", r"connectors/_create$")
    assert len(creates) == 1
    body = creates[0].body
    fingerprint = body["parameters"].pop(FP)
    assert FP_FORMAT.match(fingerprint)
    assert KEY not in fingerprint
    assert body == {
        "name": NAME,
        "description": "OpenAI embeddings",
        "version": "1",
        "protocol": "http",
        "parameters": {"model": "text-embedding-3-small", "dimensions": "1536"},
        "credential": {"api_key": KEY},
        "actions": [STORED_ACTION],
    }
    cid = result["connector_id"]
    assert list(server.connectors) == [cid]
    assert server.connectors[cid]["credential"] == {"api_key": KEY}
    assert result["connector"] == public_view(server, cid)
    assert result["models"] == []
    assert result["diff"] == {"before": {}, "after": dict(public_view(server, cid), credential="set")}
    assert server.write_summary() == [("POST", "%s/connectors/_create" % ML)]


def test_create_defaults_version_and_protocol_and_encodes_a_dict_request_body(run, server):
    args = spec(version=None, description=None,
                actions=[dict(ACTION, request_body={"model": "${parameters.model}", "input": "x"})])
    result = run(module, args)
    body = server.calls("POST", r"connectors/_create$")[0].body
    assert body["version"] == "1"
    assert body["protocol"] == "http"
    assert "description" not in body
    assert body["actions"][0]["request_body"] == json.dumps({"model": "${parameters.model}", "input": "x"})
    assert result["connector"]["actions"][0]["request_body"] == body["actions"][0]["request_body"]


def test_create_stringifies_parameter_values_like_the_server(run, server):
    result = run(module, spec(parameters={"n": 7, "t": 0.5, "b": True, "l": [1, 2], "d": {"a": 1}, "s": "x"}))
    sent = server.calls("POST", r"connectors/_create$")[0].body["parameters"]
    assert {k: v for k, v in sent.items() if k != FP} == {
        "n": "7", "t": "0.5", "b": "true", "l": "[1,2]", "d": '{"a":1}', "s": "x"}
    assert result["connector"]["parameters"] == {"n": "7", "t": "0.5", "b": "true", "l": "[1,2]", "d": '{"a":1}',
                                                 "s": "x"}
    again = run(module, spec(parameters={"n": 7, "t": 0.5, "b": True, "l": [1, 2], "d": {"a": 1}, "s": "x"}))
    assert again["changed"] is False


def test_create_needs_actions(run, server):
    result = run(module, spec(actions=None))
    assert result["failed"] is True
    assert "actions is required" in result["msg"]
    assert server.writes == []


def test_create_needs_a_credential(run, server):
    result = run(module, spec(credential=None))
    assert result["failed"] is True
    assert "credential is required" in result["msg"]
    assert server.writes == []


def test_create_failure_from_the_server_names_the_request(run, server):
    result = run(module, spec(actions=[dict(ACTION, url="https://dashscope.aliyuncs.com/v1/embeddings")]))
    assert result["failed"] is True
    assert result["msg"] == ("POST %s/connectors/_create failed: HTTP 400: Connector URL is not matching the "
                             "trusted connector endpoint regex" % ML)
    assert result["status"] == 400
    assert server.connectors == {}


# -- no change ------------------------------------------------------------------------------------
def test_second_run_changes_nothing_and_writes_nothing(run, server):
    cid = create(run, server)
    result = run(module, spec(), diff=True)
    assert result["changed"] is False
    assert plan_text(result, model_ids=False) == []
    assert server.writes == []
    assert result["connector_id"] == cid
    assert result["diff"]["before"] == result["diff"]["after"] == public_view(server, cid)


def test_unset_options_are_left_alone(run, server):
    cid = create(run, server)
    result = run(module, {"name": NAME})
    assert result["changed"] is False
    assert server.writes == []
    assert result["connector"] == public_view(server, cid)


def test_an_unset_protocol_is_neither_compared_nor_written(run, server):
    """The protocol default (http) applies on create only: a description change on an aws_sigv4
    connector updates the description and leaves the protocol alone."""
    cid = create(run, server, protocol="aws_sigv4",
                 credential={"access_key": "AKIAEXAMPLE0001", "secret_key": "secret-key-0001"},
                 parameters={"service_name": "bedrock", "region": "us-east-1"})
    assert server.connectors[cid]["protocol"] == "aws_sigv4"
    args = spec(description="changed", protocol=None,
                credential={"access_key": "AKIAEXAMPLE0001", "secret_key": "secret-key-0001"},
                parameters={"service_name": "bedrock", "region": "us-east-1"})
    result = run(module, args)
    assert result["failed"] is False, result
    assert plan_text(result) == ["update connector %s (%s): description" % (NAME, cid)]
    assert [r.body for r in server.calls("PUT", r"connectors/")] == [{"description": "changed"}]
    assert server.connectors[cid]["protocol"] == "aws_sigv4"


def test_create_without_protocol_uses_http(run, server):
    cid = create(run, server)
    assert server.connectors[cid]["protocol"] == "http"


def test_action_type_case_and_json_spacing_are_no_drift(run, server):
    create(run, server, parameters={"model": "m", "opts": {"a": 1, "b": [1, 2]}})
    server.connectors[next(iter(server.connectors))]["parameters"]["opts"] = '{ "a": 1, "b": [1, 2] }'
    result = run(module, spec(parameters={"model": "m", "opts": {"a": 1, "b": [1, 2]}},
                              actions=[dict(ACTION, action_type="Predict")]))
    assert result["changed"] is False
    assert server.writes == []


def test_client_config_compares_only_the_given_keys(run, server):
    create(run, server, client_config={"read_timeout": 60})
    cid = next(iter(server.connectors))
    assert server.connectors[cid]["client_config"]["max_connection"] == 30
    result = run(module, spec(client_config={"read_timeout": 60}))
    assert result["changed"] is False
    result = run(module, spec(client_config={"read_timeout": 90}))
    assert result["changed"] is True
    put = server.calls("PUT", r"connectors/")[0].body
    assert put["client_config"]["read_timeout"] == 90
    assert put["client_config"]["max_connection"] == 30
    assert server.connectors[cid]["client_config"]["read_timeout"] == 90


def test_client_config_is_compared_as_the_server_stores_it(run, server):
    """The server lower-cases retry_backoff_policy and reads numbers from numeric strings: such
    input is no drift on the next run."""
    given = {"retry_backoff_policy": "EXPONENTIAL_FULL_JITTER", "read_timeout": "60", "max_retry_times": 2}
    cid = create(run, server, client_config=given)
    assert server.connectors[cid]["client_config"]["retry_backoff_policy"] == "exponential_full_jitter"
    again = run(module, spec(client_config=given))
    assert again["changed"] is False, again["plan"]
    assert server.writes == []


def test_a_client_config_key_the_server_would_drop_fails_before_any_write(run, server):
    result = run(module, spec(client_config={"read_timeout": 60, "retry_policy": "constant"}))
    assert result["failed"] is True
    assert "client_config.retry_policy" in result["msg"]
    assert "retry_backoff_policy" in result["msg"] and "max_connection" in result["msg"]
    assert server.writes == []


def test_a_client_config_value_the_server_would_refuse_fails_before_any_write(run, server):
    result = run(module, spec(client_config={"retry_backoff_policy": "linear"}))
    assert result["failed"] is True
    assert "client_config.retry_backoff_policy 'linear' is not one of constant" in result["msg"]
    assert server.writes == []


# -- update ---------------------------------------------------------------------------------------
def test_update_sends_only_the_changed_fields(run, server):
    cid = create(run, server)
    before = public_view(server, cid)
    result = run(module, spec(description="Embeddings, v2", parameters={"model": "text-embedding-3-large",
                                                                        "dimensions": 1536}), diff=True)
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["update connector %s (%s): description, parameters" % (NAME, cid)]
    puts = server.calls("PUT", r"connectors/")
    assert [(r.path, r.body) for r in puts] == [
        ("%s/connectors/%s" % (ML, cid),
         {"description": "Embeddings, v2", "parameters": {"model": "text-embedding-3-large"}})]
    assert server.write_summary() == [("PUT", "%s/connectors/%s" % (ML, cid))]
    after = public_view(server, cid)
    assert after["parameters"] == {"model": "text-embedding-3-large", "dimensions": "1536"}
    assert result["diff"] == {"before": before, "after": after}
    assert result["connector"] == after
    assert result["connector_id"] == cid
    # the credential and its fingerprint are untouched
    assert server.connectors[cid]["credential"] == {"api_key": KEY}


def test_update_of_the_actions_replaces_them(run, server):
    cid = create(run, server)
    new_action = dict(ACTION, url="https://api.openai.com/v2/embeddings")
    result = run(module, spec(actions=[new_action]))
    assert plan_text(result, model_ids=False) == ["update connector %s (%s): actions" % (NAME, cid)]
    assert server.calls("PUT", r"connectors/")[0].body == {"actions": [new_action]}
    assert server.connectors[cid]["actions"] == [new_action]


def test_update_with_an_undeployed_model_is_in_place(run, server):
    cid = create(run, server)
    mid = deployed_model(server, cid, state="UNDEPLOYED")
    result = run(module, spec(description="changed"))
    assert plan_text(result, model_ids=False) == ["update connector %s (%s): description" % (NAME, cid)]
    assert result["models"] == [mid]
    assert server.models[mid]["model_state"] == "UNDEPLOYED"


def test_access_fields_are_compared_when_given(run, server):
    cid = server.add_connector(NAME, parameters={"model": "text-embedding-3-small", "dimensions": "1536"},
                               description="OpenAI embeddings", access="public", backend_roles=["ml", "ops"])
    same = run(module, spec(access_mode="public", backend_roles=["ops", "ml"], credential_update="on_create"))
    assert same["changed"] is False
    result = run(module, spec(access_mode="private", backend_roles=["ml"], credential_update="on_create"))
    assert plan_text(result, model_ids=False) == ["update connector %s (%s): access_mode, backend_roles" % (NAME, cid)]
    assert server.calls("PUT", r"connectors/")[0].body == {"access_mode": "private", "backend_roles": ["ml"]}
    assert server.connectors[cid]["access"] == "private"


def test_supports_structured_output_is_compared_when_set(run, server):
    cid = create(run, server, actions=[dict(ACTION, supports_structured_output=False)])
    assert "supports_structured_output" not in server.connectors[cid]["actions"][0]
    assert run(module, spec(actions=[dict(ACTION, supports_structured_output=False)]))["changed"] is False
    result = run(module, spec(actions=[dict(ACTION, supports_structured_output=True)]))
    assert plan_text(result, model_ids=False) == ["update connector %s (%s): actions" % (NAME, cid)]
    assert server.calls("PUT", r"connectors/")[0].body == {"actions": [dict(ACTION, supports_structured_output=True)]}
    assert run(module, spec(actions=[dict(ACTION, supports_structured_output=True)]))["changed"] is False


def test_rejected_update_is_not_reported_as_a_change(run, server):
    create(run, server)
    server.fail_next("PUT", r"connectors/", 400, reason="Connector URL is not matching the trusted connector "
                                                        "endpoint regex")
    result = run(module, spec(description="changed"))
    assert result["failed"] is True
    assert result["changed"] is False


def test_connector_id_renames(run, server):
    cid = create(run, server)
    result = run(module, {"connector_id": cid, "name": "renamed-connector"})
    assert plan_text(result, model_ids=False) == ["update connector %s (%s): name" % (NAME, cid)]
    assert server.calls("PUT", r"connectors/")[0].body == {"name": "renamed-connector"}
    assert server.connectors[cid]["name"] == "renamed-connector"


def test_connector_id_that_does_not_exist_fails(run, server):
    result = run(module, {"connector_id": "noSuchConnector0001", "name": NAME})
    assert result["failed"] is True
    assert "connector_id noSuchConnector0001 does not exist" in result["msg"]
    assert server.writes == []


# -- replace (parameter removal, deployed models) ---------------------------------------------------
def test_parameter_removal_replaces_the_connector(run, server):
    old = create(run, server)
    result = run(module, spec(parameters={"model": "text-embedding-3-small"}), diff=True)
    assert result["changed"] is True
    new = result["connector_id"]
    assert new != old
    assert plan_text(result, model_ids=False) == ["create connector %s" % NAME, "delete connector %s (%s)" % (NAME, old)]
    assert list(server.connectors) == [new]
    stored = server.connectors[new]
    assert stored["parameters"][REPLACES] == old
    assert FP_FORMAT.match(stored["parameters"][FP])
    assert stored["credential"] == {"api_key": KEY}
    assert public_view(server, new)["parameters"] == {"model": "text-embedding-3-small"}
    assert result["diff"]["after"] == dict(public_view(server, new), credential="set")
    assert result["diff"]["before"]["parameters"] == {"model": "text-embedding-3-small", "dimensions": "1536"}
    assert result["diff"]["before"]["connector_id"] == old
    assert server.write_summary() == [("POST", "%s/connectors/_create" % ML),
                                      ("DELETE", "%s/connectors/%s" % (ML, old))]
    again = run(module, spec(parameters={"model": "text-embedding-3-small"}))
    assert again["changed"] is False
    assert again["connector_id"] == new


def test_parameter_removal_moves_models_to_the_new_connector(run, server):
    old = create(run, server)
    mid = deployed_model(server, old, state="REGISTERED")
    result = run(module, spec(parameters={"model": "text-embedding-3-small"}))
    new = result["connector_id"]
    assert plan_text(result, model_ids=False) == ["create connector %s (unused replacement)" % NAME,
                                                  "rename connector %s (unused replacement): name" % NAME,
                                                  "update model embedding-model: connector_id",
                                                  "delete connector %s (%s)" % (NAME, old)]
    assert server.models[mid]["connector_id"] == new
    assert server.models[mid]["model_state"] == "REGISTERED"
    assert result["models"] == [mid]


def test_replace_needs_the_credential(run, server):
    create(run, server)
    result = run(module, spec(parameters={"model": "text-embedding-3-small"}, credential=None))
    assert result["failed"] is True
    assert "set credential" in result["msg"]
    assert result["changed"] is False
    assert server.writes == []


def test_deployed_model_with_replace_gets_a_new_connector(run, server):
    old = create(run, server)
    mid = deployed_model(server, old)
    result = run(module, spec(parameters={"model": "text-embedding-3-large", "dimensions": 1536}), diff=True)
    assert result["changed"] is True
    new = result["connector_id"]
    assert plan_text(result, model_ids=False) == ["create connector %s (unused replacement)" % NAME,
                                                  "rename connector %s (unused replacement): name" % NAME,
                                                  "update model embedding-model: connector_id",
                                                  "delete connector %s (%s)" % (NAME, old)]
    assert server.write_summary() == [("POST", "%s/connectors/_create" % ML),
                                      ("PUT", "%s/connectors/%s" % (ML, new)),
                                      ("PUT", "%s/models/%s" % (ML, mid)),
                                      ("DELETE", "%s/connectors/%s" % (ML, old))]
    # Created under the set-aside name, renamed once the server can tell its ID from the old one's.
    assert server.calls("POST", r"connectors/_create$")[0].body["name"] == NAME + " (unused replacement)"
    assert server.calls("PUT", r"connectors/")[0].body == {"name": NAME}
    assert server.calls("PUT", r"models/")[0].body == {"connector_id": new}
    assert server.models[mid]["connector_id"] == new
    assert server.models[mid]["model_state"] == "DEPLOYED"
    assert list(server.connectors) == [new]
    assert server.connectors[new]["parameters"][REPLACES] == old
    assert server.connectors[new]["parameters"]["model"] == "text-embedding-3-large"
    assert result["models"] == [mid]
    assert result["diff"]["after"] == dict(public_view(server, new), credential="set")
    assert result["diff"]["before"] == dict(result["diff"]["before"], connector_id=old, credential="set")


def test_replace_is_the_default_policy_and_never_updates_in_place(run, server):
    old = create(run, server)
    deployed_model(server, old)
    run(module, spec(description="changed"))
    assert [r.body for r in server.calls("PUT", r"connectors/")] == [{"name": NAME}], "only the rename"


def test_deployed_model_with_redeploy(run, server, clock):
    cid = create(run, server)
    mid = deployed_model(server, cid)
    result = run(module, spec(description="changed", on_deployed_models="redeploy"), diff=True)
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["undeploy model embedding-model",
                                                  "update connector %s (%s): description" % (NAME, cid),
                                                  "deploy model embedding-model"]
    assert server.write_summary() == [("POST", "%s/models/%s/_undeploy" % (ML, mid)),
                                      ("PUT", "%s/connectors/%s" % (ML, cid)),
                                      ("POST", "%s/models/%s/_deploy" % (ML, mid))]
    assert server.models[mid]["model_state"] == "DEPLOYED"
    assert server.connectors[cid]["description"] == "changed"
    assert result["connector_id"] == cid
    assert result["diff"]["after"] == public_view(server, cid)


def test_parameter_removal_with_a_deployed_model_replaces_even_with_redeploy(run, server):
    old = create(run, server)
    mid = deployed_model(server, old)
    result = run(module, spec(parameters={"model": "text-embedding-3-small"}, on_deployed_models="redeploy"))
    new = result["connector_id"]
    assert plan_text(result, model_ids=False) == ["create connector %s (unused replacement)" % NAME,
                                                  "rename connector %s (unused replacement): name" % NAME,
                                                  "update model embedding-model: connector_id",
                                                  "delete connector %s (%s)" % (NAME, old)]
    assert server.models[mid]["connector_id"] == new
    assert server.models[mid]["model_state"] == "DEPLOYED"
    assert server.calls("POST", r"_undeploy$") == []


def test_redeploy_reports_a_failed_deploy(run, server):
    cid = create(run, server)
    mid = deployed_model(server, cid)
    server.deploy_outcome = "DEPLOY_FAILED"
    result = run(module, spec(description="changed", on_deployed_models="redeploy"))
    assert result["failed"] is True
    assert result["changed"] is True
    assert server.deploy_error in result["msg"]
    assert plan_text(result, model_ids=False)[-1] == "deploy model embedding-model"


def test_partially_deployed_model_blocks_an_in_place_update(run, server):
    cid = create(run, server)
    mid = deployed_model(server, cid, state="PARTIALLY_DEPLOYED")
    result = run(module, spec(description="changed", on_deployed_models="fail"))
    assert result["failed"] is True
    assert "embedding-model" in result["msg"]
    assert result["models"] == [mid]


def test_replace_with_a_partially_deployed_model(run, server):
    old = create(run, server)
    mid = deployed_model(server, old, state="PARTIALLY_DEPLOYED")
    result = run(module, spec(description="changed", wait_timeout=30))
    assert result["failed"] is False, result["msg"]
    new = result["connector_id"]
    assert server.models[mid]["connector_id"] == new
    assert list(server.connectors) == [new]


def test_deployed_model_with_fail_policy_fails_naming_the_models(run, server):
    cid = create(run, server)
    m1 = deployed_model(server, cid, name="model-a")
    m2 = deployed_model(server, cid, name="model-b")
    deployed_model(server, cid, name="model-c", state="UNDEPLOYED")
    result = run(module, spec(description="changed", on_deployed_models="fail"))
    assert result["failed"] is True
    assert result["changed"] is False
    assert "model-a, model-b" in result["msg"]
    assert "model-c" not in result["msg"]
    assert "on_deployed_models" in result["msg"]
    assert "description" in result["msg"]
    assert sorted(result["models"]) == sorted([m1, m2])
    assert server.writes == []


# -- interrupted replace ------------------------------------------------------------------------------
def _interrupted_replace(run, server):
    """A replace that created the new connector and then stopped before moving the model."""
    old = create(run, server)
    mid = deployed_model(server, old)
    server.fail_next("PUT", r"models/", 500, reason="node left the cluster", times=10)
    failed = run(module, spec(description="changed"))
    assert failed["failed"] is True
    assert len(server.connectors) == 2
    new = next(c for c in server.connectors if c != old)
    assert server.connectors[new]["parameters"][REPLACES] == old
    server._faults.clear()
    server.requests.clear()
    return old, new, mid


def test_interrupted_replace_is_finished_on_the_next_run(run, server):
    old, new, mid = _interrupted_replace(run, server)
    result = run(module, spec(description="changed"))
    assert result["failed"] is False
    assert result["changed"] is True
    assert result["connector_id"] == new
    assert plan_text(result, model_ids=False) == ["update model embedding-model: connector_id",
                                                  "delete connector %s (%s)" % (NAME, old)]
    assert list(server.connectors) == [new]
    assert server.models[mid]["connector_id"] == new
    assert server.models[mid]["model_state"] == "DEPLOYED"
    # no second new connector was created
    assert server.calls("POST", r"connectors/_create$") == []
    again = run(module, spec(description="changed"))
    assert again["changed"] is False


def test_interrupted_replace_without_models_deletes_the_old_connector(run, server):
    old = server.add_connector(NAME, parameters={"model": "m"})
    new = server.add_connector(NAME, parameters={"model": "m", REPLACES: old})
    result = run(module, {"name": NAME})
    assert plan_text(result, model_ids=False) == ["delete connector %s (%s)" % (NAME, old)]
    assert list(server.connectors) == [new]
    assert result["connector_id"] == new


def test_interrupted_replace_reports_the_moved_models_in_check_mode_too(fresh, run):
    fresh(_interrupted_with_model)
    checked = run(module, {"name": NAME}, check_mode=True)
    real_server = fresh(_interrupted_with_model)
    real = run(module, {"name": NAME})
    assert checked["models"] == real["models"] == list(real_server.models)
    assert plan_text(checked, model_ids=False) == plan_text(real, model_ids=False)


def test_interrupted_replace_in_check_mode_writes_nothing(run, server):
    old, new, mid = _interrupted_replace(run, server)
    result = run(module, spec(description="changed"), check_mode=True)
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["update model embedding-model: connector_id",
                                                  "delete connector %s (%s)" % (NAME, old)]
    assert server.writes == []


# -- delete -------------------------------------------------------------------------------------------
def test_delete(run, server):
    cid = create(run, server)
    before = public_view(server, cid)
    result = run(module, {"name": NAME, "state": "absent"}, diff=True)
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["delete connector %s (%s)" % (NAME, cid)]
    assert server.write_summary() == [("DELETE", "%s/connectors/%s" % (ML, cid))]
    assert server.connectors == {}
    assert result["connector"] == {}
    assert result["connector_id"] == cid
    assert result["diff"] == {"before": before, "after": {}}


def test_delete_by_id(run, server):
    cid = create(run, server)
    result = run(module, {"connector_id": cid, "state": "absent"})
    assert result["changed"] is True
    assert server.connectors == {}


def test_delete_when_already_gone(run, server):
    result = run(module, {"name": NAME, "state": "absent"}, diff=True)
    assert result["changed"] is False
    assert plan_text(result, model_ids=False) == []
    assert server.writes == []
    assert result["diff"] == {"before": {}, "after": {}}


def test_delete_by_id_when_already_gone(run, server):
    result = run(module, {"connector_id": "goneConnector000001", "state": "absent"})
    assert result["changed"] is False
    assert result["failed"] is False
    assert server.writes == []


def test_delete_that_races_with_another_delete_is_success(run, server):
    cid = create(run, server)
    not_found = {"_index": ".plugins-ml-connector", "_id": cid, "result": "not_found"}
    server.fail_next("DELETE", r"connectors/", 404, body=not_found, process=True)
    result = run(module, {"name": NAME, "state": "absent"})
    assert result["failed"] is False
    assert result["changed"] is True
    assert server.connectors == {}


def test_delete_refused_while_models_use_it(run, server):
    cid = create(run, server)
    m1 = deployed_model(server, cid, name="model-a", state="REGISTERED")
    result = run(module, {"name": NAME, "state": "absent"})
    assert result["failed"] is True
    assert result["changed"] is False
    assert "model-a" in result["msg"]
    assert result["models"] == [m1]
    assert server.writes == []
    assert cid in server.connectors


# -- the server's in-use check matches connector IDs as analyzed text ----------------------------------------
# Real IDs from one node: the server refused to delete the first while a model used the second
# ("1 models are still using this connector"), as both hold the term "amo".
OLD_ID = "A0zKG6IBdy9ujDy4-aMO"
TWIN_TERM_IDS = ["BUzKG6IBdy9ujDy4-aMo", "CkzKG6IBdy9ujDy4-AmO", "D0zKG6IBdy9ujDy4-amo",
                 "EEzKG6IBdy9ujDy4-aMo", "FUzKG6IBdy9ujDy4-AMO"]
DISTINCT_ID = "GkzKG6IBdy9ujDy5aNqA"


def test_replace_takes_another_id_when_the_new_one_shares_a_term_with_the_old(run, server, clock):
    server.next_ids = [OLD_ID]
    old = create(run, server)
    mid = deployed_model(server, old)
    server.requests.clear()
    changed = spec(description="changed")
    checked = run(module, changed, check_mode=True)
    server.next_ids = [TWIN_TERM_IDS[0], DISTINCT_ID]
    result = run(module, changed)
    assert result["failed"] is False, result
    assert result["connector_id"] == DISTINCT_ID
    assert plan_text(checked, model_ids=False) == ["create connector %s (unused replacement)" % NAME,
                                                   "rename connector %s (unused replacement): name" % NAME,
                                                   "update model embedding-model: connector_id",
                                                   "delete connector %s (%s)" % (NAME, old)]
    # The first new connector could neither be deleted nor renamed while the model uses the old
    # one: it stays set aside (it was created under that name) and is deleted after the old
    # connector. Every write is in the plan (check mode cannot know the IDs the server will give).
    assert plan_text(result, model_ids=False) == ["create connector %s (unused replacement)" % NAME,
                                                  "create connector %s (unused replacement)" % NAME,
                                                  "rename connector %s (unused replacement): name" % NAME,
                                                  "update model embedding-model: connector_id",
                                                  "delete connector %s (%s)" % (NAME, old),
                                                  "delete connector %s (unused replacement)" % NAME]
    assert server.write_summary() == [("POST", "%s/connectors/_create" % ML),
                                      ("POST", "%s/connectors/_create" % ML),
                                      ("PUT", "%s/connectors/%s" % (ML, DISTINCT_ID)),
                                      ("PUT", "%s/models/%s" % (ML, mid)),
                                      ("DELETE", "%s/connectors/%s" % (ML, old)),
                                      ("DELETE", "%s/connectors/%s" % (ML, TWIN_TERM_IDS[0]))]
    assert server.calls("PUT", r"connectors/")[0].body == {"name": NAME}
    assert 1.1 in clock.sleeps
    assert list(server.connectors) == [DISTINCT_ID]
    assert server.models[mid]["connector_id"] == DISTINCT_ID


# A node whose part of the IDs holds a '-' (real: "GiC-XVXc"), in the 65.5 s in which character 3 of its IDs is
# '-' too: every ID it makes then shares the term "sqibgic" (core/generated_ids.py, observed in a whole run).
NODE = "1a20be5d55dc"
STRETCH_STARTS = 1796554489856          # 2026-12-06 10:54:49.856 UTC; it ends 65.536 s later


def test_replace_waits_out_the_stretch_in_which_every_new_id_shares_a_term(run, run_warned, server, clock):
    server.next_ids = [server.generated_id(STRETCH_STARTS - 70000, 1022000, NODE)]
    old = create(run, server)
    mid = deployed_model(server, old)
    # another stack's connector, made in the stretch, with a deployed model
    neighbour = server.generated_id(STRETCH_STARTS + 1000, 1022600, NODE)
    server.add_connector("neighbour", connector_id=neighbour)
    deployed_model(server, neighbour, name="neighbour-model")
    server.generate_ids(clock, STRETCH_STARTS + 3000, NODE)
    result = run_warned(module, spec(description="changed"))
    assert result["failed"] is False, result["msg"]
    new = result["connector_id"]
    assert not id_terms(new) & id_terms(neighbour) and not id_terms(new) & id_terms(old)
    assert server.models[mid]["connector_id"] == new
    # the first replacement (made at 10:54:52.856) shared "sqibgic" with the neighbour's ID; the run waited
    # until the stretch was over (62.68 s, and a quarter of a second) instead of taking IDs a second apart
    assert [round(s, 3) for s in clock.sleeps if s > 1] == [65.536 - 3.0 + 0.25]
    assert len(server.calls("POST", r"connectors/_create$")) == 2
    # the first replacement stays set aside (unused): the neighbour's model shares its term, so the server refuses
    # to delete it, and the run says so instead of failing after the models moved
    aside = sorted(set(server.connectors) - {neighbour, new})
    assert len(aside) == 1 and server.connectors[aside[0]]["name"] == NAME + " (unused replacement)"
    assert any(aside[0] in w and "neighbour-model" in w and "'sqibgic'" in w for w in result["warnings"]), \
        result["warnings"]
    assert server.connectors[aside[0]]["parameters"][REPLACES] == old


# A node whose own part of the IDs holds a term between two '-' (real: "Hoe-cd6-", a 3.6.0 node started on
# 2026-12-06): every ID it makes shares "cd6", whenever it is made, until the node restarts.
LOOK_ALIKE_NODE = "1e87be71debe"


def test_replace_on_a_node_whose_every_id_shares_a_term_stops_at_the_first_and_says_why(run, server, clock):
    server.next_ids = [server.generated_id(STRETCH_STARTS - 70000, 1022000, LOOK_ALIKE_NODE)]
    old = create(run, server)
    mid = deployed_model(server, old)
    server.generate_ids(clock, STRETCH_STARTS + 70000, LOOK_ALIKE_NODE)
    result = run(module, spec(description="changed"))
    assert result["failed"] is True and result["changed"] is True
    # no second try and no wait: any other ID of the node shares the term too
    assert len(server.calls("POST", r"connectors/_create$")) == 1
    assert [s for s in clock.sleeps if s >= 1] == []
    assert "'cd6'" in result["msg"] and "every connector ID the node makes" in result["msg"], result["msg"]
    assert "restart" in result["msg"] and "on_deployed_models=redeploy" in result["msg"], result["msg"]
    assert server.calls("DELETE") == [] and server.calls("PUT", r"models/") == []
    assert server.models[mid]["connector_id"] == old


def test_replace_gives_up_when_every_new_id_shares_a_term_and_the_models_stay(run, server):
    server.next_ids = [OLD_ID]
    old = create(run, server)
    mid = deployed_model(server, old)
    server.next_ids = list(TWIN_TERM_IDS)
    result = run(module, spec(description="changed"))
    assert result["failed"] is True
    assert result["changed"] is True
    assert "'amo'" in result["msg"] and "on_deployed_models=redeploy" in result["msg"]
    set_aside = TWIN_TERM_IDS[:3]
    assert ", ".join(set_aside) in result["msg"]
    assert len(server.calls("POST", r"connectors/_create$")) == 3
    assert server.calls("DELETE") == [] and server.calls("PUT", r"models/") == []
    assert sorted(server.connectors) == sorted([old] + set_aside)
    assert {server.connectors[i]["name"] for i in set_aside} == {NAME + " (unused replacement)"}
    assert server.models[mid]["connector_id"] == old
    # The next run finds one connector by that name (the set-aside ones are no duplicates), takes
    # a new ID that shares no term with the old one or the set-aside ones, and deletes them all.
    server.next_ids = ["HkzKG6IBdy9ujDy5-AMO", DISTINCT_ID]
    server.requests.clear()
    again = run(module, spec(description="changed"))
    assert again["failed"] is False, again
    aside = "delete connector %s (unused replacement)" % NAME
    assert plan_text(again, model_ids=False) == ["create connector %s (unused replacement)" % NAME,
                                                 "create connector %s (unused replacement)" % NAME,
                                                 "rename connector %s (unused replacement): name" % NAME,
                                                 "update model embedding-model: connector_id",
                                                 "delete connector %s (%s)" % (NAME, old)] + [
        "%s (%s)" % (aside, cid) for cid in set_aside] + [aside]
    assert server.models[mid]["connector_id"] == DISTINCT_ID
    assert list(server.connectors) == [DISTINCT_ID]


def test_delete_takes_the_replacements_set_aside_for_the_connector_along(run, server):
    old = server.add_connector(NAME, connector_id=OLD_ID)
    aside = server.add_connector(NAME + " (unused replacement)", connector_id=TWIN_TERM_IDS[0],
                                 parameters={REPLACES: OLD_ID})
    foreign = server.add_connector(NAME + " (unused replacement)", parameters={REPLACES: "another-connector"})
    result = run(module, {"name": NAME, "state": "absent"})
    assert plan_text(result, model_ids=False) == ["delete connector %s (%s)" % (NAME, old),
                                                  "delete connector %s (unused replacement) (%s)" % (NAME, aside)]
    assert [r.path for r in server.calls("DELETE")] == ["%s/connectors/%s" % (ML, c) for c in (old, aside)]
    assert list(server.connectors) == [foreign]


def _phantom_user(server):
    """Connector NAME, unused, and a model of another connector whose ID shares a term with it."""
    old = server.add_connector(NAME, parameters={"model": "text-embedding-3-small", "dimensions": 1536},
                               connector_id=OLD_ID, credential={"api_key": KEY})
    other = server.add_connector("other-connector", connector_id=TWIN_TERM_IDS[0])
    mid = server.add_model("other-model", other)
    return old, mid


@pytest.mark.parametrize("check_mode", [False, True])
def test_delete_under_a_model_that_only_shares_a_term_sets_the_connector_aside(run_warned, server, check_mode):
    """The server counts another connector's (undeployed) model as a user, because their IDs share an analyzed
    term, and refuses the delete: the connector is renamed aside (unused, clearly named), and a later delete
    run removes it once the server allows."""
    old, mid = _phantom_user(server)
    server.requests.clear()
    result = run_warned(module, {"name": NAME, "state": "absent"}, check_mode=check_mode)
    assert result["failed"] is False and result["changed"] is True, result.get("msg")
    assert [(s["operation"], s["kind"]) for s in result["plan"]] == [("rename", "connector")]
    assert any("other-model (%s)" % mid in w and "'amo'" in w for w in result["warnings"]), result["warnings"]
    if check_mode:
        assert server.writes == []
        return
    assert server.connectors[old]["name"] == PENDING % NAME
    # What the server would have answered to the delete.
    with pytest.raises(HttpError) as refused:
        server.delete_connector(old)
    assert refused.value.status == 409
    again = run_warned(module, {"name": NAME, "state": "absent"})
    assert again["failed"] is False and again["changed"] is False and old in server.connectors, again
    del server.models[mid]
    last = run_warned(module, {"name": NAME, "state": "absent"})
    assert last["failed"] is False and last["changed"] is True, last
    assert old not in server.connectors


def test_delete_under_a_deployed_model_that_only_shares_a_term_fails_naming_it(run, server):
    """A deployed model that shares a term also blocks the rename (the server's update check), so nothing can be
    done: the run fails first, naming the model, and nothing changes."""
    old, mid = _phantom_user(server)
    server.models[mid]["model_state"] = "DEPLOYED"
    server.requests.clear()
    result = run(module, {"name": NAME, "state": "absent"})
    assert result["failed"] is True and result["changed"] is False, result
    assert "other-model (%s)" % mid in result["msg"] and "'amo'" in result["msg"]
    assert server.writes == []
    assert server.connectors[old]["name"] == NAME


def test_replace_under_a_model_that_only_shares_a_term_converges_and_deletes_the_old_one_later(run_warned, server):
    """ML Commons counts another connector's model as a user of the old connector when their IDs share an
    analyzed term: the replace still converges (the models move, the old connector stays as the replaced
    half, named in a warning), and a later run deletes it once the server allows."""
    old, other_model = _phantom_user(server)
    user = deployed_model(server, old)
    server.requests.clear()
    result = run_warned(module, spec(description="changed"))
    assert result["failed"] is False, result["msg"]
    new = result["connector_id"]
    assert new != old and server.models[user]["connector_id"] == new
    assert server.models[user]["model_state"] == "DEPLOYED"
    assert old in server.connectors, "the server refuses its delete"
    assert any(old in w and "other-model" in w for w in result.get("warnings") or []), result.get("warnings")
    # while the other model stays, later runs change nothing and do not fail
    again = run_warned(module, spec(description="changed"))
    assert again["failed"] is False and again["changed"] is False, again
    assert again["connector_id"] == new
    # once it is gone, the next run deletes the old connector
    del server.models[other_model]
    last = run_warned(module, spec(description="changed"))
    assert last["failed"] is False and last["changed"] is True, last
    assert old not in server.connectors and new in server.connectors
    assert run_warned(module, spec(description="changed"))["changed"] is False


def test_redeploy_is_not_blocked_by_the_in_use_check(run, server):
    old, dummy = _phantom_user(server)
    user = deployed_model(server, old)
    result = run(module, spec(description="changed", on_deployed_models="redeploy"))
    assert result["failed"] is False, result
    assert result["connector_id"] == old
    assert server.models[user]["model_state"] == "DEPLOYED"


def test_interrupted_replace_under_a_model_that_only_shares_a_term_does_not_fail(run_warned, server):
    old, mid = _phantom_user(server)
    server.add_connector(NAME, parameters={"model": "m", REPLACES: old})
    server.requests.clear()
    result = run_warned(module, {"name": NAME})
    assert result["failed"] is False, result["msg"]
    assert old in server.connectors
    assert any(old in w for w in result.get("warnings") or []), result.get("warnings")


# -- duplicates -------------------------------------------------------------------------------------------
def test_duplicate_names_fail_listing_the_ids(run, server):
    a = server.add_connector(NAME)
    b = server.add_connector(NAME)
    result = run(module, spec())
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["ids"] == sorted([a, b])
    assert "%s, %s" % tuple(sorted([a, b])) in result["msg"]
    assert "connector_id" in result["msg"]
    assert server.writes == []


def test_duplicate_names_fail_for_absent_too(run, server):
    server.add_connector(NAME)
    server.add_connector(NAME)
    result = run(module, {"name": NAME, "state": "absent"})
    assert result["failed"] is True
    assert server.writes == []
    assert len(server.connectors) == 2


def test_three_same_named_connectors_are_duplicates_even_with_a_marker(run, server):
    a = server.add_connector(NAME)
    server.add_connector(NAME, parameters={REPLACES: a})
    server.add_connector(NAME)
    result = run(module, spec())
    assert result["failed"] is True
    assert len(result["ids"]) == 3
    assert server.writes == []


def test_connector_id_picks_one_of_the_duplicates(run, server):
    a = server.add_connector(NAME, parameters={"model": "text-embedding-3-small", "dimensions": "1536"},
                             description="OpenAI embeddings")
    server.add_connector(NAME)
    result = run(module, spec(connector_id=a, credential_update="on_create"))
    assert result["failed"] is False
    assert result["changed"] is False
    assert server.writes == []


@pytest.mark.parametrize("check_mode", [True, False])
def test_keep_one_keeps_the_oldest_of_duplicates_made_by_hand_and_deletes_the_others(run, server, check_mode):
    older = server.add_connector(NAME, parameters={"model": "text-embedding-3-small", "dimensions": "1536"},
                                 description="OpenAI embeddings", connector_id="zzOlder")
    newer = server.add_connector(NAME, connector_id="aaNewer")
    result = run(module, spec(duplicates="keep_one", credential_update="on_create"), check_mode=check_mode)
    assert result["failed"] is False, result.get("msg")
    assert plan_text(result) == ["delete connector %s (%s)" % (NAME, newer)]
    assert result["connector_id"] == older
    if check_mode:
        assert server.writes == [] and sorted(server.connectors) == sorted([older, newer])
    else:
        assert list(server.connectors) == [older]
        again = run(module, spec(credential_update="on_create"))
        assert again["changed"] is False and again["connector_id"] == older


def test_keep_one_keeps_the_duplicate_a_model_uses(run, server):
    older = server.add_connector(NAME)
    newer = server.add_connector(NAME)
    server.add_model("embedding-model", newer, state="DEPLOYED")
    result = run(module, {"name": NAME, "duplicates": "keep_one", "state": "absent"})
    assert result["failed"] is True, "the kept connector is in use, so its own delete is refused"
    assert sorted(server.connectors) == [newer], "the unused duplicate was deleted, the used one kept"
    assert older not in server.connectors


def test_keep_one_fails_when_models_use_two_duplicates_and_deletes_nothing(run, server):
    a = server.add_connector(NAME)
    b = server.add_connector(NAME)
    c = server.add_connector(NAME)
    server.add_model("model-a", a)
    server.add_model("model-b", b)
    result = run(module, spec(duplicates="keep_one"))
    assert result["failed"] is True
    assert result["ids"] == sorted([a, b])
    assert "models use each of them" in result["msg"] and "connector_id" in result["msg"]
    assert server.writes == [] and c in server.connectors


def test_similar_names_are_not_duplicates(run, server):
    server.add_connector(NAME + "-v2")
    server.add_connector("OpenAI Embedding")
    result = run(module, spec())
    assert plan_text(result, model_ids=False) == ["create connector %s" % NAME]


# -- bad input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides,option", [
    ({"name": "bad<name>"}, "name"),
    ({"description": "emoji \u2728 not allowed"}, "description"),
    ({"parameters": {FP: "x"}}, "parameters.%s" % FP),
    ({"parameters": {REPLACES: "x"}}, "parameters.%s" % REPLACES),
    ({"actions": [dict(ACTION, action_type="stream")]}, "actions[0].action_type"),
    ({"credential": {"api_key": {"nested": "sk-nested-value"}}}, "credential.api_key"),
], ids=["name", "description", "reserved-fingerprint", "reserved-replaces", "action-type", "credential-type"])
def test_bad_input_fails_naming_the_option_before_any_request(run, server, overrides, option):
    result = run(module, spec(**overrides), extra_secrets=["sk-nested-value"])
    assert result["failed"] is True
    assert option in result["msg"]
    assert server.requests == []


@pytest.mark.parametrize("args,words", [
    ({"description": "x"}, ["name", "connector_id"]),
    ({"name": NAME, "protocol": "grpc"}, ["protocol", "grpc"]),
    ({"name": NAME, "on_deployed_models": "ignore"}, ["on_deployed_models"]),
    ({"name": NAME, "actions": [{"action_type": "predict", "method": "POST"}]}, ["url"]),
], ids=["name-or-id", "protocol", "policy", "action-url"])
def test_argument_spec_errors(run, server, args, words):
    result = run(module, args)
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"]
    assert server.requests == []


# -- credential fingerprint ---------------------------------------------------------------------------------
def test_same_credential_is_no_change(run, server):
    create(run, server)
    result = run(module, spec())
    assert result["changed"] is False
    assert server.writes == []


def test_rotated_credential_is_sent_with_a_new_fingerprint(run, server):
    cid = create(run, server)
    old_fp = server.connectors[cid]["parameters"][FP]
    result = run(module, spec(credential={"api_key": NEW_KEY}), diff=True)
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["update connector %s (%s): credential" % (NAME, cid)]
    put = server.calls("PUT", r"connectors/")[0].body
    assert put["credential"] == {"api_key": NEW_KEY}
    assert set(put) == {"credential", "parameters"}
    assert set(put["parameters"]) == {FP}
    assert FP_FORMAT.match(put["parameters"][FP]) and put["parameters"][FP] != old_fp
    assert server.connectors[cid]["credential"] == {"api_key": NEW_KEY}
    assert result["diff"]["after"]["credential"] == "changed"
    assert result["diff"]["before"]["credential"] == "set"
    assert FP not in json.dumps(result)
    again = run(module, spec(credential={"api_key": NEW_KEY}))
    assert again["changed"] is False


def test_credential_update_always_sends_it_every_run(run, server):
    cid = create(run, server)
    for dummy in range(2):
        server.requests.clear()
        result = run(module, spec(credential_update="always"))
        assert result["changed"] is True
        assert plan_text(result, model_ids=False) == ["update connector %s (%s): credential" % (NAME, cid)]
        assert server.calls("PUT", r"connectors/")[0].body["credential"] == {"api_key": KEY}


def test_credential_update_on_create_never_sends_it_again(run, server):
    cid = create(run, server)
    result = run(module, spec(credential={"api_key": NEW_KEY}, credential_update="on_create"))
    assert result["changed"] is False
    assert server.writes == []
    assert server.connectors[cid]["credential"] == {"api_key": KEY}


def test_connector_without_a_fingerprint_gets_the_credential_once(run, server):
    cid = server.add_connector(NAME, parameters={"model": "text-embedding-3-small", "dimensions": "1536"},
                               description="OpenAI embeddings", credential={"api_key": "unknown-old-key"})
    result = run(module, spec())
    assert plan_text(result, model_ids=False) == ["update connector %s (%s): credential" % (NAME, cid)]
    assert server.connectors[cid]["credential"] == {"api_key": KEY}
    assert FP_FORMAT.match(server.connectors[cid]["parameters"][FP])
    assert run(module, spec())["changed"] is False


def test_fingerprint_key_is_mixed_in(run, server):
    cid = create(run, server, fingerprint_key="fp-key-one-1234")
    assert run(module, spec(fingerprint_key="fp-key-one-1234"))["changed"] is False
    result = run(module, spec(fingerprint_key="fp-key-two-5678"))
    assert plan_text(result, model_ids=False) == ["update connector %s (%s): credential" % (NAME, cid)]
    stored = server.connectors[cid]["parameters"][FP]
    assert "fp-key" not in stored


def test_fingerprint_key_from_the_environment(run, server, monkeypatch):
    monkeypatch.setenv("POLARSEARCH_FINGERPRINT_KEY", "env-fp-key-0001")
    create(run, server)
    assert run(module, spec(), extra_secrets=["env-fp-key-0001"])["changed"] is False
    monkeypatch.setenv("POLARSEARCH_FINGERPRINT_KEY", "env-fp-key-0002")
    assert run(module, spec(), extra_secrets=["env-fp-key-0002"])["changed"] is True


def test_rotation_with_a_deployed_model_replaces_the_connector(run, server):
    old = create(run, server)
    mid = deployed_model(server, old)
    result = run(module, spec(credential={"api_key": NEW_KEY}), diff=True)
    new = result["connector_id"]
    assert plan_text(result, model_ids=False) == ["create connector %s (unused replacement)" % NAME,
                                                  "rename connector %s (unused replacement): name" % NAME,
                                                  "update model embedding-model: connector_id",
                                                  "delete connector %s (%s)" % (NAME, old)]
    assert server.connectors[new]["credential"] == {"api_key": NEW_KEY}
    assert result["diff"]["after"]["credential"] == "changed"
    assert server.models[mid]["connector_id"] == new


def test_rotation_with_a_deployed_model_and_redeploy(run, server):
    cid = create(run, server)
    mid = deployed_model(server, cid)
    result = run(module, spec(credential={"api_key": NEW_KEY}, on_deployed_models="redeploy"), diff=True)
    assert plan_text(result, model_ids=False) == ["undeploy model embedding-model",
                                                  "update connector %s (%s): credential" % (NAME, cid),
                                                  "deploy model embedding-model"]
    assert server.connectors[cid]["credential"] == {"api_key": NEW_KEY}
    assert result["diff"]["after"]["credential"] == "changed"


# -- secrets ----------------------------------------------------------------------------------------------------
def test_server_echoing_the_credential_is_redacted(run, server):
    server.fail_next("POST", r"connectors/_create$", 400,
                     reason="Failed to parse credential {api_key=%s}: invalid header value Bearer %s" % (KEY, KEY))
    result = run(module, spec())
    assert result["failed"] is True
    assert "HTTP 400" in result["msg"]
    assert "********" in result["msg"]
    assert KEY not in json.dumps(result)


def test_server_echoing_the_password_is_redacted(run, server):
    server.fail_next("POST", r"connectors/_search$", 401,
                     reason="Authentication failed for user admin with password %s" % ADMIN_PASSWORD)
    result = run(module, spec())
    assert result["failed"] is True
    assert "HTTP 401" in result["msg"]
    assert ADMIN_PASSWORD not in json.dumps(result)


def test_password_option_form_is_not_leaked(run, server):
    server.fail_next("POST", r"connectors/_search$", 403, reason="user svc / Pw-Option-Secret-42 denied")
    result = run(module, dict(spec(), username="svc", password="Pw-Option-Secret-42", host="https://h:9200"),
                 )
    assert result["failed"] is True
    assert "Pw-Option-Secret-42" not in json.dumps(result)


def test_connection_error_text_does_not_leak_the_credential(run, server):
    server.fail_next("POST", r"connectors/_create$", exc=requests.exceptions.ConnectionError(
        "connection reset while sending {\"credential\": {\"api_key\": \"%s\"}}" % KEY), times=10)
    result = run(module, spec(retries=1))
    assert result["failed"] is True
    assert "failed after 2 attempt(s)" in result["msg"]
    assert KEY not in json.dumps(result)


# -- retries at the module level ------------------------------------------------------------------------------------
def test_master_key_not_initialized_is_retried(run, server, clock):
    server.master_key_missing = 1
    result = run(module, spec())
    assert result["failed"] is False
    assert len(server.calls("POST", r"connectors/_create$")) == 2
    assert len(server.connectors) == 1
    assert clock.client_sleeps and clock.client_sleeps[0] >= 5.0


def test_create_that_succeeded_behind_a_502_is_not_repeated(run, server):
    server.fail_next("POST", r"connectors/_create$", 502, reason="Bad Gateway", process=True)
    result = run(module, spec())
    assert result["failed"] is False
    assert result["changed"] is True
    assert len(server.calls("POST", r"connectors/_create$")) == 1
    assert list(server.connectors) == [result["connector_id"]]


def test_replace_create_behind_a_502_is_not_repeated_and_does_not_pick_the_old_connector(run, server):
    old = create(run, server)
    deployed_model(server, old)
    server.fail_next("POST", r"connectors/_create$", 502, reason="Bad Gateway", process=True)
    result = run(module, spec(description="changed"))
    assert result["failed"] is False
    assert len(server.calls("POST", r"connectors/_create$")) == 1
    assert result["connector_id"] != old
    assert list(server.connectors) == [result["connector_id"]]


# -- check mode ----------------------------------------------------------------------------------------------------
def _existing(server):
    server.add_connector(NAME, parameters={"model": "text-embedding-3-small", "dimensions": "1536"},
                         description="OpenAI embeddings", credential={"api_key": KEY})


def _existing_deployed(server):
    _existing(server)
    cid = next(iter(server.connectors))
    server.add_model("embedding-model", cid, state="DEPLOYED")


@pytest.mark.parametrize("setup,args,ignore", [
    (None, spec(), ("connector_id",)),
    (_existing, spec(credential_update="on_create"), ()),
    (_existing, spec(description="changed", credential_update="on_create"), ()),
    (_existing, spec(credential={"api_key": NEW_KEY}), ()),
    (_existing, spec(parameters={"model": "m2"}), ("connector_id",)),
    (_existing_deployed, spec(description="changed", credential_update="on_create"), ("connector_id",)),
    (_existing_deployed, spec(description="changed", on_deployed_models="redeploy",
                              credential_update="on_create"), ()),
    (_existing_deployed, spec(description="changed", on_deployed_models="fail", credential_update="on_create"),
     ()),
    (_existing, {"name": NAME, "state": "absent"}, ()),
    (None, {"name": NAME, "state": "absent"}, ()),
], ids=["create", "no-change", "update", "rotate", "replace-removal", "replace-deployed", "redeploy",
        "fail-policy", "delete", "already-gone"])
def test_check_mode_matches_the_real_run(check_matches_real, setup, args, ignore):
    checked, real, dummy, real_server = check_matches_real(module, args, setup=setup, ignore=ignore)
    if not real["failed"]:
        assert strip(checked["connector"], ignore) == strip(real["connector"], ignore)
    assert bool(real_server.writes) == real["changed"]


def strip(value, keys):
    return {k: v for k, v in (value or {}).items() if k not in keys}


def test_check_mode_create_returns_the_predicted_connector(run, server):
    result = run(module, spec(), check_mode=True, diff=True)
    assert result["changed"] is True
    assert "connector_id" not in result["connector"]
    assert result["connector"]["parameters"] == {"model": "text-embedding-3-small", "dimensions": "1536"}
    assert result["diff"]["after"]["credential"] == "set"
    assert server.writes == []


def test_check_mode_create_with_client_config_matches_the_real_run(check_matches_real):
    check_matches_real(module, spec(client_config={"read_timeout": 60}), ignore=("connector_id",))


def _interrupted_with_model(server):
    old = server.add_connector(NAME, parameters={"model": "m"})
    server.add_connector(NAME, parameters={"model": "m", REPLACES: old})
    server.add_model("embedding-model", old, state="DEPLOYED")


def test_absent_after_an_interrupted_replace_fails_while_models_use_it(run, fresh):
    server = fresh(_interrupted_with_model)
    result = run(module, {"name": NAME, "state": "absent"})
    assert result["failed"] is True
    assert "embedding-model" in result["msg"]
    # the replace was finished first: the model moved, the old connector is gone
    assert len(server.connectors) == 1
    assert plan_text(result, model_ids=False)[0] == "update model embedding-model: connector_id"


def test_check_mode_absent_after_an_interrupted_replace_matches_the_real_run(check_matches_real):
    check_matches_real(module, {"name": NAME, "state": "absent"}, setup=_interrupted_with_model)


def test_the_runner_catches_a_leaked_secret(run, server):
    # the no-secret check every run makes does fail when a "secret" reaches the result
    with pytest.raises(AssertionError, match="leaked into the module result"):
        run(module, spec(), extra_secrets=[NAME])


# -- MCP connectors ------------------------------------------------------------------------------------------
MCP_SETTING = "plugins.ml_commons.mcp_connector_enabled"


def mcp_spec(**overrides):
    args = {"name": "tools-mcp", "description": "MCP tools", "protocol": "mcp_streamable_http",
            "url": "https://api.openai.com/mcp", "headers": {"Authorization": "Bearer ${credential.token}"},
            "credential": {"token": KEY}}
    args.update(overrides)
    return {k: v for k, v in args.items() if v is not None}


def test_mcp_connector_is_created_with_a_top_level_url_and_no_actions(check_matches_real):
    def setup(server):
        server.set_setting(MCP_SETTING, "true")

    checked, real, dummy, server = check_matches_real(module, mcp_spec(), setup=setup, ignore=("connector_id",))
    assert real["changed"] is True and real["failed"] is False, real
    body = server.calls("POST", r"connectors/_create$")[0].body
    assert body["url"] == "https://api.openai.com/mcp" and "actions" not in body
    doc = server.connectors[real["connector_id"]]
    assert doc["protocol"] == "mcp_streamable_http" and doc["headers"] == {"Authorization": "Bearer ${credential.token}"}


def test_mcp_connector_converges_and_updates_its_url(run, server):
    server.set_setting(MCP_SETTING, "true")
    cid = run(module, mcp_spec())["connector_id"]
    assert run(module, mcp_spec())["changed"] is False
    server.requests.clear()
    result = run(module, mcp_spec(url="https://api.openai.com/mcp2"))
    assert plan_text(result) == ["update connector tools-mcp (%s): url" % cid]
    assert server.connectors[cid]["url"] == "https://api.openai.com/mcp2"


def test_mcp_connector_fails_before_any_write_while_the_setting_is_off(run, server):
    for check_mode in (True, False):
        result = run(module, mcp_spec(), check_mode=check_mode)
        assert result["failed"] is True
        assert MCP_SETTING in result["msg"] and "polarsearch_cluster_settings" in result["msg"]
    assert server.writes == []


@pytest.mark.parametrize("args, message", [
    (mcp_spec(actions=[copy.deepcopy(ACTION)]), "actions are not used by mcp_streamable_http connectors"),
    (mcp_spec(url=None), "url is required to create mcp_streamable_http connector"),
    (spec(url="https://api.openai.com/mcp"), "url only apply to MCP connectors"),
])
def test_mcp_options_that_do_not_fit_the_protocol_fail_before_any_write(run, server, args, message):
    server.set_setting(MCP_SETTING, "true")
    result = run(module, args)
    assert result["failed"] is True
    assert message in result["msg"]
    assert server.writes == []


# -- the update's in-use check is a text match too ----------------------------------------------------------
def _look_alike_user(server, state="DEPLOYED"):
    """Connector NAME, used by no model, and a deployed model of another connector whose ID shares a
    term with NAME's (the server's update check is a match query on connector_id)."""
    cid = server.add_connector(NAME, parameters={"model": "text-embedding-3-small", "dimensions": 1536},
                               connector_id=OLD_ID, credential={"api_key": KEY})
    other = server.add_connector("other-connector", connector_id=TWIN_TERM_IDS[0])
    return cid, server.add_model("other-model", other, state=state)


@pytest.mark.parametrize("policy", ["replace", "redeploy", "fail"])
def test_an_update_the_server_would_refuse_fails_before_any_write(run, fresh, policy):
    server = fresh(_look_alike_user)
    result = run(module, spec(description="changed", on_deployed_models=policy), check_mode=False)
    assert result["failed"] is True
    assert "other-model" in result["msg"] and "'amo'" in result["msg"], result["msg"]
    assert server.writes == []
    checked = run(module, spec(description="changed", on_deployed_models=policy), check_mode=True)
    assert checked["failed"] is True and checked["msg"] == result["msg"]


def test_an_undeployed_look_alike_does_not_block_an_update(run, fresh):
    server = fresh(lambda s: _look_alike_user(s, state="UNDEPLOYED"))
    result = run(module, spec(description="changed"))
    assert result["failed"] is False, result["msg"]
    assert server.connectors[OLD_ID]["description"] == "changed"


def test_redeploy_deploys_the_models_again_when_the_update_fails(run, server):
    cid = create(run, server)
    mid = deployed_model(server, cid)
    server.fail_next("PUT", r"connectors/%s$" % cid, status=400, reason="Connector URL is not matching")
    result = run(module, spec(description="changed", on_deployed_models="redeploy"))
    assert result["failed"] is True
    assert "Connector URL is not matching" in result["msg"]
    assert server.models[mid]["model_state"] == "DEPLOYED", "never left undeployed"
    assert plan_text(result, model_ids=False) == ["undeploy model embedding-model",
                                                  "update connector %s (%s): description" % (NAME, cid),
                                                  "deploy model embedding-model"]


# -- finishing an interrupted replace shows in the diff -------------------------------------------------------
def test_finishing_an_interrupted_replace_shows_the_old_connector_in_the_diff(fresh, run):
    fresh(_interrupted_with_model)
    result = run(module, {"name": NAME}, diff=True)
    assert result["changed"] is True
    old = result["plan"][-1]["id"]
    assert result["diff"]["before"]["connector_id"] == old
    assert result["diff"]["after"]["connector_id"] == result["connector_id"] != old


# -- adopting a connector made by hand (no fingerprint stored) ------------------------------------------------
def _by_hand(server, state=None):
    cid = server.add_connector(NAME, parameters={"model": "text-embedding-3-small", "dimensions": 1536},
                               credential={"api_key": KEY}, description="OpenAI embeddings",
                               actions=[copy.deepcopy(STORED_ACTION)])
    if state:
        server.add_model("embedding-model", cid, state=state)
    return cid


def test_adopting_a_hand_made_connector_with_a_deployed_model_keeps_its_id(run, fresh):
    server = fresh(lambda s: _by_hand(s, "DEPLOYED"))
    cid = next(iter(server.connectors))
    result = run(module, spec(), diff=True)
    assert result["failed"] is False, result.get("msg")
    assert result["changed"] is False and server.writes == []
    assert result["connector_id"] == cid and list(server.connectors) == [cid]
    assert result["credential_compared"] is False
    assert result["diff"]["before"]["credential"] == result["diff"]["after"]["credential"] == "unknown"


def test_adopting_a_hand_made_connector_records_the_fingerprint_in_place(run, fresh):
    server = fresh(_by_hand)
    cid = next(iter(server.connectors))
    result = run(module, spec(), diff=True)
    assert result["changed"] is True and result["connector_id"] == cid
    assert plan_text(result) == ["update connector %s (%s): credential" % (NAME, cid)]
    assert result["diff"]["before"]["credential"] == "unknown" and result["diff"]["after"]["credential"] == "set"
    assert FP_FORMAT.match(server.connectors[cid]["parameters"][FP])
    again = run(module, spec())
    assert again["changed"] is False and again["credential_compared"] is True


# -- access control ------------------------------------------------------------------------------------------
def test_a_replace_keeps_the_access_fields(run, fresh):
    server = fresh(connector_access_control=True)
    old = create(run, server, access_mode="restricted", backend_roles=["ml"])
    assert server.connectors[old]["access"] == "restricted"
    deployed_model(server, old)
    result = run(module, spec(description="changed"))
    assert result["failed"] is False, result["msg"]
    new = result["connector_id"]
    assert new != old
    assert server.connectors[new]["access"] == "restricted" and server.connectors[new]["backend_roles"] == ["ml"]
    assert server.calls("POST", r"connectors/_create$")[-1].body["access_mode"] == "restricted"
    # the replacement is shown with the access it keeps: the diff names only what the user changed
    assert result["diff"]["after"]["access"] == result["diff"]["before"]["access"] == "restricted"
    assert result["diff"]["after"]["backend_roles"] == ["ml"]


def test_add_all_backend_roles_is_sent_on_create_only(run, fresh):
    server = fresh(connector_access_control=True)
    cid = create(run, server, access_mode="restricted", add_all_backend_roles=True)
    assert server.connectors[cid]["backend_roles"] == ["ml", "ops"]
    again = run(module, spec(access_mode="restricted", add_all_backend_roles=True))
    assert again["changed"] is False and server.writes == []


# -- runs at the same time converge to one connector -------------------------------------------------------
def _made_by_runs(server, used=None):
    """Two same-named connectors that two runs made at the same time (both carry a fingerprint)."""
    made = []
    for cid, mark in (("zzOlder", "a"), ("aaNewer", "b")):
        parameters = {"model": "text-embedding-3-small", "dimensions": 1536, FP: "hmac-sha256:v1:00:" + mark * 64}
        made.append(server.add_connector(NAME, parameters=parameters, connector_id=cid, description="OpenAI embeddings"))
    first, second = made
    if used:
        server.add_model("embedding-model", {"first": first, "second": second}[used])
    return first, second


def test_duplicates_that_runs_made_resolve_to_the_oldest_and_the_other_is_deleted(run, fresh):
    server = fresh(_made_by_runs)
    result = run(module, spec(credential_update="on_create"))
    assert result["failed"] is False, result.get("msg")
    assert result["connector_id"] == "zzOlder", "the oldest wins, whatever the IDs"
    assert plan_text(result) == ["delete connector %s (aaNewer)" % NAME]
    assert list(server.connectors) == ["zzOlder"]


def test_duplicates_that_runs_made_keep_the_one_a_model_uses(run, fresh):
    server = fresh(lambda s: _made_by_runs(s, used="second"))
    result = run(module, spec(credential_update="on_create"))
    assert result["connector_id"] == "aaNewer"
    assert list(server.connectors) == ["aaNewer"]


def test_a_run_whose_new_connector_lost_deletes_it_and_adopts_the_winner(run, server):
    create_original = server.create_connector

    def racing_create(body):
        # Another run created the same connector a moment earlier.
        rival = server.add_connector(NAME, parameters=dict(body["parameters"]), connector_id="rivalWon")
        server.connectors[rival]["created_time"] -= 10
        return create_original(body)

    server.create_connector = racing_create
    result = run(module, spec())
    assert result["failed"] is False, result.get("msg")
    assert result["connector_id"] == "rivalWon"
    assert plan_text(result) == ["create connector %s" % NAME, "delete connector %s" % NAME]
    assert list(server.connectors) == ["rivalWon"]


def test_replace_waits_while_the_server_still_counts_the_moved_models(run, server):
    # 2.19: the in-use check of the delete may run before the models index shows the move.
    old = create(run, server)
    mid = deployed_model(server, old)
    server.in_use_refresh_lag = 2
    result = run(module, spec(parameters={"model": "text-embedding-3-large", "dimensions": 1536}))
    assert result["failed"] is False, result.get("msg")
    new = result["connector_id"]
    assert list(server.connectors) == [new]
    assert server.models[mid]["connector_id"] == new
    assert len(server.calls("DELETE", r"connectors/%s$" % old)) == 3
    assert plan_text(result, model_ids=False)[-1] == "delete connector %s (%s)" % (NAME, old)


def test_finishing_an_interrupted_replace_waits_for_the_moved_models_too(run, server):
    old, new, mid = _interrupted_replace(run, server)
    server.in_use_refresh_lag = 1
    result = run(module, spec(description="changed"))
    assert result["failed"] is False, result.get("msg")
    assert list(server.connectors) == [new]


# -- redeploy: no half-done change ------------------------------------------------------------------
def _two_deployed(run, server):
    cid = create(run, server)
    first = deployed_model(server, cid, name="model-a")
    second = deployed_model(server, cid, name="model-b")
    server.requests.clear()
    return cid, first, second


def test_redeploy_puts_back_the_first_model_when_the_second_undeploy_fails(run, server):
    cid, first, second = _two_deployed(run, server)
    server.fail_next("POST", r"models/%s/_undeploy$" % second, 400, reason="undeploy refused")
    result = run(module, spec(description="changed", on_deployed_models="redeploy"))
    assert result["failed"] is True
    assert server.models[first]["model_state"] == "DEPLOYED"
    assert server.models[second]["model_state"] == "DEPLOYED"
    assert server.connectors[cid]["description"] == "OpenAI embeddings", "no update after a failed undeploy"
    assert "undeploy refused" in result["msg"]
    assert "model-a (%s): DEPLOYED" % first in result["msg"] and "model-b (%s): DEPLOYED" % second in result["msg"]
    assert {m["model_id"]: m["model_state"] for m in result["model_states"]} == {first: "DEPLOYED",
                                                                                 second: "DEPLOYED"}


def test_redeploy_deploys_every_model_although_the_first_deploy_fails(run, server):
    cid, first, second = _two_deployed(run, server)
    server.fail_next("POST", r"models/%s/_deploy$" % first, 400, reason="deploy refused")
    result = run(module, spec(description="changed", on_deployed_models="redeploy"))
    assert result["failed"] is True and result["changed"] is True
    assert server.connectors[cid]["description"] == "changed"
    assert server.models[second]["model_state"] == "DEPLOYED", "the loop went on after the first failure"
    assert server.models[first]["model_state"] == "UNDEPLOYED"
    assert "deploy refused" in result["msg"]
    assert "model-a (%s): UNDEPLOYED" % first in result["msg"] and "model-b (%s): DEPLOYED" % second in result["msg"]


def test_redeploy_shows_both_the_update_error_and_the_deploy_error(run, server):
    cid, first, second = _two_deployed(run, server)
    server.fail_next("PUT", r"connectors/%s$" % cid, 400, reason="update refused")
    server.fail_next("POST", r"models/%s/_deploy$" % second, 400, reason="deploy refused")
    result = run(module, spec(description="changed", on_deployed_models="redeploy"))
    assert result["failed"] is True
    assert "update refused" in result["msg"] and "deploy refused" in result["msg"]
    assert server.connectors[cid]["description"] == "OpenAI embeddings"
    assert server.models[first]["model_state"] == "DEPLOYED"
    assert "model-b (%s): UNDEPLOYED" % second in result["msg"]


def test_redeploy_that_puts_every_model_back_names_the_update_error(run, server):
    cid, first, second = _two_deployed(run, server)
    server.fail_next("PUT", r"connectors/%s$" % cid, 400, reason="update refused")
    result = run(module, spec(description="changed", on_deployed_models="redeploy"))
    assert result["failed"] is True
    assert "update refused" in result["msg"] and "put back" in result["msg"]
    assert [server.models[m]["model_state"] for m in (first, second)] == ["DEPLOYED", "DEPLOYED"]


# -- models the caller cannot see (model access control) ---------------------------------------------
def _hidden_user(server, connector_id, name="their-model"):
    """A deployed model of another team on the connector, in a group the caller may not access: the caller's
    searches leave it out, the server's connector-delete check counts it (observed on 2.19.1)."""
    server.security_user = {"name": "ml-user-a", "backend_roles": ["team_a"], "roles": ["ml_full_access"]}
    mid = server.add_model(name, connector_id, state="DEPLOYED")
    server.hidden_models.add(mid)
    return mid


@pytest.mark.parametrize("check_mode", [False, True])
def test_replace_under_a_model_the_caller_cannot_see_changes_nothing_and_names_it(run, server, check_mode):
    old = create(run, server)
    mine = deployed_model(server, old)
    theirs = _hidden_user(server, old)
    server.requests.clear()
    result = run(module, spec(description="changed"), check_mode=check_mode)
    assert result["failed"] is True and result["changed"] is False, result
    assert theirs in result["msg"] and "cannot see" in result["msg"] and "ml-user-a" in result["msg"]
    assert "Nothing was changed" in result["msg"] and "admin" in result["msg"]
    assert result["models"] == [theirs]
    # the one request that is not a read: the DELETE the server refuses, naming every user
    assert server.write_summary() == [("DELETE", "%s/connectors/%s" % (ML, old))]
    assert list(server.connectors) == [old]
    assert server.models[mine]["connector_id"] == old and server.models[mine]["model_state"] == "DEPLOYED"


@pytest.mark.parametrize("check_mode", [False, True])
def test_redeploy_under_a_deployed_model_the_caller_cannot_see_changes_nothing_and_names_it(run, server, check_mode):
    """The server refuses an update in place while any deployed model uses the connector, the caller's hidden ones
    too (UpdateConnectorTransportAction); the refusal names them all. Asked before anything is undeployed (a PUT
    that the caller's own deployed model makes the server refuse), check mode and the real run fail alike."""
    old = create(run, server)
    mine = deployed_model(server, old)
    theirs = _hidden_user(server, old)
    server.requests.clear()
    result = run(module, spec(description="changed", on_deployed_models="redeploy"), check_mode=check_mode)
    assert result["failed"] is True and result["changed"] is False, result
    assert theirs in result["msg"] and "cannot see" in result["msg"] and "Nothing was changed" in result["msg"]
    assert mine not in result["models"] and theirs in result["models"]
    assert server.models[mine]["model_state"] == "DEPLOYED"
    assert server.connectors[old]["description"] == "OpenAI embeddings"
    assert [method for method, path in server.write_summary()] == ["PUT"]


def test_replace_asks_nothing_of_an_admin_who_sees_every_model(run, server):
    old = create(run, server)
    mid = deployed_model(server, old)
    server.security_user = {"name": "admin", "backend_roles": [], "roles": ["all_access"]}
    server.requests.clear()
    result = run(module, spec(description="changed"))
    assert result["failed"] is False, result["msg"]
    assert server.models[mid]["connector_id"] == result["connector_id"] != old
    assert [r.path for r in server.calls("DELETE")] == ["%s/connectors/%s" % (ML, old)]


def test_replace_without_visible_models_is_undone_when_a_hidden_model_blocks_the_delete(run, server):
    old = create(run, server)
    theirs = _hidden_user(server, old)
    server.models[theirs]["model_state"] = "REGISTERED"   # a deployed one fails the run first (test above)
    result = run(module, spec(parameters={"model": "text-embedding-3-small"}))
    assert result["failed"] is True, result
    assert theirs in result["msg"] and "was not changed" in result["msg"]
    assert list(server.connectors) == [old], "the new connector was deleted again"


@pytest.mark.parametrize("check_mode", [False, True])
def test_replace_without_visible_models_fails_first_on_a_deployed_model_the_caller_cannot_see(run, server, check_mode):
    """A replace (a parameter removed) of a connector the caller sees no model use: the server's update in-use
    check names the deployed hidden model on a PUT of the connector's own name, so check mode and the real run fail
    alike, before any create."""
    old = create(run, server)
    theirs = _hidden_user(server, old)
    server.requests.clear()
    result = run(module, spec(parameters={"model": "text-embedding-3-small"}), check_mode=check_mode)
    assert result["failed"] is True and result["changed"] is False, result
    assert theirs in result["msg"] and "cannot see" in result["msg"] and "Nothing was changed" in result["msg"]
    assert server.write_summary() == [("PUT", "%s/connectors/%s" % (ML, old))]
    assert server.connectors[old]["name"] == NAME and list(server.connectors) == [old]


def test_replace_without_visible_models_in_check_mode_says_what_it_cannot_see(run_warned, server):
    """A model the caller cannot see that is not deployed: only the real run's DELETE reveals it; check mode says
    so, and the real run fails naming it, changing nothing."""
    old = create(run_warned, server)
    theirs = _hidden_user(server, old)
    server.models[theirs]["model_state"] = "REGISTERED"
    checked = run_warned(module, spec(parameters={"model": "text-embedding-3-small"}), check_mode=True)
    assert checked["failed"] is False, checked.get("msg")
    assert any("check mode cannot tell whether models that user ml-user-a cannot see" in w and old in w
               for w in checked["warnings"]), checked["warnings"]
    real = run_warned(module, spec(parameters={"model": "text-embedding-3-small"}))
    assert real["failed"] is True and theirs in real["msg"] and "was not changed" in real["msg"]
    assert list(server.connectors) == [old]


def test_replace_moves_the_models_back_when_the_old_connector_cannot_be_deleted(run, server):
    old = create(run, server)
    first = deployed_model(server, old, name="model-a")
    second = deployed_model(server, old, name="model-b")
    server.fail_next("DELETE", r"connectors/%s$" % old, 500, reason="node left the cluster", times=10)
    result = run(module, spec(description="changed", wait_timeout=5))
    assert result["failed"] is True, result
    assert "node left the cluster" in result["msg"] and "moved back" in result["msg"]
    assert [server.models[m]["connector_id"] for m in (first, second)] == [old, old]
    assert [server.models[m]["model_state"] for m in (first, second)] == ["DEPLOYED", "DEPLOYED"]
    assert list(server.connectors) == [old]


def test_replace_moves_the_first_model_back_when_the_second_cannot_be_moved(run, server):
    old = create(run, server)
    first = deployed_model(server, old, name="model-a")
    second = deployed_model(server, old, name="model-b")
    server.fail_next("PUT", r"models/%s$" % second, 400, reason="update refused")
    result = run(module, spec(description="changed"))
    assert result["failed"] is True, result
    assert "update refused" in result["msg"]
    assert [server.models[m]["connector_id"] for m in (first, second)] == [old, old]
    assert list(server.connectors) == [old]


def test_delete_refused_for_a_model_the_caller_cannot_see_names_it(run, server):
    old = create(run, server)
    theirs = _hidden_user(server, old)
    result = run(module, {"name": NAME, "state": "absent"})
    assert result["failed"] is True and result["changed"] is False, result
    assert theirs in result["msg"] and "cannot see" in result["msg"]
    assert list(server.connectors) == [old]


def test_redeploy_takes_down_a_model_a_search_still_shows_undeployed(run, server):
    """2.19.1: a search right after a deploy can show the model's state before it; the redeploy reads each
    model by ID (real time), so it undeploys the model it would otherwise leave deployed (and the update
    would be refused)."""
    cid, first, second = _two_deployed(run, server)
    server.deploy_refresh_lag = 50
    server.undeploy_model(second)
    server.deploy_model(second)
    server.get_model(second)   # the deploy finishes; searches still show it UNDEPLOYED
    assert server.models[second]["model_state"] == "DEPLOYED"
    result = run(module, spec(description="changed", on_deployed_models="redeploy"))
    assert result["failed"] is False, result["msg"]
    assert server.connectors[cid]["description"] == "changed"
    assert [server.models[m]["model_state"] for m in (first, second)] == ["DEPLOYED", "DEPLOYED"]


@pytest.mark.parametrize("leftover", [False, True], ids=["set-aside-by-this-run", "left-by-a-killed-run"])
def test_a_set_aside_connector_whose_delete_still_counts_the_moved_model_is_waited_for(run, server, clock,
                                                                                       leftover):
    """2.19.1: the in-use check of a DELETE right after the models' PUT searches the models index before it
    refreshed, so a connector set aside during the replace (one whose ID shares a term with the old one's, made
    by this run or by an earlier run killed after its create) is refused with 409 naming the model that just
    moved off the old connector (seen in the fault matrix on the secure profile). The refusal is waited out, as
    the old connector's own delete waits it out."""
    server.next_ids = [OLD_ID]
    old = create(run, server)
    mid = deployed_model(server, old)
    if leftover:
        aside = server.add_connector(NAME + " (unused replacement)", connector_id=TWIN_TERM_IDS[0],
                                     parameters={REPLACES: old})
        server.next_ids = [DISTINCT_ID]
    else:
        aside = TWIN_TERM_IDS[0]
        server.next_ids = [TWIN_TERM_IDS[0], DISTINCT_ID]
    server.requests.clear()
    server.fail_next("DELETE", r"connectors/%s$" % aside, 409, times=2,
                     reason="1 models are still using this connector, please delete or update the models first: "
                            "[%s]" % mid)
    result = run(module, spec(description="changed"))
    assert result["failed"] is False, result.get("msg")
    assert result["connector_id"] == DISTINCT_ID
    assert list(server.connectors) == [DISTINCT_ID]
    assert server.models[mid]["connector_id"] == DISTINCT_ID
    assert len(server.calls("DELETE", r"connectors/%s$" % aside)) == 3
