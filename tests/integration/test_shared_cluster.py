"""Two teams on one cluster with ML Commons access control (the secure profile): user B's model on user A's
connector, in a model group only B may see. User A's changes and teardown must never leave two same-named
connectors or a half-moved set of models: they do the whole change or change nothing, and fail naming what
blocks them. On the plain profile the whole file is skipped (no users, no access control)."""

from __future__ import annotations

import os

import pytest

from conftest import TRUSTED, Ansible
from secure_support import SCRUBBED, SECURE_SKIP, SecureCluster, find_secrets, secure_profile
from specs import embedding_connector

pytestmark = pytest.mark.skipif(not secure_profile(), reason=SECURE_SKIP)


class UserRunner:
    """Module runs in this process as one user (credentials and CA from the environment, as AWX injects them);
    every result is scanned for the secrets the tests know."""

    def __init__(self, cluster, env, collections_path, user):
        self.cluster = cluster
        self.ansible = Ansible(env, collections_path, in_process=True)
        for name in SCRUBBED:
            self.ansible.env.pop(name, None)
        self.ansible.env.update(dict(user.env, POLARSEARCH_CA_PATH=cluster.ca_path))

    def run(self, module, args, check=False):
        result = self.ansible.run(module, args, check=check)
        leaked = find_secrets(self.ansible.last_output + repr(result), self.cluster.secrets)
        assert not leaked, "%d secret value(s) appear in the output of %s" % (len(leaked), module)
        return result


@pytest.fixture(scope="module")
def cluster():
    return SecureCluster.from_environment()


@pytest.fixture(scope="module")
def teams(cluster, env, collections_path):
    return [UserRunner(cluster, env, collections_path, user) for user in cluster.users]


@pytest.fixture(scope="module")
def admin_rest(cluster):
    return cluster.rest()


@pytest.fixture()
def name():
    return "it-shared-%s" % os.urandom(4).hex()


@pytest.fixture()
def shared(cluster, teams, admin_rest, name, trusted):
    """User A's public connector and deployed model (A's private group); user B's deployed model on A's connector
    in B's private group. Everything is deleted afterwards by the admin."""
    team_a, team_b = teams
    spec = embedding_connector(name, {"endpoint": cluster.endpoint, "api_key": cluster.api_key},
                               access_mode="public")
    state = {"spec": spec, "name": name}
    try:
        made = team_a.run("polarsearch_connector", spec)
        assert not made.get("failed"), made["msg"]
        state["connector_id"] = made["connector_id"]
        mine = team_a.run("polarsearch_model", {"name": name + "-a", "connector": name, "model_group": name + "-a",
                                                "state": "deployed"})
        assert not mine.get("failed"), mine["msg"]
        state["model_a"] = mine["model_id"]
        group = team_b.run("polarsearch_model_group", {"name": name + "-b", "access_mode": "private"})
        assert not group.get("failed"), group["msg"]
        theirs = team_b.run("polarsearch_model", {"name": name + "-b", "connector_id": made["connector_id"],
                                                  "model_group": name + "-b", "state": "deployed"})
        assert not theirs.get("failed"), theirs["msg"]
        state["model_b"] = theirs["model_id"]
        yield state
    finally:
        admin_cleanup(admin_rest, name)


def admin_cleanup(rest, name):
    """Undeploy and delete the test's models, then its model groups and connectors, as the admin."""
    for hit in rest.search("models", {"prefix": {"name.keyword": name}}):
        rest.request("POST", "/_plugins/_ml/models/%s/_undeploy" % hit["_id"])
    for hit in rest.search("models", {"prefix": {"name.keyword": name}}):
        rest.request("DELETE", "/_plugins/_ml/models/%s" % hit["_id"])
    for hit in rest.search("model_groups", {"prefix": {"name.keyword": name}}):
        rest.request("DELETE", "/_plugins/_ml/model_groups/%s" % hit["_id"])
    for hit in rest.search("connectors", {"prefix": {"name.keyword": name}}):
        rest.request("DELETE", "/_plugins/_ml/connectors/%s" % hit["_id"])


def test_replace_under_another_teams_hidden_model_changes_nothing_and_names_it(cluster, teams, admin_rest, shared):
    team_a, team_b = teams
    name = shared["name"]
    # user A sees only its own model on the connector
    seen = cluster.rest(cluster.users[0]).search("models", {"match": {"connector_id": shared["connector_id"]}})
    assert shared["model_a"] in [h["_id"] for h in seen] and shared["model_b"] not in [h["_id"] for h in seen], seen
    changed = dict(shared["spec"], parameters=dict(shared["spec"]["parameters"], model="text-embedding-v3"))
    for check in (True, False):
        result = team_a.run("polarsearch_connector", changed, check=check)
        assert result.get("failed"), result
        assert result["changed"] is False, result
        assert shared["model_b"] in result["msg"], result["msg"]
        assert "cannot see" in result["msg"] and "on_deployed_models" in result["msg"], result["msg"]
    stored = admin_rest.by_name("connectors", name)
    assert [c["id"] for c in stored] == [shared["connector_id"]], "one connector, the old one: %s" % stored
    for model_id in (shared["model_a"], shared["model_b"]):
        model = admin_rest.call("GET", "/_plugins/_ml/models/%s" % model_id)
        assert model["connector_id"] == shared["connector_id"] and model["model_state"] == "DEPLOYED", model
    # the next run fails the same way, before any write: still one connector
    again = team_a.run("polarsearch_connector", changed)
    assert again.get("failed") and again["changed"] is False, again
    assert len(admin_rest.by_name("connectors", name)) == 1


def test_redeploy_under_another_teams_hidden_deployed_model_changes_nothing_and_names_it(cluster, teams, admin_rest,
                                                                                         shared):
    """on_deployed_models=redeploy: the server refuses the update in place while B's hidden model is deployed, so
    A's run (check mode and real alike) fails before it undeploys anything, naming B's model."""
    team_a, dummy = teams
    changed = dict(shared["spec"], description="changed by team a", on_deployed_models="redeploy")
    for check in (True, False):
        result = team_a.run("polarsearch_connector", changed, check=check)
        assert result.get("failed"), result
        assert result["changed"] is False, result
        assert shared["model_b"] in result["msg"] and "cannot see" in result["msg"], result["msg"]
        assert "Nothing was changed" in result["msg"], result["msg"]
    stored = admin_rest.call("GET", "/_plugins/_ml/connectors/%s" % shared["connector_id"])
    assert stored.get("description") != "changed by team a", stored
    for model_id in (shared["model_a"], shared["model_b"]):
        model = admin_rest.call("GET", "/_plugins/_ml/models/%s" % model_id)
        assert model["model_state"] == "DEPLOYED", model


def test_a_replace_of_a_connector_the_caller_sees_no_model_use_meets_the_hidden_models(
        cluster, teams, admin_rest, name, trusted):
    """A parameter removed (a replace) from A's connector, which A sees no model use while B's hidden model does:
    deployed, the server's update in-use check names it first, in check mode and for real, and nothing is
    written; not deployed, check mode says what it cannot see, and the real run fails naming it, changing
    nothing."""
    team_a, team_b = teams
    spec = embedding_connector(name, {"endpoint": cluster.endpoint, "api_key": cluster.api_key},
                               access_mode="public")
    extra = dict(spec, parameters=dict(spec["parameters"], dimensions="1024"))
    try:
        made = team_a.run("polarsearch_connector", extra)
        assert not made.get("failed"), made["msg"]
        cid = made["connector_id"]
        group = team_b.run("polarsearch_model_group", {"name": name + "-b", "access_mode": "private"})
        assert not group.get("failed"), group["msg"]
        theirs = team_b.run("polarsearch_model", {"name": name + "-b", "connector_id": cid,
                                                  "model_group": name + "-b", "state": "deployed"})
        assert not theirs.get("failed"), theirs["msg"]
        for check in (True, False):
            result = team_a.run("polarsearch_connector", spec, check=check)
            assert result.get("failed") and result["changed"] is False, result
            assert theirs["model_id"] in result["msg"] and "Nothing was changed" in result["msg"], result["msg"]
        assert [c["id"] for c in admin_rest.by_name("connectors", name)] == [cid]

        admin_rest.call("POST", "/_plugins/_ml/models/%s/_undeploy" % theirs["model_id"])
        checked = team_a.run("polarsearch_connector", spec, check=True)
        assert not checked.get("failed"), checked["msg"]
        assert any("check mode cannot tell" in w for w in checked.get("warnings") or []), checked
        real = team_a.run("polarsearch_connector", spec)
        assert real.get("failed") and theirs["model_id"] in real["msg"] and "was not changed" in real["msg"], real
        assert [c["id"] for c in admin_rest.by_name("connectors", name)] == [cid]
        model = admin_rest.call("GET", "/_plugins/_ml/models/%s" % theirs["model_id"])
        assert model["connector_id"] == cid, model
    finally:
        admin_cleanup(admin_rest, name)


def test_teardown_under_another_teams_hidden_model_deletes_nothing_and_names_it(
        cluster, teams, admin_rest, collections_path, trusted):
    """User A's stack (the role), user B's deployed model on A's connector in B's private group: A's teardown
    deletes nothing (not even A's own model) and names B's model; A's stack keeps working."""
    from test_secure import role_playbook  # the role run as AWX runs it, its -vvv output scanned for secrets

    owner = cluster.users[0]
    prefix = "it-shared-role-%s-" % os.urandom(3).hex()
    name, connector = prefix + "text-embedding-v4", prefix + "text-embedding-v4-connector"
    variables = {
        "ml_stack_name_prefix": prefix,
        "ml_stack_endpoint": "http://" + cluster.endpoint,
        "ml_stack_models": [{"name": "text-embedding-v4", "kind": "embedding",
                             "connector_overrides": {"access_mode": "public"}}],
        "ml_stack_private_ip_enabled": True,
        "ml_stack_keep_trusted_endpoints": True,
        "ml_stack_wait_timeout": 120,
    }
    try:
        rc, output, _changed = role_playbook(cluster, collections_path, owner, "provision", variables)
        assert rc == 0, output[-6000:]
        stored = admin_rest.by_name("connectors", connector)
        assert len(stored) == 1, stored
        group = teams[1].run("polarsearch_model_group", {"name": prefix + "b", "access_mode": "private"})
        assert not group.get("failed"), group["msg"]
        theirs = teams[1].run("polarsearch_model", {"name": prefix + "b", "connector_id": stored[0]["id"],
                                                    "model_group": prefix + "b", "state": "deployed"})
        assert not theirs.get("failed"), theirs["msg"]

        for playbook in ("teardown", "teardown"):   # the second run meets the same state, fails the same way
            rc, output, _changed = role_playbook(cluster, collections_path, owner, playbook, variables)
            assert rc != 0, output[-6000:]
            assert theirs["model_id"] in output and "cannot see" in output, output[-6000:]
            assert [c["id"] for c in admin_rest.by_name("connectors", connector)] == [stored[0]["id"]]
            mine = admin_rest.by_name("models", name)
            assert len(mine) == 1 and mine[0]["model_state"] == "DEPLOYED", mine
        model = admin_rest.call("GET", "/_plugins/_ml/models/%s" % theirs["model_id"])
        assert model["connector_id"] == stored[0]["id"] and model["model_state"] == "DEPLOYED", model
    finally:
        admin_cleanup(admin_rest, prefix)


def test_teardown_by_a_user_who_cannot_see_every_connector_keeps_the_trusted_entries(cluster, admin_rest,
                                                                                     collections_path, trusted):
    """With connector access control a non-admin user's search misses other users' connectors, which may need a
    trusted endpoint entry: its teardown keeps the entries (with a warning) instead of removing them, so it
    succeeds without ml_stack_keep_trusted_endpoints and leaves the admin's setting alone."""
    from test_secure import role_playbook

    owner = cluster.users[0]
    prefix = "it-shared-keep-%s-" % os.urandom(3).hex()
    variables = {
        "ml_stack_name_prefix": prefix,
        "ml_stack_endpoint": "http://" + cluster.endpoint,
        "ml_stack_models": [{"name": "text-embedding-v4", "kind": "embedding",
                             "connector_overrides": {"access_mode": "private"}}],
        "ml_stack_private_ip_enabled": True,
        "ml_stack_wait_timeout": 120,
    }
    before = admin_rest.persistent().get(TRUSTED)
    try:
        rc, output, _changed = role_playbook(cluster, collections_path, owner, "provision",
                                             dict(variables, ml_stack_keep_trusted_endpoints=True))
        assert rc == 0, output[-6000:]
        assert len(admin_rest.by_name("connectors", prefix + "text-embedding-v4-connector")) == 1
        rc, output, _changed = role_playbook(cluster, collections_path, owner, "teardown", variables)
        assert rc == 0, output[-6000:]
        assert "remove_unseen_trusted_endpoints" in output, output[-6000:]
        assert admin_rest.by_name("connectors", prefix + "text-embedding-v4-connector") == []
        assert admin_rest.persistent().get(TRUSTED) == before, "the entries stay"
    finally:
        admin_cleanup(admin_rest, prefix)
