# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ModuleFailure
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_drift import (
    compute_drift,
    desired_spec,
    full_spec,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_lookup import split_twins
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_record import Connector, public
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_request import ConnectorRequest
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_rules import (
    FINGERPRINT,
    REPLACES,
    normalize_action,
    validate,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.fingerprint import fingerprint, fingerprint_matches
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.identity import winner
from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.in_use import id_terms

CREDENTIAL = {"api_key": "sk-test-0123456789"}


# -- fingerprints ------------------------------------------------------------------------------------------
def test_fingerprint_is_a_keyed_salted_hmac():
    value = fingerprint(CREDENTIAL, "the-key", salt="0011223344556677")
    canonical = json.dumps(CREDENTIAL, sort_keys=True, separators=(",", ":"))
    expected = hmac.new(b"the-key:0011223344556677", canonical.encode(), hashlib.sha256).hexdigest()
    assert value == "hmac-sha256:v1:0011223344556677:" + expected
    assert "sk-test" not in value


def test_fingerprint_salt_is_random():
    assert fingerprint(CREDENTIAL, None) != fingerprint(CREDENTIAL, None)


def test_fingerprint_matches():
    stored = fingerprint(CREDENTIAL, "k")
    assert fingerprint_matches(stored, CREDENTIAL, "k")
    assert fingerprint_matches(stored, {"api_key": "sk-test-0123456789"}, "k")
    assert not fingerprint_matches(stored, {"api_key": "other"}, "k")
    assert not fingerprint_matches(stored, CREDENTIAL, "other-key")
    assert not fingerprint_matches(stored, CREDENTIAL, None)
    assert not fingerprint_matches(stored, dict(CREDENTIAL, extra="x"), "k")


def test_fingerprint_ignores_key_order_and_value_types():
    stored = fingerprint({"a": "1", "b": "2"}, None, salt="ab")
    assert fingerprint_matches(stored, {"b": 2, "a": 1}, None)


@pytest.mark.parametrize("stored", [None, "", "sha256:abc", "hmac-sha256:v2:aa:bb", "hmac-sha256:v1:aa"])
def test_malformed_fingerprints_never_match(stored):
    assert fingerprint_matches(stored, CREDENTIAL, None) is False


@pytest.mark.parametrize("mode,stored_matches,credential,expected", [
    ("on_change", True, CREDENTIAL, False),
    ("on_change", False, CREDENTIAL, True),
    ("always", True, CREDENTIAL, True),
    ("on_create", False, CREDENTIAL, False),
    ("always", True, None, False),
])
def test_credential_needs_write(mode, stored_matches, credential, expected):
    stored = fingerprint(CREDENTIAL if stored_matches else {"api_key": "old"}, None)
    request = ConnectorRequest.from_params({"name": "c", "credential": credential, "credential_update": mode})
    assert request.credential_plan(Connector("c1", fingerprint=stored), []).write is expected


def test_credential_needs_write_without_a_connector():
    request = ConnectorRequest.from_params({"name": "c", "credential": CREDENTIAL, "credential_update": "always"})
    assert request.credential_plan(None, []).write is False


@pytest.mark.parametrize("stored,deployed,sent,shown,compared", [
    # a connector this collection made: compared by its fingerprint
    ("match", False, False, None, True),
    ("other", False, True, ("set", "changed"), True),
    # a connector made by hand (no fingerprint): never compared; written only when no deployed model uses it
    (None, False, True, ("unknown", "set"), True),
    (None, True, False, ("unknown", "unknown"), False),
])
def test_the_credential_plan_decides_what_is_written_and_shown(stored, deployed, sent, shown, compared):
    fp = {"match": fingerprint(CREDENTIAL, None), "other": fingerprint({"api_key": "old"}, None), None: None}[stored]
    request = ConnectorRequest.from_params({"name": "c", "credential": CREDENTIAL})
    plan = request.credential_plan(Connector("c1", fingerprint=fp), [{"model_id": "m"}] if deployed else [])
    assert plan.write is sent
    assert plan.shown(plan.write) == shown
    assert plan.compared(plan.write) is compared


def test_a_request_holds_only_the_options_set():
    request = ConnectorRequest.from_params({"name": "c", "description": None, "parameters": {"model": 3},
                                            "state": "present", "wait_timeout": 30})
    assert dict(request.spec) == {"name": "c", "parameters": {"model": "3"}}
    assert "description" not in request.options and request.wait_timeout == 30
    assert request.by_name


# -- views ----------------------------------------------------------------------------------------------------
def test_normalize_action():
    action = {"action_type": "predict", "method": "POST", "url": "u", "headers": {"X-Num": 5},
              "request_body": {"a": 1}, "pre_process_function": None, "supports_structured_output": False}
    assert normalize_action(action) == {"action_type": "PREDICT", "method": "POST", "url": "u",
                                        "headers": {"X-Num": "5"}, "request_body": '{"a": 1}'}
    assert normalize_action({"action_type": "predict", "supports_structured_output": True}) == {
        "action_type": "PREDICT", "supports_structured_output": True}


def test_connector_record_keeps_internal_parameters_apart_and_out_of_the_view():
    source = {"name": "n", "version": 1, "protocol": "http", "credential": {"api_key": "x"},
              "parameters": {"model": "m", FINGERPRINT: "fp", REPLACES: "old"}, "actions": [],
              "created_time": 1, "owner": {"name": "admin"}}
    connector = Connector.from_source("cid", source)
    assert connector == Connector("cid", name="n", version="1", protocol="http", parameters={"model": "m"},
                                  actions=[], fingerprint="fp", replaces="old", created_time=1)
    assert public(connector) == {"connector_id": "cid", "name": "n", "version": "1", "protocol": "http",
                                 "parameters": {"model": "m"}, "actions": []}
    assert Connector.from_source("x", None) is None
    assert public(None) is None


# -- input -------------------------------------------------------------------------------------------------------
def test_desired_spec_stringifies_and_drops_unset_options():
    params = {"name": "n", "description": None, "version": 2, "protocol": "http", "client_config": None,
              "access_mode": None, "backend_roles": None, "parameters": {"k": 5, "l": [1]},
              "actions": [{"action_type": "predict", "method": "POST", "url": "u"}]}
    assert desired_spec(params) == {"name": "n", "version": "2", "protocol": "http",
                                    "parameters": {"k": "5", "l": "[1]"},
                                    "actions": [{"action_type": "PREDICT", "method": "POST", "url": "u"}]}


@pytest.mark.parametrize("params,message", [
    ({"name": "a;b"}, "name may only contain"),
    ({"description": "<b>"}, "description may only contain"),
    ({"parameters": {REPLACES: "x"}}, "parameters.%s is reserved" % REPLACES),
    ({"actions": [{"action_type": "train"}]}, "actions[0].action_type 'train' is not one of predict"),
    ({"credential": {"k": ["a"]}}, "credential.k must be a string, not a list"),
])
def test_validate(params, message):
    with pytest.raises(ModuleFailure) as info:
        validate(params)
    assert message in info.value.message


def test_validate_accepts_the_allowed_characters():
    validate({"name": "Qwen-max (v2): chat, rerank/embed! 'ok' \"x\" @ 3.5?", "description": "Ünïcode text_1",
              "actions": [{"action_type": "Batch_Predict"}], "credential": {"k": "v"}})


# -- drift --------------------------------------------------------------------------------------------------------
CURRENT = Connector("c1", name="n", description="d", version="1", protocol="http",
                    parameters={"model": "m", "opts": '{"a":1}'},
                    actions=[{"action_type": "PREDICT", "method": "POST", "url": "u"}],
                    client_config={"max_connection": 30, "read_timeout": 30})


def test_compute_drift_nothing():
    desired = {"name": "n", "description": "d", "version": "1", "protocol": "http",
               "parameters": {"model": "m", "opts": '{ "a": 1 }'},
               "actions": [{"action_type": "PREDICT", "method": "POST", "url": "u"}],
               "client_config": {"read_timeout": 30}}
    assert compute_drift(desired, CURRENT, rename=False) == ({}, [])


def test_compute_drift_changes_and_removals():
    desired = {"name": "other", "description": "d2", "parameters": {"model": "m2"},
               "client_config": {"read_timeout": 60}, "backend_roles": ["b"]}
    changes, removals = compute_drift(desired, CURRENT, rename=False)
    assert changes == {"description": "d2", "parameters": {"model": "m2"},
                       "client_config": {"max_connection": 30, "read_timeout": 60}, "backend_roles": ["b"]}
    assert removals == ["opts"]
    changes = compute_drift(desired, CURRENT, rename=True)[0]
    assert changes["name"] == "other"


def test_split_twins():
    old = Connector("old")
    new = Connector("new", replaces="old")
    assert split_twins([old, new]) == (old, new)
    assert split_twins([new, old]) == (old, new)
    assert split_twins([old, Connector("x")]) is None
    assert split_twins([old]) is None
    assert split_twins([old, new, Connector("z")]) is None


def test_full_spec_lays_the_desired_fields_over_the_current_ones():
    spec = full_spec(CURRENT, {"parameters": {"model": "m2"}, "client_config": {"read_timeout": 5}})
    assert spec == {"name": "n", "description": "d", "version": "1", "protocol": "http",
                    "parameters": {"model": "m2"}, "actions": CURRENT.actions,
                    "client_config": {"max_connection": 30, "read_timeout": 5}}


# Answers of a real server's _analyze (standard analyzer, OpenSearch 3.6.0).
@pytest.mark.parametrize("value, terms", [
    ("ab_cd-ef_", {"ab_cd", "ef_"}),
    ("_x-_-Y_Z", {"_x", "y_z"}),
    ("a-B-9_", {"a", "b", "9_"}),
    ("-_-", set()),
    ("AB-12", {"ab", "12"}),
    ("A0zKG6IBdy9ujDy4-aMO", {"a0zkg6ibdy9ujdy4", "amo"}),
    ("NUzJG6IBdy9ujDy4GKF1", {"nuzjg6ibdy9ujdy4gkf1"}),
    (None, set()),
])
def test_id_terms_are_the_standard_analyzers(value, terms):
    assert id_terms(value) == terms


def test_the_winner_is_the_oldest_then_the_smallest_id():
    objects = [{"id": "b", "t": 5}, {"id": "a", "t": 5}, {"id": "0", "t": None}, {"id": "z", "t": 9}]
    assert winner(objects, lambda o: o["t"], lambda o: o["id"]) == {"id": "a", "t": 5}
    assert winner(objects[2:3], lambda o: o["t"], lambda o: o["id"]) == {"id": "0", "t": None}
