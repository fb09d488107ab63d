# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.model import MANAGED_GROUP_DESCRIPTION
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_model as module

from plans import plan_text

ML = "_plugins/_ml"
NAME = "qwen-max"
CONNECTOR = "dashscope-qwen-max"
INTERFACE = {"input": {"type": "object", "properties": {"parameters": {"type": "object"}}},
             "output": {"type": "object"}}


def connector(server, name=CONNECTOR, **fields):
    return server.add_connector(name, parameters={"model": "qwen-max"}, **fields)


def model_result_view(server, mid):
    doc = server.models[mid]
    view = {k: doc[k] for k in ("name", "model_state", "connector_id", "model_group_id", "model_version",
                                "algorithm") if k in doc}
    view["model_id"] = mid
    for field in ("description", "is_enabled", "rate_limiter", "guardrails"):
        if field in doc:
            view[field] = doc[field]
    if "interface" in doc:
        view["interface"] = {k: json.loads(v) for k, v in doc["interface"].items()}
    return view


def only_model(server):
    assert len(server.models) == 1
    return next(iter(server.models))


# -- register -----------------------------------------------------------------------------------------
def test_register_with_a_connector_name(run, server):
    cid = connector(server)
    result = run(module, {"name": NAME, "connector": CONNECTOR, "description": "Qwen max"}, diff=True)
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["register model %s" % NAME]
    registers = server.calls("POST", r"models/_register$")
    assert [r.body for r in registers] == [{"name": NAME, "function_name": "remote", "connector_id": cid,
                                            "description": "Qwen max"}]
    assert server.write_summary() == [("POST", "%s/models/_register" % ML)]
    mid = only_model(server)
    assert result["model_id"] == mid
    assert server.models[mid]["model_state"] == "REGISTERED"
    # the server created a model group named after the model
    gid = server.models[mid]["model_group_id"]
    assert server.groups[gid]["name"] == NAME
    expected = dict(model_result_view(server, mid), connector=CONNECTOR)
    assert result["model"] == expected
    assert result["diff"] == {"before": {}, "after": expected}


def test_register_with_a_connector_id_and_optional_fields(run, server):
    cid = connector(server)
    args = {"name": NAME, "connector_id": cid, "interface": INTERFACE, "is_enabled": False,
            "rate_limiter": {"limit": 10, "unit": "MINUTES"}}
    result = run(module, args)
    body = server.calls("POST", r"models/_register$")[0].body
    assert body == {"name": NAME, "function_name": "remote", "connector_id": cid, "interface": INTERFACE,
                    "is_enabled": False, "rate_limiter": {"limit": 10, "unit": "MINUTES"}}
    mid = only_model(server)
    # the server stores the interface as JSON strings; the module returns it parsed
    assert isinstance(server.models[mid]["interface"]["input"], str)
    assert result["model"]["interface"] == INTERFACE
    again = run(module, args)
    assert again["changed"] is False
    assert plan_text(again, model_ids=False) == []


def test_register_and_deploy(run, server, clock):
    cid = connector(server)
    server.deploy_polls = 3
    result = run(module, {"name": NAME, "connector": CONNECTOR, "state": "deployed"})
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["register model %s" % NAME, "deploy model %s" % NAME]
    mid = only_model(server)
    assert server.write_summary() == [("POST", "%s/models/_register" % ML),
                                      ("POST", "%s/models/%s/_deploy" % (ML, mid))]
    assert server.models[mid]["model_state"] == "DEPLOYED"
    assert result["model"]["model_state"] == "DEPLOYED"
    assert result["model"]["connector_id"] == cid
    # the module polled the deploy task and slept between polls, with a growing interval
    assert len(server.calls("GET", r"tasks/")) >= 2
    assert clock.sleeps and clock.sleeps == sorted(clock.sleeps)


def test_register_and_undeployed_state_registers_only(run, server):
    connector(server)
    result = run(module, {"name": NAME, "connector": CONNECTOR, "state": "undeployed"})
    assert plan_text(result, model_ids=False) == ["register model %s" % NAME]
    assert server.models[only_model(server)]["model_state"] == "REGISTERED"


def test_register_needs_a_connector(run, server):
    result = run(module, {"name": NAME})
    assert result["failed"] is True
    assert result["msg"] == "connector or connector_id is required to register model %r" % NAME
    assert server.writes == []


def test_connector_name_not_found_fails_in_a_real_run(run, server):
    result = run(module, {"name": NAME, "connector": "no-such-connector", "state": "deployed"})
    assert result["failed"] is True
    assert "no-such-connector" in result["msg"]
    assert "connector_id" in result["msg"]
    assert result["changed"] is False
    assert server.writes == []


def test_connector_name_not_found_is_planned_in_check_mode(run, server):
    result = run(module, {"name": NAME, "connector": "created-earlier-in-the-play", "state": "deployed"},
                 check_mode=True)
    assert result["failed"] is False
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["register model %s" % NAME, "deploy model %s" % NAME]
    assert result["model"]["model_state"] == "DEPLOYED"
    assert server.writes == []


def test_connector_name_not_found_fails_for_an_existing_model(run, server):
    cid = connector(server)
    server.add_model(NAME, cid)
    result = run(module, {"name": NAME, "connector": "misspelled-connector"})
    assert result["failed"] is True
    assert "misspelled-connector" in result["msg"]


def test_connector_name_not_found_for_an_existing_model_is_planned_in_check_mode(run, server):
    cid = connector(server)
    server.add_model(NAME, cid)
    result = run(module, {"name": NAME, "connector": "created-earlier-in-the-play"}, check_mode=True, diff=True)
    assert result["failed"] is False
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["update model %s: connector_id" % NAME]
    assert result["diff"]["after"]["connector"] == "created-earlier-in-the-play"
    assert server.writes == []


def test_connector_name_resolves_to_the_new_connector_of_an_unfinished_replace(run, server):
    old = connector(server)
    new = server.add_connector(CONNECTOR, parameters={"model": "qwen-max", "polarsearch_replaces": old})
    result = run(module, {"name": NAME, "connector": CONNECTOR})
    assert result["failed"] is False
    assert server.models[only_model(server)]["connector_id"] == new


def test_ambiguous_connector_name_fails(run, server):
    a = connector(server)
    b = connector(server)
    result = run(module, {"name": NAME, "connector": CONNECTOR})
    assert result["failed"] is True
    assert a in result["msg"] and b in result["msg"]
    assert server.writes == []


def test_register_with_an_unknown_connector_id_reports_the_server_error(run, server):
    result = run(module, {"name": NAME, "connector_id": "noSuchConnector0001"})
    assert result["failed"] is True
    assert result["msg"] == ("POST %s/models/_register failed: HTTP 404: Failed to find connector:noSuchConnector0001"
                             % ML)
    assert result["status"] == 404
    assert server.models == {}


@pytest.mark.parametrize("args,words", [
    ({"name": NAME, "state": "running"}, ["state", "running"]),
    ({"name": NAME, "wait_timeout": "soon"}, ["wait_timeout"]),
    ({"name": NAME, "is_enabled": "maybe"}, ["is_enabled"]),
    ({"name": NAME, "no_such_option": 1}, ["no_such_option"]),
], ids=["state", "wait_timeout", "is_enabled", "unknown-option"])
def test_argument_spec_errors(run, server, args, words):
    result = run(module, args)
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"]
    assert server.requests == []


def test_connector_and_connector_id_are_mutually_exclusive(run, server):
    result = run(module, {"name": NAME, "connector": CONNECTOR, "connector_id": "abc"})
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]
    assert server.requests == []


def test_name_or_model_id_is_required(run, server):
    result = run(module, {"connector": CONNECTOR})
    assert result["failed"] is True
    assert "name" in result["msg"] and "model_id" in result["msg"]
    assert server.requests == []


# -- model groups -----------------------------------------------------------------------------------------------
def test_model_group_is_created_when_missing(run, server):
    cid = connector(server)
    result = run(module, {"name": NAME, "connector": CONNECTOR, "model_group": "llms"}, diff=True)
    assert plan_text(result, model_ids=False) == ["create model group llms", "register model %s" % NAME]
    groups = server.calls("POST", r"model_groups/_register$")
    assert [g.body for g in groups] == [{"name": "llms", "description": MANAGED_GROUP_DESCRIPTION}]
    gid = next(g for g, doc in server.groups.items() if doc["name"] == "llms")
    assert server.calls("POST", r"models/_register$")[0].body == {
        "name": NAME, "function_name": "remote", "connector_id": cid, "model_group_id": gid}
    mid = only_model(server)
    assert server.models[mid]["model_group_id"] == gid
    assert result["model"]["model_group"] == "llms"
    assert [doc["name"] for doc in server.groups.values()] == ["llms"]


def test_existing_model_group_is_used(run, server):
    connector(server)
    gid = server.add_group("llms")
    result = run(module, {"name": NAME, "connector": CONNECTOR, "model_group": "llms"})
    assert plan_text(result, model_ids=False) == ["register model %s" % NAME]
    assert server.calls("POST", r"model_groups/_register$") == []
    assert server.models[only_model(server)]["model_group_id"] == gid
    again = run(module, {"name": NAME, "connector": CONNECTOR, "model_group": "llms"}, diff=True)
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]


def test_model_moves_to_another_group(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid)
    old_group = server.models[mid]["model_group_id"]
    gid = server.add_group("llms")
    result = run(module, {"name": NAME, "connector": CONNECTOR, "model_group": "llms"}, diff=True)
    assert plan_text(result, model_ids=False) == ["update model %s: model_group_id" % NAME]
    assert server.calls("PUT", r"models/")[0].body == {"model_group_id": gid}
    assert server.models[mid]["model_group_id"] == gid
    assert result["diff"]["before"]["model_group"] == NAME
    assert result["diff"]["before"]["model_group_id"] == old_group
    assert result["diff"]["after"]["model_group"] == "llms"


# -- no change and update ---------------------------------------------------------------------------------------------
def test_no_change_makes_no_writes(run, server):
    cid = connector(server)
    server.add_model(NAME, cid, state="DEPLOYED", description="Qwen max")
    result = run(module, {"name": NAME, "connector": CONNECTOR, "description": "Qwen max", "state": "deployed"},
                 diff=True)
    assert result["changed"] is False
    assert plan_text(result, model_ids=False) == []
    assert server.writes == []
    assert result["diff"]["before"] == result["diff"]["after"]


def test_present_leaves_the_deploy_state_alone(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid, state="DEPLOYED")
    assert run(module, {"name": NAME})["changed"] is False
    server.models[mid]["model_state"] = "UNDEPLOYED"
    assert run(module, {"name": NAME})["changed"] is False
    assert server.writes == []


def test_update_description(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid, description="old")
    before = model_result_view(server, mid)
    result = run(module, {"name": NAME, "description": "new"}, diff=True)
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["update model %s: description" % NAME]
    assert server.write_summary() == [("PUT", "%s/models/%s" % (ML, mid))]
    assert server.calls("PUT", r"models/")[0].body == {"description": "new"}
    assert result["diff"] == {"before": before, "after": model_result_view(server, mid)}
    assert result["model"]["description"] == "new"


def test_update_of_a_deployed_model_keeps_it_deployed(run, server):
    cid = connector(server)
    other = connector(server, name="other-connector")
    mid = server.add_model(NAME, cid, state="DEPLOYED")
    result = run(module, {"name": NAME, "connector": "other-connector", "state": "deployed"}, diff=True)
    assert plan_text(result, model_ids=False) == ["update model %s: connector_id" % NAME]
    assert server.calls("PUT", r"models/")[0].body == {"connector_id": other}
    assert server.models[mid]["connector_id"] == other
    assert server.models[mid]["model_state"] == "DEPLOYED"
    assert result["diff"]["before"]["connector"] == "(connector %s)" % cid
    assert result["diff"]["after"]["connector"] == "other-connector"
    assert result["diff"]["after"]["connector_id"] == other


def test_update_of_a_partially_deployed_model(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid, state="PARTIALLY_DEPLOYED")
    result = run(module, {"name": NAME, "description": "new", "wait_timeout": 30})
    assert result["failed"] is False, result["msg"]
    assert plan_text(result, model_ids=False) == ["update model %s: description" % NAME]
    assert server.models[mid]["description"] == "new"
    assert server.models[mid]["model_state"] == "PARTIALLY_DEPLOYED"


def test_update_waits_while_the_model_is_deploying(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid)
    server.deploy_model(mid)            # DEPLOYING; finishes after a few polls
    server.deploy_polls = 3
    result = run(module, {"name": NAME, "description": "new"})
    assert result["failed"] is False
    puts = server.calls("PUT", r"models/")
    assert len(puts) == 1
    assert server.models[mid]["description"] == "new"
    assert server.models[mid]["model_state"] == "DEPLOYED"


def test_update_of_interface_rate_limiter_and_enabled(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid, interface={"input": json.dumps({"type": "object"})},
                           rate_limiter={"limit": "10", "unit": "MINUTES"}, is_enabled=True)
    result = run(module, {"name": NAME, "interface": {"input": {"type": "object"}},
                          "rate_limiter": {"limit": 10}, "is_enabled": True})
    assert result["changed"] is False
    result = run(module, {"name": NAME, "interface": INTERFACE, "rate_limiter": {"limit": 20},
                          "is_enabled": False})
    assert plan_text(result, model_ids=False) == ["update model %s: interface, is_enabled, rate_limiter" % NAME]
    assert server.calls("PUT", r"models/")[0].body == {
        "interface": INTERFACE, "is_enabled": False, "rate_limiter": {"limit": 20}}
    assert server.models[mid]["is_enabled"] is False


def test_model_id_renames(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid)
    result = run(module, {"model_id": mid, "name": "qwen-max-2"})
    assert plan_text(result, model_ids=False) == ["update model %s: name" % NAME]
    assert server.models[mid]["name"] == "qwen-max-2"


def test_model_id_that_does_not_exist_fails(run, server):
    result = run(module, {"model_id": "noSuchModel00000001", "state": "deployed"})
    assert result["failed"] is True
    assert "model_id noSuchModel00000001 does not exist" in result["msg"]
    assert server.writes == []


def test_duplicate_model_names_fail_listing_the_ids(run, server):
    cid = connector(server)
    a = server.add_model(NAME, cid)
    b = server.add_model(NAME, cid)
    result = run(module, {"name": NAME, "state": "deployed"})
    assert result["failed"] is True
    assert result["ids"] == sorted([a, b])
    assert "model_id" in result["msg"]
    assert server.writes == []


# -- deploy states ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["REGISTERED", "UNDEPLOYED", "PARTIALLY_DEPLOYED", "DEPLOY_FAILED"])
def test_deployed_state_deploys_a_model_that_is_not_fully_deployed(run, server, state):
    cid = connector(server)
    mid = server.add_model(NAME, cid, state=state)
    result = run(module, {"name": NAME, "state": "deployed"}, diff=True)
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["deploy model %s" % NAME]
    assert server.write_summary() == [("POST", "%s/models/%s/_deploy" % (ML, mid))]
    assert server.models[mid]["model_state"] == "DEPLOYED"
    assert result["diff"]["before"]["model_state"] == state
    assert result["diff"]["after"]["model_state"] == "DEPLOYED"


def test_deployed_state_on_a_deploying_model_waits_without_deploying_again(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid)
    server.deploy_model(mid)
    server.deploy_polls = 2
    result = run(module, {"name": NAME, "state": "deployed"})
    assert result["failed"] is False
    assert result["changed"] is False
    assert server.writes == []
    assert server.models[mid]["model_state"] == "DEPLOYED"


@pytest.mark.parametrize("state", ["DEPLOYED", "PARTIALLY_DEPLOYED"])
def test_undeployed_state_undeploys(run, server, state):
    cid = connector(server)
    mid = server.add_model(NAME, cid, state=state)
    result = run(module, {"name": NAME, "state": "undeployed"})
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["undeploy model %s" % NAME]
    assert server.write_summary() == [("POST", "%s/models/%s/_undeploy" % (ML, mid))]
    assert server.models[mid]["model_state"] == "UNDEPLOYED"
    assert result["model"]["model_state"] == "UNDEPLOYED"


@pytest.mark.parametrize("state", ["REGISTERED", "UNDEPLOYED", "DEPLOY_FAILED"])
def test_undeployed_state_on_a_model_that_is_not_deployed(run, server, state):
    cid = connector(server)
    server.add_model(NAME, cid, state=state)
    result = run(module, {"name": NAME, "state": "undeployed"})
    assert result["changed"] is False
    assert server.writes == []


def test_undeploy_without_waiting(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid, state="DEPLOYED")
    result = run(module, {"name": NAME, "state": "undeployed", "wait": False})
    assert plan_text(result, model_ids=False) == ["undeploy model %s" % NAME]
    assert result["model"]["model_state"] == "UNDEPLOYED"
    assert server.models[mid]["model_state"] == "UNDEPLOYED"


def test_deploy_failure_reports_the_task_error(run, server):
    connector(server)
    server.deploy_outcome = "DEPLOY_FAILED"
    server.deploy_error = "Connection refused: dashscope.aliyuncs.com/10.0.0.7:443"
    result = run(module, {"name": NAME, "connector": CONNECTOR, "state": "deployed"})
    assert result["failed"] is True
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["register model %s" % NAME, "deploy model %s" % NAME]
    mid = only_model(server)
    assert "deploying model %s failed" % mid in result["msg"]
    assert "FAILED" in result["msg"]
    assert "Connection refused: dashscope.aliyuncs.com/10.0.0.7:443" in result["msg"]


def test_partial_deploy_reports_the_task_error(run, server):
    cid = connector(server)
    server.add_model(NAME, cid)
    server.deploy_outcome = "PARTIALLY_DEPLOYED"
    server.deploy_error = "node nd2 ran out of memory"
    result = run(module, {"name": NAME, "state": "deployed"})
    assert result["failed"] is True
    assert "COMPLETED_WITH_ERROR" in result["msg"]
    assert "node nd2 ran out of memory" in result["msg"]


def test_deploy_of_a_model_whose_connector_is_gone_fails_with_the_reason(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid)
    del server.connectors[cid]
    result = run(module, {"name": NAME, "state": "deployed"})
    assert result["failed"] is True
    assert "Failed to find connector with the provided connector id: %s" % cid in result["msg"]
    assert server.models[mid]["model_state"] == "DEPLOY_FAILED"


def test_rejected_deploy_is_not_reported_as_a_change(run, server):
    cid = connector(server)
    server.add_model(NAME, cid)
    server.fail_next("POST", r"/_deploy$", 400, reason="no eligible node found")
    result = run(module, {"name": NAME, "state": "deployed"})
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"].endswith("HTTP 400: no eligible node found")


def test_failure_after_a_successful_write_is_reported_as_a_change(run, server):
    connector(server)
    server.fail_next("POST", r"/_deploy$", 400, reason="no eligible node found")
    result = run(module, {"name": NAME, "connector": CONNECTOR, "state": "deployed"})
    assert result["failed"] is True
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["register model %s" % NAME, "deploy model %s" % NAME]


def test_wait_timeout_expires(run, server, clock):
    cid = connector(server)
    mid = server.add_model(NAME, cid)
    server.deploy_outcome = "HANG"
    result = run(module, {"name": NAME, "state": "deployed", "wait_timeout": 20})
    assert result["failed"] is True
    assert result["changed"] is True
    assert "timed out after 20s waiting for model %s to be DEPLOYED" % mid in result["msg"]
    assert "wait_timeout" in result["msg"]
    assert 20 <= sum(clock.sleeps) <= 20 + 3.0
    assert max(clock.sleeps) <= 3.0


def test_wait_false_does_not_poll(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid)
    server.deploy_polls = 5
    result = run(module, {"name": NAME, "state": "deployed", "wait": False})
    assert result["changed"] is True
    assert result["model"]["model_state"] == "DEPLOYING"
    assert server.calls("GET", r"tasks/") == []
    # a second run while it is still deploying does not deploy again
    server.requests.clear()
    again = run(module, {"name": NAME, "state": "deployed", "wait": False})
    assert again["changed"] is False
    assert server.writes == []
    assert mid in server.models


# -- absent ---------------------------------------------------------------------------------------------------------------
def test_absent_undeploys_deletes_and_removes_the_auto_created_group(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid, state="DEPLOYED")
    gid = server.models[mid]["model_group_id"]
    before = model_result_view(server, mid)
    result = run(module, {"name": NAME, "state": "absent"}, diff=True)
    assert result["changed"] is True
    assert plan_text(result, model_ids=False) == ["undeploy model %s" % NAME, "delete model %s" % NAME,
                                                  "delete model group %s (%s)" % (NAME, gid)]
    assert server.write_summary() == [("POST", "%s/models/%s/_undeploy" % (ML, mid)),
                                      ("DELETE", "%s/models/%s" % (ML, mid)),
                                      ("DELETE", "%s/model_groups/%s" % (ML, gid))]
    assert server.models == {}
    assert server.groups == {}
    assert cid in server.connectors
    assert result["model"] == {}
    assert result["diff"] == {"before": before, "after": {}}


@pytest.mark.parametrize("state", ["REGISTERED", "UNDEPLOYED", "DEPLOY_FAILED"])
def test_absent_deletes_an_undeployed_model_directly(run, server, state):
    cid = connector(server)
    mid = server.add_model(NAME, cid, state=state)
    gid = server.models[mid]["model_group_id"]
    result = run(module, {"name": NAME, "state": "absent"})
    assert plan_text(result, model_ids=False) == ["delete model %s" % NAME, "delete model group %s (%s)" % (NAME, gid)]
    assert server.models == {}


def test_absent_undeploys_a_partially_deployed_model(run, server):
    cid = connector(server)
    server.add_model(NAME, cid, state="PARTIALLY_DEPLOYED")
    result = run(module, {"name": NAME, "state": "absent"})
    assert plan_text(result, model_ids=False)[:2] == ["undeploy model %s" % NAME, "delete model %s" % NAME]
    assert server.models == {}


def test_absent_keeps_a_group_other_models_use(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid)
    gid = server.models[mid]["model_group_id"]
    other = server.add_model("qwen-max-v2", cid, model_group_id=gid)
    result = run(module, {"name": NAME, "state": "absent"})
    assert plan_text(result, model_ids=False) == ["delete model %s" % NAME]
    assert gid in server.groups
    assert list(server.models) == [other]


def test_absent_keeps_a_group_it_does_not_own(run, server):
    cid = connector(server)
    gid = server.add_group("shared-llms", description="made by hand")
    server.add_model(NAME, cid, model_group_id=gid)
    result = run(module, {"name": NAME, "state": "absent"})
    assert plan_text(result, model_ids=False) == ["delete model %s" % NAME]
    assert gid in server.groups


def test_absent_removes_a_group_the_module_created(run, server):
    connector(server)
    run(module, {"name": NAME, "connector": CONNECTOR, "model_group": "llms"})
    gid = next(iter(server.groups))
    server.requests.clear()
    result = run(module, {"name": NAME, "state": "absent"})
    assert plan_text(result, model_ids=False) == ["delete model %s" % NAME, "delete model group llms (%s)" % gid]
    assert server.groups == {}


def test_absent_of_a_model_without_a_group(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid)
    gid = server.models[mid].pop("model_group_id")
    result = run(module, {"name": NAME, "state": "absent"})
    assert plan_text(result, model_ids=False) == ["delete model %s" % NAME]
    assert gid in server.groups


def test_absent_when_the_group_is_already_gone(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid)
    del server.groups[server.models[mid]["model_group_id"]]
    result = run(module, {"name": NAME, "state": "absent"})
    assert result["failed"] is False
    assert plan_text(result, model_ids=False) == ["delete model %s" % NAME]


def test_group_added_to_a_model_without_a_group(run, server):
    cid = connector(server)
    mid = server.add_model(NAME, cid)
    server.models[mid].pop("model_group_id")
    result = run(module, {"name": NAME, "model_group": "llms"}, diff=True)
    assert plan_text(result, model_ids=False) == ["create model group llms", "update model %s: model_group_id" % NAME]
    assert result["diff"]["before"]["model_group"] is None
    assert result["diff"]["after"]["model_group"] == "llms"


def test_absent_when_already_gone(run, server):
    result = run(module, {"name": NAME, "state": "absent"}, diff=True)
    assert result["changed"] is False
    assert plan_text(result, model_ids=False) == []
    assert server.writes == []
    assert result["diff"] == {"before": {}, "after": {}}


def test_absent_by_model_id_when_already_gone(run, server):
    result = run(module, {"model_id": "goneModel0000000001", "state": "absent"})
    assert result["failed"] is False
    assert result["changed"] is False
    assert server.writes == []


def test_absent_that_races_with_another_delete_is_success(run, server):
    cid = connector(server)
    server.add_model(NAME, cid)
    server.fail_next("DELETE", r"models/", 404, reason="Failed to find model", process=True)
    result = run(module, {"name": NAME, "state": "absent"})
    assert result["failed"] is False
    assert server.models == {}


# -- retries ------------------------------------------------------------------------------------------------------------------
def test_register_that_succeeded_behind_a_502_is_not_repeated(run, server):
    connector(server)
    server.fail_next("POST", r"models/_register$", 502, reason="Bad Gateway", process=True)
    result = run(module, {"name": NAME, "connector": CONNECTOR})
    assert result["failed"] is False
    assert len(server.calls("POST", r"models/_register$")) == 1
    assert result["model_id"] == only_model(server)


def test_group_register_that_succeeded_behind_a_connection_error_is_not_repeated(run, server):
    import requests
    connector(server)
    server.fail_next("POST", r"model_groups/_register$", exc=requests.exceptions.ConnectionError("reset"),
                     process=True)
    result = run(module, {"name": NAME, "connector": CONNECTOR, "model_group": "llms"})
    assert result["failed"] is False
    assert len(server.calls("POST", r"model_groups/_register$")) == 1
    assert len(server.groups) == 1


def test_password_never_appears_in_a_failure(run, server):
    connector(server)
    server.fail_next("POST", r"models/_search$", 500, times=10,
                     reason="internal error for admin:Adm1n-Pa55word-7391 at node nd1")
    result = run(module, {"name": NAME, "connector": CONNECTOR, "retries": 0})
    assert result["failed"] is True
    assert "HTTP 500" in result["msg"]
    assert "Adm1n-Pa55word-7391" not in json.dumps(result)


# -- check mode -----------------------------------------------------------------------------------------------------------------
def _with_connector(server):
    connector(server)


def _with_model(state="REGISTERED", **fields):
    def setup(server):
        cid = connector(server)
        connector(server, name="other-connector")
        server.add_model(NAME, cid, state=state, **fields)
    return setup


@pytest.mark.parametrize("setup,args,ignore", [
    (_with_connector, {"name": NAME, "connector": CONNECTOR}, ("model_id", "model_group_id", "model_version")),
    (_with_connector, {"name": NAME, "connector": CONNECTOR, "state": "deployed"},
     ("model_id", "model_group_id", "model_version")),
    (_with_connector, {"name": NAME, "connector": CONNECTOR, "model_group": "llms", "state": "deployed"},
     ("model_id", "model_group_id", "model_version")),
    (_with_model(), {"name": NAME, "state": "deployed"}, ()),
    (_with_model("DEPLOYED"), {"name": NAME, "state": "deployed"}, ()),
    (_with_model("DEPLOYED"), {"name": NAME, "state": "undeployed"}, ()),
    (_with_model("DEPLOYED"), {"name": NAME, "description": "new", "connector": "other-connector"}, ()),
    (_with_model("PARTIALLY_DEPLOYED"), {"name": NAME, "state": "deployed"}, ()),
    (_with_model("DEPLOYED"), {"name": NAME, "state": "absent"}, ()),
    (None, {"name": NAME, "state": "absent"}, ()),
], ids=["register", "register-deploy", "group-register-deploy", "deploy", "no-change", "undeploy", "update",
        "redeploy-partial", "absent", "already-gone"])
def test_check_mode_matches_the_real_run(check_matches_real, setup, args, ignore):
    checked, real, dummy, real_server = check_matches_real(module, args, setup=setup, ignore=ignore)
    assert strip(checked["model"], ignore) == strip(real["model"], ignore)
    assert bool(real_server.writes) == real["changed"]


def strip(value, keys):
    return {k: v for k, v in (value or {}).items() if k not in keys}


def test_check_mode_register_predicts_the_model(run, server):
    cid = connector(server)
    result = run(module, {"name": NAME, "connector": CONNECTOR, "description": "d", "state": "deployed"},
                 check_mode=True)
    assert result["model"] == {"name": NAME, "description": "d", "model_state": "DEPLOYED", "connector_id": cid,
                               "algorithm": "REMOTE", "connector": CONNECTOR}
    assert result.get("model_id") is None
    assert server.writes == []
