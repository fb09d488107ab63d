# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest
import requests

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchClient
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import Context, ModuleFailure
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import (
    desired_changes,
    find_model,
    is_deployed,
    model_view,
    models_using_connector,
    wait_deployed,
    wait_undeployed,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_request import ModelRequest


@pytest.fixture
def context(server, clock):
    return Context(PolarSearchClient("https://h:9200", requests.Session()), check_mode=False)


def test_model_view_parses_the_interface_and_drops_server_noise():
    source = {"name": "m", "algorithm": "REMOTE", "model_state": "DEPLOYED", "connector_id": "c",
              "model_group_id": "g", "model_version": "3", "is_hidden": False, "created_time": 1,
              "interface": {"input": '{"type":"object"}', "output": "not-json"}, "is_enabled": False,
              "connector": {"credential": {"k": "v"}}}
    assert model_view("id1", source) == {
        "model_id": "id1", "name": "m", "algorithm": "REMOTE", "model_state": "DEPLOYED", "connector_id": "c",
        "model_group_id": "g", "model_version": "3",
        "interface": {"input": {"type": "object"}, "output": "not-json"}, "is_enabled": False}
    assert model_view("x", None) is None


@pytest.mark.parametrize("state,deployed", [
    ("DEPLOYED", True), ("PARTIALLY_DEPLOYED", True), ("DEPLOYING", True), ("LOADED", True),
    ("REGISTERED", False), ("UNDEPLOYED", False), ("DEPLOY_FAILED", False), (None, False)])
def test_is_deployed(state, deployed):
    assert is_deployed({"model_state": state}) is deployed
    assert is_deployed(None) is False


def req(params):
    """The request a module run would build from ``params``."""
    return ModelRequest.from_params(dict(params, state="present"))


def test_desired_changes():
    model = {"model_id": "m1", "name": "n", "description": "d", "connector_id": "c1", "model_group_id": "g1",
             "interface": {"input": {"a": 1}}, "rate_limiter": {"limit": "10", "unit": "MINUTES"}}
    params = {"name": "n", "description": "d", "model_group": None, "interface": {"input": '{"a": 1}'},
              "is_enabled": True, "rate_limiter": {"limit": 10, "unit": None}, "guardrails": None}
    assert desired_changes(req(params), model, "c1", None) == {}
    params.update(model_id="m1", name="n2", description="d2", model_group="grp", is_enabled=False,
                  rate_limiter={"limit": 5})
    assert desired_changes(req(params), model, "c2", "g2") == {
        "name": "n2", "description": "d2", "connector_id": "c2", "model_group_id": "g2", "is_enabled": False,
        "rate_limiter": {"limit": 5}}


def test_desired_changes_leaves_unset_options_alone():
    """Every option of the module that the user did not set is neither compared nor written."""
    model = {"model_id": "m1", "name": "n", "description": "d", "connector_id": "c1", "model_group_id": "g1",
             "is_enabled": False, "interface": {"input": {"a": 1}, "output": {"b": 2}},
             "rate_limiter": {"limit": "10", "unit": "MINUTES"}, "guardrails": {"type": "local_regex"}}
    unset = {"name": "n", "model_id": None, "description": None, "connector": None, "connector_id": None,
             "model_group": None, "model_group_id": None, "interface": None, "is_enabled": None,
             "rate_limiter": None, "guardrails": None}
    assert desired_changes(req(unset), model, None, None) == {}
    # a group resolved by the module for a register is not a wish to move an existing model
    assert desired_changes(req(unset), model, None, "g-other") == {}


def test_desired_changes_compares_only_the_keys_given():
    """The server merges interface, rate_limiter and guardrails key by key on update (3.6)."""
    model = {"model_id": "m1", "name": "n", "interface": {"input": {"a": 1}, "output": {"b": 2}},
             "rate_limiter": {"limit": "10", "unit": "MINUTES"},
             "guardrails": {"type": "local_regex", "input_guardrail": {"regex": ["x"]}}}
    params = {"name": "n", "interface": {"input": '{"a": 1}'}, "rate_limiter": {"limit": 10},
              "guardrails": {"input_guardrail": {"regex": ["x"], "stop_words": []}}}
    assert desired_changes(req(params), model, None, None) == {}
    params["interface"] = {"input": {"a": 1, "c": 3}}
    assert desired_changes(req(params), model, None, None) == {"interface": {"input": {"a": 1, "c": 3}}}


def test_name_change_needs_model_id():
    model = {"model_id": "m1", "name": "n"}
    assert desired_changes(req({"name": "other"}), model, None, None) == {}


def test_search_filters(server, context):
    cid = server.add_connector("c")
    mid = server.add_model("m", cid)
    server.add_model("other", server.add_connector("c2"))
    assert [m["model_id"] for m in models_using_connector(context.client, cid)] == [mid]
    body = server.requests[-1].body
    assert body["query"] == {"bool": {"filter": [
        {"term": {"algorithm": "REMOTE"}}, {"term": {"connector_id.keyword": cid}}]}}
    assert find_model(context.client, name="m")["model_id"] == mid
    assert find_model(context.client, name="M") is None
    assert find_model(context.client, model_id=mid)["name"] == "m"
    assert find_model(context.client, model_id="nope") is None


def test_hidden_models_are_not_found(server, context):
    cid = server.add_connector("c")
    server.add_model("m", cid, is_hidden=True)
    assert find_model(context.client, name="m") is None


def test_wait_deployed_polls_until_deployed(server, context, clock):
    cid = server.add_connector("c")
    mid = server.add_model("m", cid)
    server.deploy_polls = 4
    task = server.deploy_model(mid)["task_id"]
    model = wait_deployed(context, mid, task, timeout=60)
    assert model["model_state"] == "DEPLOYED"
    assert len(clock.sleeps) >= 1


def test_wait_deployed_without_a_task(server, context):
    cid = server.add_connector("c")
    mid = server.add_model("m", cid)
    server.deploy_polls = 2
    server.deploy_model(mid)
    assert wait_deployed(context, mid, None, timeout=60)["model_state"] == "DEPLOYED"
    assert server.calls("GET", "tasks/") == []


def test_wait_deployed_without_a_task_fails_on_deploy_failed(server, context):
    cid = server.add_connector("c")
    mid = server.add_model("m", cid, state="DEPLOY_FAILED")
    with pytest.raises(ModuleFailure, match="model %s is DEPLOY_FAILED: deploy it again" % mid):
        wait_deployed(context, mid, None, timeout=60)
    assert server.calls("GET", "tasks/") == []


def test_wait_deployed_for_a_connector_waits_until_the_model_uses_it(server, context, clock):
    cid = server.add_connector("c")
    mid = server.add_model("m", cid, state="DEPLOYED")
    with pytest.raises(ModuleFailure, match="timed out after 5s"):
        wait_deployed(context, mid, None, timeout=5, connector_id="other")


def test_wait_deployed_fails_with_the_task_error(server, context):
    cid = server.add_connector("c")
    mid = server.add_model("m", cid)
    server.deploy_outcome = "DEPLOY_FAILED"
    server.deploy_error = "remote endpoint refused the connection"
    task = server.deploy_model(mid)["task_id"]
    with pytest.raises(ModuleFailure) as info:
        wait_deployed(context, mid, task, timeout=60)
    assert info.value.message == "deploying model %s failed (task %s, FAILED): %s" % (
        mid, task, json.dumps({"nd1Xq0TzS8aH3bLk9PqR2w": "remote endpoint refused the connection"}))


def _stale_deploy_failed(server, finish_after):
    """A deploy in progress while the model document says DEPLOY_FAILED (stale, from the sync-up cron).

    The fake finishes the deploy on the ``finish_after``-th read of the task or the model.
    """
    cid = server.add_connector("c")
    mid = server.add_model("m", cid)
    server.deploy_polls = 10 ** 6
    task = server.deploy_model(mid)["task_id"]
    server.models[mid]["model_state"] = "DEPLOY_FAILED"
    server.deploy_polls = finish_after
    return mid, task


def test_wait_deployed_model_failed_but_task_still_running_keeps_polling(server, context):
    # reads: task, model (stale), task (RUNNING: keep polling), task, model -> deploy finished
    mid, task = _stale_deploy_failed(server, finish_after=5)
    assert wait_deployed(context, mid, task, timeout=60)["model_state"] == "DEPLOYED"


def test_wait_deployed_stale_failed_state_then_completed_task(server, context):
    # reads: task, model (stale), task (RUNNING), task, model (stale), task -> COMPLETED
    mid, task = _stale_deploy_failed(server, finish_after=6)
    assert wait_deployed(context, mid, task, timeout=60)["model_state"] == "DEPLOYED"


def test_wait_deployed_model_gone(server, context):
    cid = server.add_connector("c")
    mid = server.add_model("m", cid)
    server.deploy_polls = 100
    task = server.deploy_model(mid)["task_id"]
    del server.models[mid]
    with pytest.raises(ModuleFailure, match="disappeared"):
        wait_deployed(context, mid, task, timeout=60)


def test_wait_undeployed(server, context):
    cid = server.add_connector("c")
    mid = server.add_model("m", cid, state="UNDEPLOYED")
    assert wait_undeployed(context, mid, timeout=5)["model_state"] == "UNDEPLOYED"
    assert wait_undeployed(context, "gone", timeout=5) == {}
    server.models[mid]["model_state"] = "DEPLOYED"
    with pytest.raises(ModuleFailure, match="to be undeployed"):
        wait_undeployed(context, mid, timeout=5)


def test_a_model_request_holds_only_the_options_set():
    request = ModelRequest.from_params({"name": "m", "state": "deployed", "description": None, "connector": "c",
                                        "interface": None, "is_enabled": False, "wait": True, "wait_timeout": 30})
    assert dict(request.fields) == {"is_enabled": False}
    assert request.description is None and "description" not in request.options
    assert request.connector == "c" and request.wait_timeout == 30 and not request.group_wanted


def test_a_model_request_refuses_bad_input_at_the_door():
    with pytest.raises(ModuleFailure, match="wait_timeout is 0"):
        ModelRequest.from_params({"name": "m", "state": "deployed", "wait": True, "wait_timeout": 0})


def test_a_group_request_holds_only_the_options_set_and_refuses_bad_input_at_the_door():
    from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_group import GroupRequest
    request = GroupRequest.from_params({"name": "g", "state": "present", "description": None,
                                        "backend_roles": ["team_a"], "access_mode": "restricted"})
    assert (request.name, request.description, request.backend_roles) == ("g", None, ("team_a",))
    with pytest.raises(ModuleFailure, match="cannot be used together"):
        GroupRequest.from_params({"name": "g", "state": "present", "backend_roles": ["a"],
                                  "add_all_backend_roles": True})
