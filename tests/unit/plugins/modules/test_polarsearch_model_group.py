# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_model_group as module

ML = "_plugins/_ml"
NAME = "team-a-llms"
AC = "plugins.ml_commons.model_access_control_enabled"
USER_A = {"name": "ml_user", "backend_roles": ["team_a", "shared"], "roles": ["ml_full_access"]}
ADMIN = {"name": "admin", "backend_roles": ["admin"], "roles": ["all_access"]}


def S(operation, name=NAME, id=None, fields=()):
    return {"operation": operation, "kind": "model_group", "name": name, "id": id, "fields": list(fields)}


def secured(server, user=None):
    """A cluster with the security plugin and model access control on, called as ``user``."""
    server.security_user = dict(user or USER_A)
    server.set_setting(AC, True)
    return server


def only_group(server):
    assert len(server.groups) == 1
    return next(iter(server.groups.items()))


# -- create, no change, update ---------------------------------------------------------------------
def test_create_then_no_change(run, server):
    result = run(module, {"name": NAME, "description": "LLMs of team A"}, diff=True)
    assert result["changed"] is True
    assert result["plan"] == [S("create", fields=["description"])]
    gid, group = only_group(server)
    assert server.calls("POST", r"model_groups/_register$")[0].body == {"name": NAME, "description": "LLMs of team A"}
    assert result["model_group_id"] == gid
    assert result["model_group"] == {"model_group_id": gid, "name": NAME, "description": "LLMs of team A",
                                     "access_mode": "public", "latest_version": 0}
    assert result["diff"]["before"] == {}
    again = run(module, {"name": NAME, "description": "LLMs of team A"}, diff=True)
    assert again["changed"] is False and again["plan"] == []
    assert again["diff"]["before"] == again["diff"]["after"]


def test_unset_options_are_left_alone(run, server):
    secured(server)
    gid = server.add_group(NAME, description="by hand")
    server.groups[gid].update(access="restricted", backend_roles=["team_a"])
    result = run(module, {"name": NAME})
    assert result["changed"] is False
    assert server.writes == []
    # without access options the module does not even read the access-control setting
    assert server.calls("GET", r"_cluster/settings") == []


def test_update_description(run, server):
    gid = server.add_group(NAME, description="old")
    result = run(module, {"name": NAME, "description": "new"}, diff=True)
    assert result["plan"] == [S("update", id=gid, fields=["description"])]
    assert server.calls("PUT", r"model_groups/")[0].body == {"description": "new"}
    assert server.groups[gid]["description"] == "new"
    assert result["diff"]["before"]["description"] == "old"
    assert result["diff"]["after"]["description"] == "new"


def test_rename_by_id(run, server):
    gid = server.add_group(NAME)
    result = run(module, {"model_group_id": gid, "name": "renamed"})
    assert result["plan"] == [S("update", id=gid, fields=["name"])]
    assert server.groups[gid]["name"] == "renamed"


def test_model_group_id_that_does_not_exist_fails(run, server):
    result = run(module, {"model_group_id": "noSuchGroup000000001", "name": NAME})
    assert result["failed"] is True
    assert "model_group_id noSuchGroup000000001 does not exist" in result["msg"]
    assert server.writes == []


# -- access fields -------------------------------------------------------------------------------------------
def test_restricted_group_with_own_roles(check_matches_real):
    args = {"name": NAME, "access_mode": "restricted", "backend_roles": ["team_a"]}
    checked, real, dummy, server = check_matches_real(module, args, setup=secured, ignore=("model_group_id",))
    assert real["plan"] == [S("create", fields=["access_mode", "backend_roles"])]
    gid, group = only_group(server)
    assert group["access"] == "restricted" and group["backend_roles"] == ["team_a"]
    assert real["model_group"]["access_mode"] == "restricted"


def test_private_is_the_default_with_access_control(check_matches_real):
    checked, real, dummy, server = check_matches_real(module, {"name": NAME}, setup=secured,
                                                      ignore=("model_group_id",))
    assert only_group(server)[1]["access"] == "private"
    assert checked["model_group"]["access_mode"] == real["model_group"]["access_mode"] == "private"


def test_add_all_backend_roles_is_compared_with_the_user_roles(run, server):
    secured(server)
    result = run(module, {"name": NAME, "add_all_backend_roles": True})
    assert result["plan"] == [S("create", fields=["add_all_backend_roles"])]
    gid, group = only_group(server)
    assert group["backend_roles"] == ["team_a", "shared"] and group["access"] == "restricted"
    assert run(module, {"name": NAME, "add_all_backend_roles": True})["changed"] is False
    server.security_user["backend_roles"] = ["team_a", "shared", "new_team"]
    again = run(module, {"name": NAME, "add_all_backend_roles": True})
    assert again["plan"] == [S("update", id=gid, fields=["add_all_backend_roles"])]
    assert sorted(server.groups[gid]["backend_roles"]) == ["new_team", "shared", "team_a"]


def test_roles_change_and_mode_change(run, server):
    secured(server)
    gid = server.add_group(NAME)
    server.groups[gid].update(access="restricted", backend_roles=["team_a"])
    result = run(module, {"name": NAME, "backend_roles": ["shared", "team_a"]})
    assert result["plan"] == [S("update", id=gid, fields=["backend_roles"])]
    assert run(module, {"name": NAME, "backend_roles": ["team_a", "shared"]})["changed"] is False, "a set"
    private = run(module, {"name": NAME, "access_mode": "private"}, diff=True)
    assert private["plan"] == [S("update", id=gid, fields=["access_mode"])]
    assert server.groups[gid]["access"] == "private" and server.groups[gid]["backend_roles"] == []
    assert "backend_roles" not in private["diff"]["after"]
    assert private["diff"]["before"]["backend_roles"] == ["shared", "team_a"]
    assert run(module, {"name": NAME, "access_mode": "private"})["changed"] is False
    back = run(module, {"name": NAME, "access_mode": "restricted"})
    assert back["failed"] is True and "backend_roles or add_all_backend_roles" in back["msg"]
    assert server.calls("PUT", r"model_groups/")[-1].body == {"access_mode": "private"}


def test_mode_change_check_mode_matches_the_real_run(check_matches_real):
    def setup(server):
        secured(server)
        gid = server.add_group(NAME, group_id="group0000000000000001")
        server.groups[gid].update(access="restricted", backend_roles=["team_a"])

    checked, real, dummy, server = check_matches_real(module, {"name": NAME, "access_mode": "public"}, setup=setup)
    assert real["plan"] == [S("update", id="group0000000000000001", fields=["access_mode"])]


@pytest.mark.parametrize("args,words", [
    ({"access_mode": "private", "backend_roles": ["team_a"]}, ["access_mode: restricted"]),
    ({"access_mode": "public", "add_all_backend_roles": True}, ["access_mode: restricted"]),
    ({"access_mode": "restricted"}, ["backend_roles or add_all_backend_roles"]),
    ({"backend_roles": ["team_b"]}, ["team_b", "ml_user", "does not have"]),
], ids=["private-with-roles", "public-with-add-all", "restricted-without-roles", "role-the-user-lacks"])
def test_access_rules_fail_before_any_write(run, server, args, words):
    secured(server)
    result = run(module, dict(args, name=NAME))
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"]
    assert server.writes == []


def test_admin_may_set_any_role_but_not_add_all(run, server):
    secured(server, ADMIN)
    assert run(module, {"name": NAME, "backend_roles": ["team_b"]})["failed"] is False
    result = run(module, {"name": "other", "add_all_backend_roles": True})
    assert result["failed"] is True and "admin" in result["msg"]


def test_access_fields_without_access_control_fail_before_any_write(run, server):
    result = run(module, {"name": NAME, "access_mode": "private"})
    assert result["failed"] is True
    assert AC in result["msg"]
    assert server.writes == []


def test_backend_roles_and_add_all_are_mutually_exclusive(run, server):
    result = run(module, {"name": NAME, "backend_roles": ["a"], "add_all_backend_roles": True})
    assert result["failed"] is True and "mutually exclusive" in result["msg"]
    assert server.requests == []


# -- absent ----------------------------------------------------------------------------------------------------
def test_absent_deletes_an_empty_group(check_matches_real):
    def setup(server):
        server.add_group(NAME, group_id="group0000000000000001")

    checked, real, dummy, server = check_matches_real(module, {"name": NAME, "state": "absent"}, setup=setup)
    assert real["plan"] == [S("delete", id="group0000000000000001")]
    assert server.groups == {}
    assert real["diff"]["after"] == {}


def test_absent_when_already_gone(run, server):
    result = run(module, {"name": NAME, "state": "absent"})
    assert result["changed"] is False and result["plan"] == []
    assert server.writes == []


@pytest.mark.parametrize("algorithm", ["REMOTE", "TEXT_EMBEDDING"])
def test_absent_refuses_while_models_are_in_the_group(run, server, algorithm):
    gid = server.add_group(NAME)
    mid = server.add_model("embedder", None, model_group_id=gid, algorithm=algorithm)
    result = run(module, {"name": NAME, "state": "absent"}, check_mode=True)
    assert result["failed"] is True
    assert "embedder (%s)" % mid in result["msg"]
    assert result["models"] == [mid]
    real = run(module, {"name": NAME, "state": "absent"})
    assert real["failed"] is True and real["changed"] is False
    assert gid in server.groups
    assert server.writes == []


# -- concurrency -------------------------------------------------------------------------------------------------
def test_a_group_another_run_made_at_the_same_moment_is_adopted(run, server):
    """The server checks name uniqueness by a search before the write, so two creates at once can both
    succeed. Both runs keep the older group; the one whose group lost deletes its own."""
    other = {}
    real_register = server.register_group

    def racing_register(body):
        if not other:
            # another run's create lands first, between our lookup and our create, and is older
            other["id"] = server.add_group(NAME, group_id="aaaaOlderGroup000001")
            server.groups[other["id"]]["created_time"] -= 10 ** 6
            saved = server.groups.pop(other["id"])
            answer = real_register(body)          # the server's uniqueness search did not see it yet
            server.groups[other["id"]] = saved
            return answer
        return real_register(body)

    server.register_group = racing_register
    result = run(module, {"name": NAME})
    assert result["failed"] is False, result["msg"]
    assert list(server.groups) == [other["id"]]
    assert result["model_group_id"] == other["id"]
    assert [s["operation"] for s in result["plan"]] == ["create", "delete"]


def test_name_taken_by_a_concurrent_create_is_adopted(run, server):
    real_search = server.search
    seen = {}

    def racing_search(store, body, exclude=()):
        answer = real_search(store, body, exclude)
        if store is server.groups and not seen:
            seen["id"] = server.add_group(NAME)
        return answer

    server.search = racing_search
    result = run(module, {"name": NAME})
    assert result["failed"] is False, result["msg"]
    assert list(server.groups) == [seen["id"]]
    assert result["model_group_id"] == seen["id"]


def test_absent_right_after_its_last_model_was_deleted(run, server, clock):
    """Seen on 2.19.1: right after a model's DELETE, searches of the models index still find it (no
    refresh), so the group delete answered 409 "has associated model versions". A model the search
    finds but a GET no longer does is gone; the delete is retried until the server agrees."""
    gid = server.add_group(NAME)
    mid = server.add_model("embedder", None, model_group_id=gid)
    server.model_delete_refresh_lag = 4
    server.delete_model(mid)
    result = run(module, {"name": NAME, "state": "absent"})
    assert result["failed"] is False, result["msg"]
    assert result["changed"] is True and result["plan"] == [S("delete", id=gid)]
    assert server.groups == {}
    assert sum(clock.sleeps) < 30


def test_absent_still_refuses_for_a_model_that_exists(run, server):
    gid = server.add_group(NAME)
    server.add_model("embedder", None, model_group_id=gid)
    server.model_delete_refresh_lag = 4
    result = run(module, {"name": NAME, "state": "absent"})
    assert result["failed"] is True and "embedder" in result["msg"]
    assert gid in server.groups and server.writes == []
