# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ml_stack role's teardown may remove."""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.stack.ml_stack_teardown import (
    action_urls,
    foreign_blockers,
    needed_by,
    unused_regexes,
)

SHARED = r"^http://localhost:18080/.*$"
OWN = r"^https://api\.example\.com/.*$"


def entry(name, regex=SHARED, state="absent"):
    return {"name": name, "state": state, "regex": regex, "connector": {"name": name + "-connector"}}


def connector(name, endpoint="localhost:18080", scheme="http", path="/v1/embeddings", **extra):
    return dict({"name": name, "connector_id": name + "-id", "parameters": {"endpoint": endpoint, "model": "m"},
                 "actions": [{"action_type": "predict", "url": "%s://${parameters.endpoint}%s" % (scheme, path)}]},
                **extra)


def stack(absent, present=()):
    return {"absent": list(absent), "present": list(present), "models": list(present) + list(absent)}


def test_urls_are_filled_in_from_the_parameters_as_the_server_does():
    assert action_urls(connector("a")) == ["http://localhost:18080/v1/embeddings"]
    with_default = {"parameters": {}, "actions": [{"url": "https://${parameters.host:-h.example.com}/x"},
                                                  {"url": "https://${parameters.missing}/y"}]}
    assert action_urls(with_default) == ["https://h.example.com/x", "https://${parameters.missing}/y"]
    assert action_urls({"name": "mcp"}) == []


def test_an_entry_another_stack_still_uses_is_kept_until_that_stack_goes():
    first = [entry("a-embed"), entry("a-llm")]
    cluster = [connector("a-embed-connector"), connector("a-llm-connector"), connector("b-embed-connector")]
    # the first stack goes: the second stack's connector still calls the endpoint
    assert unused_regexes(stack(first), cluster) == []
    assert needed_by(SHARED, cluster[2:]) == ["b-embed-connector"]
    # the second stack goes, after the first: nothing calls it any more
    assert unused_regexes(stack([entry("b-embed")]), cluster[2:]) == [SHARED]


def test_only_the_entries_of_the_absent_models_are_candidates_and_each_once():
    absent = [entry("a"), entry("b"), entry("c", OWN)]
    assert unused_regexes(stack(absent), []) == [SHARED, OWN]
    # an entry a model that stays uses is kept, whatever the cluster holds
    assert unused_regexes(stack(absent, [entry("d", OWN, "deployed")]), []) == [SHARED]


def test_the_set_aside_replacements_of_a_deleted_connector_do_not_keep_an_entry():
    cluster = [connector("a-connector"), connector("a-connector (unused replacement)")]
    assert unused_regexes(stack([entry("a")]), cluster) == [SHARED]


def test_a_regex_must_match_the_whole_url():
    other_port = [connector("x", endpoint="localhost:180801")]
    https = [connector("y", scheme="https")]
    assert unused_regexes(stack([entry("a")]), other_port + https) == [SHARED]


def test_foreign_blockers_ignore_the_models_the_teardown_deletes():
    models_absent = {"a": {"plan": [{"operation": "undeploy", "kind": "model", "id": "m1"},
                                    {"operation": "delete", "kind": "model", "id": "m1"}]},
                     "b": {"changed": False, "plan": []}}
    listed = [connector("a-connector", delete_blocked_by=["m1"]),
              connector("b-connector", delete_blocked_by=["m1", "x9"]),
              connector("other", delete_blocked_by=["x8"])]
    problems = foreign_blockers(stack([entry("a"), entry("b")]), listed, models_absent)
    assert problems == ["the server counts model(s) x9, which are not absent models of this stack, as users of "
                        "connector b-connector; a real run would fail to delete it"]
    assert foreign_blockers(stack([]), listed, {}) == []


def test_foreign_blockers_count_a_model_that_only_shares_a_term_only_when_deployed():
    """A real teardown renames a connector aside when an undeployed model of another connector shares a term of its
    ID (the server refuses the delete, not the rename), and fails when that model is deployed (the rename is
    refused too): check mode predicts the same."""
    listed = [connector("a-connector", delete_blocked_by=["own", "sharer"], models=["own"])]
    assert foreign_blockers(stack([entry("a")]), listed, {}, deployed=lambda ids: []) == [
        "the server counts model(s) own, which are not absent models of this stack, as users of connector "
        "a-connector; a real run would fail to delete it"]
    problems = foreign_blockers(stack([entry("a")]), listed, {}, deployed=lambda ids: ["sharer"])
    assert problems and "own, sharer" in problems[0]
