"""Model groups, the model's group, deletes that pipelines would feel, and the server's field rules,
against a real OpenSearch + ML Commons."""

from __future__ import annotations

import threading

import pytest

from conftest import ML, Ansible, four_steps
from specs import embedding_connector

MARKER = "Model group managed by polardb.polarsearch"
SAFE_DELETE = "plugins.ml_commons.safe_delete_model"


@pytest.fixture()
def embed_connector(env, ansible, trusted, prefix, cleanup):
    name = prefix + "-embed-c"
    cleanup[1].append(name)
    assert not ansible.run("polarsearch_connector", embedding_connector(name, env)).get("failed")
    return name


@pytest.fixture()
def group_cleanup(ansible):
    names = []
    yield names
    for name in names:
        ansible.run("polarsearch_model_group", {"name": name, "state": "absent"})


@pytest.fixture()
def safe_delete(rest):
    """Sets plugins.ml_commons.safe_delete_model for a test and puts the earlier value back."""
    before = rest.settings()["persistent"].get(SAFE_DELETE)

    def put(value):
        rest.call("PUT", "/_cluster/settings", {"persistent": {SAFE_DELETE: value}})

    yield put
    put(before)


def test_model_group_module(env, rest, ansible, prefix, group_cleanup, embed_connector, cleanup):
    name = prefix + "-group"
    group_cleanup.append(name)
    secured = env["profile"] == "secure"   # model access control on: a new group is private by default
    created = four_steps(ansible, "polarsearch_model_group", {"name": name, "description": "first"})
    assert [(s["operation"], s["kind"], s["id"]) for s in created["plan"]] == [("create", "model_group", None)]
    (group,) = rest.groups(name)
    assert group["description"] == "first" and group["access"] == ("private" if secured else "public")
    assert created["model_group_id"] == group["model_group_id"]

    updated = four_steps(ansible, "polarsearch_model_group", {"name": name, "description": "second"})
    assert updated["plan"] == [{"operation": "update", "kind": "model_group", "name": name,
                                "id": group["model_group_id"], "fields": ["description"]}]
    assert rest.groups(name)[0]["description"] == "second"

    if not secured:
        # Access fields on a cluster without model access control: refused before any write (the secure
        # profile's access fields are tested in test_secure.py).
        refused = ansible.run("polarsearch_model_group", {"name": name, "access_mode": "private"})
        assert refused["failed"] and "model_access_control_enabled" in refused["msg"]

    # A model in the group blocks the delete, named; the group stays.
    model = prefix + "-in-group"
    cleanup[0].append(model)
    assert not ansible.run("polarsearch_model", {"name": model, "connector": embed_connector,
                                                 "model_group": name}).get("failed")
    blocked = ansible.run("polarsearch_model_group", {"name": name, "state": "absent"}, check=True)
    assert blocked["failed"] and model in blocked["msg"]
    blocked = ansible.run("polarsearch_model_group", {"name": name, "state": "absent"})
    assert blocked["failed"] and not blocked["changed"]
    assert len(rest.groups(name)) == 1
    assert not ansible.run("polarsearch_model", {"name": model, "state": "absent"}).get("failed")
    assert len(rest.groups(name)) == 1, "a group made by hand (not by the model module) stays"
    four_steps(ansible, "polarsearch_model_group", {"name": name, "state": "absent"})
    assert rest.groups(name) == []


def test_model_always_has_an_explicit_group_and_moving_it_leaves_no_orphan(
        rest, ansible, prefix, cleanup, embed_connector, group_cleanup):
    name = prefix + "-model"
    cleanup[0].append(name)
    spec = {"name": name, "connector": embed_connector}
    registered = four_steps(ansible, "polarsearch_model", spec)
    assert [(s["operation"], s["kind"]) for s in registered["plan"]] == [("create", "model_group"),
                                                                         ("register", "model")]
    (own,) = rest.groups(name)
    assert own["description"] == MARKER
    model = rest.one_model(name)
    assert model["model_group_id"] == own["model_group_id"]

    target = prefix + "-target"
    group_cleanup.append(target)
    moved = four_steps(ansible, "polarsearch_model", dict(spec, model_group=target))
    assert [(s["operation"], s["kind"]) for s in moved["plan"]] == [
        ("create", "model_group"), ("update", "model"), ("delete", "model_group")]
    assert rest.groups(name) == [], "the group made for the model is not left behind"
    assert rest.one_model(name)["model_group_id"] == rest.groups(target)[0]["model_group_id"]

    # model_group_id: the same group by ID changes nothing; a missing ID fails before any write.
    gid = rest.groups(target)[0]["model_group_id"]
    four_steps(ansible, "polarsearch_model", dict(spec, model_group_id=gid), expect_change=False)
    missing = ansible.run("polarsearch_model", {"name": prefix + "-other", "connector": embed_connector,
                                                "model_group_id": "noSuchGroup000000001"})
    assert missing["failed"] and "noSuchGroup000000001" in missing["msg"]
    assert rest.models(prefix + "-other") == []

    # absent removes the group the module created, now that it is empty
    four_steps(ansible, "polarsearch_model", {"name": name, "state": "absent"})
    assert rest.groups(target) == []


@pytest.mark.parametrize("server_safe_delete", [False, True], ids=["server-default", "safe_delete_model"])
def test_delete_of_a_model_a_pipeline_uses(rest, ansible, prefix, cleanup, embed_connector, safe_delete,
                                           server_safe_delete):
    name = prefix + "-used"
    cleanup[0].append(name)
    safe_delete(server_safe_delete)
    deployed = ansible.run("polarsearch_model", {"name": name, "connector": embed_connector, "state": "deployed"})
    assert not deployed.get("failed"), deployed
    model_id = deployed["model_id"]
    pipeline = prefix + "-ingest"
    rest.call("PUT", "/_ingest/pipeline/" + pipeline, {"processors": [{"ml_inference": {
        "model_id": model_id, "input_map": [{"input": "text"}], "output_map": [{"embedding": "data"}]}}]})
    try:
        for check in (True, False):
            refused = ansible.run("polarsearch_model", {"name": name, "state": "absent"}, check=check)
            assert refused["failed"], refused
            assert refused["changed"] is False and refused["plan"] == []
            assert "ingest pipeline %s" % pipeline in refused["msg"]
            assert refused["references"] == [{"kind": "ingest_pipeline", "name": pipeline}]
            assert rest.model(model_id)["model_state"] == "DEPLOYED", "nothing undeployed"

        forced = ansible.run("polarsearch_model", {"name": name, "state": "absent", "force_delete_referenced": True})
        if server_safe_delete:
            # the server would refuse after the undeploy: the module fails first, changing nothing
            assert forced["failed"] and SAFE_DELETE in forced["msg"]
            assert rest.model(model_id)["model_state"] == "DEPLOYED"
        else:
            assert not forced.get("failed"), forced
            assert rest.models(name) == []
    finally:
        rest.call("DELETE", "/_ingest/pipeline/" + pipeline, ok=(200, 404))


def test_field_rules_of_the_server(rest, ansible, prefix, cleanup, embed_connector):
    name = prefix + "-fields"
    cleanup[0].append(name)
    spec = {"name": name, "connector": embed_connector, "interface": {"input": '{"type": "object"}'},
            "rate_limiter": {"limit": 10, "unit": "MINUTES"},
            "guardrails": {"type": "local_regex", "input_guardrail": {"regex": ["forbidden"], "stop_words": []}}}
    # The server stores the limit as "10", drops the empty stop_words and keeps the interface as JSON text:
    # none of it is a change on the next run.
    four_steps(ansible, "polarsearch_model", spec)
    stored = rest.one_model(name)
    assert stored["rate_limiter"] == {"limit": "10", "unit": "MINUTES"}
    assert stored["guardrails"]["input_guardrail"] == {"regex": ["forbidden"]}

    # An update merges key by key on the server, as the module predicts.
    update = dict(spec, interface={"output": {"type": "array"}}, rate_limiter={"limit": 5})
    changed = four_steps(ansible, "polarsearch_model", update)
    assert changed["plan"][0]["fields"] == ["interface", "rate_limiter"]
    stored = rest.one_model(name)
    assert stored["rate_limiter"] == {"limit": "5", "unit": "MINUTES"}
    assert set(stored["interface"]) == {"input", "output"}

    for bad, word in (({"interface": {"input": {}, "schema": {}}}, "schema"),
                      ({"rate_limiter": {"limit": 1, "unit": "minutes"}}, "MINUTES"),
                      ({"guardrails": {"type": "local_regex", "extra": 1}}, "extra")):
        refused = ansible.run("polarsearch_model", dict(spec, **bad))
        assert refused["failed"] and word in refused["msg"] and not refused["changed"]


@pytest.mark.parametrize("runs", [2, 3])
def test_runs_at_once_register_one_model(env, collections_path, rest, ansible, prefix, cleanup, embed_connector,
                                         runs):
    name = prefix + "-race"
    cleanup[0].append(name)
    spec = {"name": name, "connector": embed_connector, "state": "deployed"}
    results = [None] * runs
    players = [Ansible(env, collections_path) for dummy in range(runs)]   # one work directory each

    def run(index):
        results[index] = players[index].run("polarsearch_model", spec)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [r for r in results if r is None or r.get("failed")]
    assert not failed, ["no result" if r is None else (r.get("msg"), r.get("plan")) for r in failed]
    model = rest.one_model(name)
    assert model["model_state"] == "DEPLOYED"
    assert {r["model_id"] for r in results} == {model["model_id"]}
    assert len(rest.groups(name)) == 1
    again = ansible.run("polarsearch_model", spec)
    assert again["changed"] is False


def test_model_group_lookup_through_rest_matches(rest, ansible, prefix, group_cleanup):
    """Names are unique on the server: a second register of the name is refused there; the module adopts."""
    name = prefix + "-unique"
    group_cleanup.append(name)
    answer = rest.call("POST", ML + "/model_groups/_register", {"name": name})
    refused = rest.request("POST", ML + "/model_groups/_register", json={"name": name})
    assert refused.status_code == 400 and "already being used" in refused.text
    adopted = ansible.run("polarsearch_model_group", {"name": name})
    assert not adopted.get("failed") and adopted["changed"] is False
    assert adopted["model_group_id"] == answer["model_group_id"]
