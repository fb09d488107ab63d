# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs that create the same connector, model group or model at the same moment converge whatever the
search visibility timing (issue 22).

The fake server's ``create_search_lag`` and ``hide`` model what the real node does: a create reaches
searches only with a refresh, and ``created_time`` is stamped before the write, so another run's create with
the older ``created_time`` can reach searches after this run's own. A GET by ID finds an object at once.
"""

from __future__ import annotations

import copy

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.in_use import id_terms
from ansible_collections.polardb.polarsearch.plugins.module_utils.core import identity
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.fingerprint import fingerprint
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_connector as connector_module
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_model as model_module
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_model_group as group_module

from fake_server import FakeServer, default_action

FP = "polarsearch_credential_fingerprint"
CONNECTOR = "lag-embedding"
MODEL = "lag-model"
GROUP = "lag-group"


def connector_args(**overrides):
    args = {
        "name": CONNECTOR,
        "description": "Embeddings",
        "version": "1",
        "parameters": {"model": "text-embedding-3-small"},
        "credential": {"api_key": "sk-test-0123456789"},
        "actions": [copy.deepcopy(default_action())],
    }
    args.update(overrides)
    return args


def ops(result):
    return [(step["operation"], step["kind"]) for step in result["plan"]]


def older_than(store, own_id):
    return store[own_id]["created_time"] - 500


# -- the other run's create reaches searches after this run's own (its created_time is older) -----------------------
def test_connector_older_rival_that_reaches_searches_late_wins(run, server, clock):
    real = server.create_connector
    rival = {}

    def racing_create(body):
        answer = real(body)
        rival["id"] = server.add_connector(CONNECTOR, parameters=dict(body["parameters"]), connector_id="rivalOlder01")
        server.connectors[rival["id"]]["created_time"] = older_than(server.connectors, answer["connector_id"])
        server.hide(rival["id"], 3)   # its write lands in the index after our create's
        return answer

    server.create_connector = racing_create
    server.create_search_lag = 1
    result = run(connector_module, connector_args())
    assert result["failed"] is False, result.get("msg")
    assert list(server.connectors) == [rival["id"]]
    assert result["connector_id"] == rival["id"]
    assert ops(result) == [("create", "connector"), ("delete", "connector")]


def test_group_older_rival_that_reaches_searches_late_wins(run, server, clock):
    real = server.register_group
    rival = {}

    def racing_register(body):
        answer = real(body)
        rival["id"] = server.add_group(GROUP, group_id="rivalOlderGroup01")
        server.groups[rival["id"]]["created_time"] = older_than(server.groups, answer["model_group_id"])
        server.hide(rival["id"], 3)
        return answer

    server.register_group = racing_register
    server.create_search_lag = 1
    result = run(group_module, {"name": GROUP})
    assert result["failed"] is False, result.get("msg")
    assert list(server.groups) == [rival["id"]]
    assert result["model_group_id"] == rival["id"]
    assert ops(result) == [("create", "model_group"), ("delete", "model_group")]


def older_model_registered_at_once(server, cid, then):
    """Make the next register answer while another run registers a same-named model whose ``created_time`` is
    older; ``then(answer, rival_id)`` arranges what else happens at that moment. Returns ``{"id": rival ID}``."""
    real = server.register_model
    rival = {}

    def racing_register(body):
        answer = real(body)
        rival["id"] = server.add_model(MODEL, cid, model_group_id=body["model_group_id"], model_id="rivalOlderModel1")
        server.models[rival["id"]]["created_time"] = older_than(server.models, answer["model_id"])
        then(answer, rival["id"])
        return answer

    server.register_model = racing_register
    return rival


def test_model_older_rival_that_reaches_searches_late_wins(run, server, clock):
    cid = server.add_connector("qwen-connector", parameters={"model": "qwen-max"})
    rival = older_model_registered_at_once(server, cid, lambda answer, rival_id: server.hide(rival_id, 3))
    server.create_search_lag = 1
    result = run(model_module, {"name": MODEL, "connector_id": cid, "state": "deployed"})
    assert result["failed"] is False, result.get("msg")
    assert list(server.models) == [rival["id"]]
    assert result["model_id"] == rival["id"]
    assert server.models[rival["id"]]["model_state"] == "DEPLOYED"
    assert ("delete", "model") in ops(result)


# -- this run's own create is slow to reach searches ---------------------------------------------------------------
def test_connector_decision_waits_until_its_own_create_shows_in_a_search(run, server, clock):
    """Both creates lag behind: deciding before its own connector shows, a run would see nothing and keep
    its own; it waits for it (proof of a refresh after its create), and then sees the older rival too."""
    real = server.create_connector
    rival = {}

    def racing_create(body):
        if not rival:
            rival["id"] = server.add_connector(CONNECTOR, parameters=dict(body["parameters"]),
                                               connector_id="rivalFirst01")
            server.hide(rival["id"], 4)
        return real(body)

    server.create_connector = racing_create
    server.create_search_lag = 4
    result = run(connector_module, connector_args())
    assert result["failed"] is False, result.get("msg")
    assert list(server.connectors) == [rival["id"]]
    assert result["connector_id"] == rival["id"]


def test_a_younger_rival_loses_and_the_run_keeps_its_own(run, server, clock):
    real = server.create_connector
    rival = {}

    def racing_create(body):
        answer = real(body)
        rival["id"] = server.add_connector(CONNECTOR, parameters=dict(body["parameters"]), connector_id="aaYounger")
        server.hide(rival["id"], 2)
        return answer

    server.create_connector = racing_create
    result = run(connector_module, connector_args())
    assert result["failed"] is False, result.get("msg")
    own = result["connector_id"]
    assert own != rival["id"] and own in server.connectors
    assert ops(result) == [("create", "connector")]


def test_a_lone_create_waits_only_the_quiet_window(run, server, clock):
    result = run(connector_module, connector_args())
    assert result["failed"] is False, result.get("msg")
    waited = sum(clock.sleeps)
    assert identity.QUIET <= waited < identity.QUIET + 1.5


def test_a_create_that_never_shows_in_a_search_is_kept_after_the_wait(run_warned, server, clock):
    """A server whose searches never show the new object (for example one that hides it from this user):
    the run does not fail; after the wait it keeps what it made."""
    server.create_search_lag = 10 ** 6
    result = run_warned(connector_module, connector_args())
    assert result["failed"] is False, result.get("msg")
    assert list(server.connectors) == [result["connector_id"]]
    assert any("did not show" in w for w in result.get("warnings", [])), result.get("warnings")


@pytest.mark.parametrize("check_mode", [True])
def test_check_mode_waits_for_nothing(run, server, clock, check_mode):
    result = run(connector_module, connector_args(), check_mode=check_mode)
    assert result["failed"] is False and result["changed"] is True
    assert sum(clock.sleeps) == 0


def test_a_group_name_the_server_says_is_taken_is_adopted_although_searches_do_not_show_it_yet(run, server, clock):
    """The server's own name check saw the other run's group (its 400 names the ID); this run's search
    does not show it yet. The run waits for it, then uses it."""
    real = server.register_group
    rival = {}

    def racing_register(body):
        rival["id"] = server.add_group(GROUP, group_id="rivalTakenGroup1")
        try:
            return real(body)
        finally:
            server.hide(rival["id"], 3)

    server.register_group = racing_register
    result = run(group_module, {"name": GROUP})
    assert result["failed"] is False, result.get("msg")
    assert list(server.groups) == [rival["id"]]
    assert result["model_group_id"] == rival["id"]


# -- the wedge: same-named connectors, each in use by a same-named model ------------------------------------------
def _stack_twins(server, differ=None, ids=("zzOlderConnector", "aaNewerConnector")):
    """What two runs of one stack leave when each kept its own: two connectors (made by the collection, the
    same spec and credential) and, on each, a deployed model of the same name. ``differ``: "connector" or
    "model" makes the second one differ."""
    args = connector_args()
    made = []
    for index, cid in enumerate(ids):
        parameters = dict(args["parameters"])
        if differ == "connector" and index:
            parameters["model"] = "text-embedding-3-large"
        parameters[FP] = fingerprint(args["credential"], None)
        made.append(server.add_connector(CONNECTOR, parameters=parameters, connector_id=cid,
                                         description=args["description"]))
    models = []
    for index, (cid, mid) in enumerate(zip(made, ("zzOlderModel", "aaNewerModel"))):
        description = "another model" if differ == "model" and index else "Embedding model"
        models.append(server.add_model(MODEL, cid, state="DEPLOYED", model_id=mid, description=description))
    return made, models


def test_a_wedge_of_one_stack_keeps_the_oldest_connector_and_moves_the_other_model(run, server, clock):
    (older, newer), (first, second) = _stack_twins(server)
    check = run(connector_module, connector_args(), check_mode=True)
    assert check["failed"] is False, check.get("msg")
    real = run(connector_module, connector_args())
    assert real["failed"] is False, real.get("msg")
    assert real["plan"] == check["plan"]
    assert ops(real) == [("update", "model"), ("delete", "connector")]
    assert real["connector_id"] == older
    assert list(server.connectors) == [older]
    assert server.models[first]["connector_id"] == older and server.models[second]["connector_id"] == older
    assert server.models[second]["model_state"] == "DEPLOYED"


# Two runs that each made the stack's connector in the 65.5 s in which the node's IDs all share a term
# (core/generated_ids.py; the node's part "GiC-XVXc" and the stretch from 2026-12-06 10:54:49.856 UTC were seen
# in a whole run on 3.6.0).
NODE = "1a20be5d55dc"
STRETCH_STARTS = 1796554489856
LOOK_ALIKE_TWINS = (FakeServer.generated_id(STRETCH_STARTS + 29621, 1022679, NODE),
                    FakeServer.generated_id(STRETCH_STARTS + 29700, 1022681, NODE))


@pytest.mark.parametrize("later", [True, False], ids=["after-the-stretch", "in-the-stretch"])
def test_a_wedge_of_look_alike_copies_moves_every_model_to_a_replacement(run, run_warned, server, clock, later):
    """Moving the newer copy's model to the older one would leave the newer one undeletable: the server counts
    a model of any connector whose ID shares a term as its user. So every model moves to a replacement whose
    ID shares no term with either, and both copies are deleted."""
    (older, newer), (first, second) = _stack_twins(server, ids=LOOK_ALIKE_TWINS)
    assert id_terms(older) & id_terms(newer) == {"sqibgic"}
    server.generate_ids(clock, STRETCH_STARTS + (70000 if later else 31000), NODE)
    check = run(connector_module, connector_args(), check_mode=True)
    assert check["failed"] is False, check.get("msg")
    real = run_warned(connector_module, connector_args())
    assert real["failed"] is False, real.get("msg")
    new = real["connector_id"]
    assert not id_terms(new) & id_terms(older)
    assert server.models[first]["connector_id"] == new == server.models[second]["connector_id"]
    assert {server.models[m]["model_state"] for m in (first, second)} == {"DEPLOYED"}
    assert [c for c in server.connectors if server.connectors[c]["name"] == CONNECTOR] == [new]
    assert real["warnings"] == []
    if later:
        # check mode cannot know the IDs the server will give; when the first one is distinct, it predicted
        # every write
        assert real["plan"] == check["plan"]
    else:
        # the first replacement, made in the stretch, was set aside and deleted once the models had moved
        assert [c for c in server.connectors if c != new] == []
    assert ops(real)[-2:] == [("delete", "connector"), ("delete", "connector")]
    assert run(connector_module, connector_args())["changed"] is False


def test_same_named_models_of_one_stack_keep_the_oldest(run, server, clock):
    (older, newer), (first, second) = _stack_twins(server)
    args = {"name": MODEL, "connector": CONNECTOR, "description": "Embedding model", "state": "deployed"}
    check = run(model_module, args, check_mode=True)
    assert check["failed"] is False, check.get("msg")
    real = run(model_module, args)
    assert real["failed"] is False, real.get("msg")
    assert real["plan"] == check["plan"]
    assert list(server.models) == [first]
    assert real["model_id"] == first
    assert server.models[first]["model_state"] == "DEPLOYED"


def test_the_connector_then_the_model_task_settle_a_wedge_and_the_next_run_changes_nothing(run, server, clock):
    (older, newer), (first, second) = _stack_twins(server)
    model_args = {"name": MODEL, "connector": CONNECTOR, "description": "Embedding model", "state": "deployed"}
    assert run(connector_module, connector_args())["failed"] is False
    assert run(model_module, model_args)["failed"] is False
    assert list(server.connectors) == [older] and list(server.models) == [first]
    assert run(connector_module, connector_args())["changed"] is False
    assert run(model_module, model_args)["changed"] is False


@pytest.mark.parametrize("differ", ["connector", "model"])
def test_a_wedge_whose_objects_differ_fails_naming_the_ids_and_changes_nothing(run, server, clock, differ):
    (older, newer), (first, second) = _stack_twins(server, differ=differ)
    if differ == "connector":
        result = run(connector_module, connector_args())
        ids = [newer, older]
    else:
        result = run(model_module, {"name": MODEL, "connector": CONNECTOR, "description": "Embedding model"})
        ids = [second, first]
    assert result["failed"] is True
    assert all(i in result["msg"] for i in ids), result["msg"]
    assert server.writes == []


def test_a_losing_models_delete_answered_500_after_the_server_deleted_it_is_done(run, server, clock):
    """Seen on the secure 2.19.1 node (no reindex module) in a run that lost a register race: the model's
    DELETE answered 500 "failed to find action [...DeleteByQueryAction...] to execute" (the model chunks'
    delete-by-query after the model document was deleted). A GET finds the model gone: the delete is done."""
    cid = server.add_connector("qwen-connector", parameters={"model": "qwen-max"})
    rival = older_model_registered_at_once(server, cid, lambda answer, rival_id: server.fail_next(
        "DELETE", r"models/%s$" % answer["model_id"], 500, process=True,
        reason="failed to find action [org.opensearch.index.reindex.DeleteByQueryAction@5794e1cf] to execute"))
    result = run(model_module, {"name": MODEL, "connector_id": cid})
    assert result["failed"] is False, result.get("msg")
    assert list(server.models) == [rival["id"]] and result["model_id"] == rival["id"]


def _after_searches(server, store, count, action):
    """Run ``action()`` once, after ``count`` searches of ``store`` (another run acting meanwhile)."""
    real = server.search
    seen = {"n": 0}

    def counting(searched, body, exclude=()):
        answer = real(searched, body, exclude)
        if searched is store or (store is server.models and searched is not server.connectors
                                 and searched is not server.groups):
            seen["n"] += 1
            if seen["n"] == count:
                action()
        return answer

    server.search = counting


def test_a_run_that_finds_another_runs_fresh_duplicate_waits_until_that_run_deleted_it(run, server, clock):
    """Two runs registered the model a moment ago and are settling it; a third run's model task finds both.
    It waits while one of them is not deployed, until the loser's run deleted it, and goes on."""
    cid = server.add_connector("qwen-connector", parameters={"model": "qwen-max"})
    kept = server.add_model(MODEL, cid, state="DEPLOYED", model_id="keptModel")
    loser = server.add_model(MODEL, cid, model_id="loserModel")
    _after_searches(server, server.models, 3, lambda: server.models.pop(loser))
    result = run(model_module, {"name": MODEL, "connector_id": cid, "state": "deployed"})
    assert result["failed"] is False, result.get("msg")
    assert result["model_id"] == kept and list(server.models) == [kept]
    assert result["changed"] is False


def test_a_run_whose_new_model_another_run_deleted_adopts_the_winner(run, server, clock):
    """While this run waits for its view to settle, a third run (that saw more) deletes this run's new
    model, which lost to an older one: this run adopts that one instead of failing."""
    cid = server.add_connector("qwen-connector", parameters={"model": "qwen-max"})

    def meanwhile(answer, rival_id):
        server.hide(rival_id, 2)
        _after_searches(server, server.models, 2, lambda: server.models.pop(answer["model_id"]))

    rival = older_model_registered_at_once(server, cid, meanwhile)
    result = run(model_module, {"name": MODEL, "connector_id": cid})
    assert result["failed"] is False, result.get("msg")
    assert result["model_id"] == rival["id"] and list(server.models) == [rival["id"]]


# -- the losing connector's delete meets the server's analyzed-term in-use check ---------------------------------------
PENDING = "%s (unused, deleted once the server allows)"


def race_lost_beside_a_look_alike(server, state):
    """This run's connector (``o-ownconn01``) loses to an older rival; meanwhile another run registered a model on a
    connector whose ID shares the term ``o`` with it (``o-otherconn02``), which no search shows yet (its write is
    newer than the last refresh), so the server's delete check (a match query) counts it and a search does not."""
    real = server.create_connector
    rival = {}
    server.next_ids = ["o-ownconn01"]

    def racing_create(body):
        answer = real(body)
        rival["id"] = server.add_connector(CONNECTOR, parameters=dict(body["parameters"]), connector_id="rivalOlder01",
                                           description=body["description"])
        server.connectors[rival["id"]]["created_time"] = older_than(server.connectors, answer["connector_id"])
        other = server.add_connector("lag-rerank", parameters={FP: "x"}, connector_id="o-otherconn02")
        rival["model"] = server.add_model("lag-rerank-model", other, state=state, model_id="lookAlikeModel01")
        server.hide(rival["model"], 10 ** 6)
        return answer

    server.create_connector = racing_create
    return rival


def test_a_losing_connector_the_server_will_not_delete_for_a_look_alike_is_set_aside(run_warned, server, clock):
    rival = race_lost_beside_a_look_alike(server, "REGISTERED")
    result = run_warned(connector_module, connector_args())
    assert result["failed"] is False, result.get("msg")
    assert result["connector_id"] == rival["id"]
    assert server.connectors["o-ownconn01"]["name"] == PENDING % CONNECTOR
    assert sorted(c["name"] for c in server.connectors.values()).count(CONNECTOR) == 1
    assert ops(result) == [("create", "connector"), ("delete", "connector"), ("rename", "connector")]
    assert any("analyzed text" in w for w in result.get("warnings", [])), result.get("warnings")


def test_a_losing_connector_a_deployed_look_alike_keeps_is_left_unused_and_the_run_succeeds(run_warned, server, clock):
    """A deployed look-alike blocks the rename too (UpdateConnectorTransportAction): the run still succeeds, with the
    winner, and leaves its own connector unused under its name; the next run deletes it once the server allows."""
    rival = race_lost_beside_a_look_alike(server, "DEPLOYED")
    result = run_warned(connector_module, connector_args())
    assert result["failed"] is False, result.get("msg")
    assert result["connector_id"] == rival["id"]
    assert server.connectors["o-ownconn01"]["name"] == CONNECTOR
    assert any("o-ownconn01" in w and "later run" in w for w in result.get("warnings", [])), result.get("warnings")

    server.create_connector = server.__class__.create_connector.__get__(server)
    server.models.pop(rival["model"])
    again = run_warned(connector_module, connector_args())
    assert again["failed"] is False, again.get("msg")
    assert again["connector_id"] == rival["id"]
    assert "o-ownconn01" not in server.connectors
    assert ops(again) == [("delete", "connector")]


def test_a_losing_connector_another_run_really_uses_is_not_taken_for_a_look_alike(run, server, clock):
    """A refusal naming a model that does use the connector (read by GET) is not a look-alike: the run fails, naming
    it, and renames nothing."""
    real = server.create_connector
    rival = {}

    def racing_create(body):
        answer = real(body)
        rival["id"] = server.add_connector(CONNECTOR, parameters=dict(body["parameters"]), connector_id="rivalOlder01")
        server.connectors[rival["id"]]["created_time"] = older_than(server.connectors, answer["connector_id"])
        rival["model"] = server.add_model("lag-model", answer["connector_id"], model_id="usesOwnConn01")
        server.hide(rival["model"], 10 ** 6)
        return answer

    server.create_connector = racing_create
    result = run(connector_module, connector_args())
    assert result["failed"] is True
    assert "usesOwnConn01" in result["msg"]
    assert all(c["name"] == CONNECTOR for c in server.connectors.values())
