# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import (
    Context,
    ModuleFailure,
    diff_of,
    drop_none,
    first_or_fail,
    parse_json_text,
    same_string_value,
    secret_values,
    subset_differs,
    to_server_string,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.plan import Step


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


# -- Context ------------------------------------------------------------------------------------------------
def test_act_runs_the_write_and_records_the_step():
    calls = []
    context = Context(client=None, check_mode=False)
    step = Step("create", "connector", "thing")
    answer = context.act(step, lambda: calls.append(1) or "real", predicted="predicted")
    assert answer == "real"
    assert calls == [1]
    assert context.changed is True
    assert context.plan == [step]
    assert context.plan_data() == [{"operation": "create", "kind": "connector", "name": "thing", "id": None,
                                    "fields": []}]


def test_act_in_check_mode_returns_the_prediction_without_writing():
    calls = []
    context = Context(client=None, check_mode=True)
    answer = context.act(Step("create", "connector", "thing"), lambda: calls.append(1), predicted={"id": None})
    assert answer == {"id": None}
    assert calls == []
    assert context.changed is True
    assert [str(step) for step in context.plan] == ["create connector thing"]


def test_a_failed_write_is_planned_and_changes_nothing():
    context = Context(client=None, check_mode=False)

    def fail():
        raise ModuleFailure("refused")

    with pytest.raises(ModuleFailure):
        context.act(Step("delete", "model", "m", "ID1"), fail)
    assert context.changed is False
    assert [str(step) for step in context.plan] == ["delete model m (ID1)"]


@pytest.mark.parametrize("answer", ["NEW", {"model_id": "NEW", "connector_id": "OLD"}])
def test_later_steps_name_an_object_this_run_made_without_its_id_as_check_mode_does(answer):
    real = Context(client=None, check_mode=False)
    checked = Context(client=None, check_mode=True)
    for context in (real, checked):
        made = context.act(Step("register", "model", "m"), lambda: answer, predicted={"model_id": None})
        model_id = made if isinstance(made, str) else made["model_id"]
        context.act(Step("deploy", "model", "m", model_id), lambda: None)
        context.act(Step("update", "connector", "c", "OLD", ("description",)), lambda: None)
    assert real.plan_data() == checked.plan_data()
    assert [str(step) for step in real.plan] == ["register model m", "deploy model m",
                                                 "update connector c (OLD): description"]


def test_step_as_data_and_as_text():
    step = Step("update", "cluster_settings", fields=["persistent.a", "transient.b"])
    assert step.fields == ("persistent.a", "transient.b")
    assert step.as_dict() == {"operation": "update", "kind": "cluster_settings", "name": None, "id": None,
                              "fields": ["persistent.a", "transient.b"]}
    assert str(step) == "update cluster settings: persistent.a, transient.b"
    assert Step(**step.as_dict()) == step
    assert str(Step("delete", "connector", "c", "X1")) == "delete connector c (X1)"


def test_wait_for_returns_the_first_value_and_backs_off():
    clock = Clock()
    answers = iter([None, None, None, "done"])
    context = Context(client=None, check_mode=False, sleep=clock.sleep, clock=clock.monotonic)
    assert context.wait_for("thing", lambda: next(answers), timeout=60) == "done"
    assert clock.sleeps == [0.25, 0.375, 0.5625]


def test_wait_for_interval_is_capped():
    clock = Clock()
    context = Context(client=None, check_mode=False, sleep=clock.sleep, clock=clock.monotonic)
    with pytest.raises(ModuleFailure):
        context.wait_for("thing", lambda: None, timeout=30)
    assert max(clock.sleeps) == 3.0
    assert clock.sleeps[-1] == 3.0


def test_wait_for_times_out_with_a_useful_message():
    clock = Clock()
    context = Context(client=None, check_mode=False, sleep=clock.sleep, clock=clock.monotonic)
    with pytest.raises(ModuleFailure) as info:
        context.wait_for("model abc to be DEPLOYED", lambda: None, timeout=10)
    assert info.value.message == ("timed out after 10s waiting for model abc to be DEPLOYED; raise wait_timeout if "
                                  "the cluster is slow")
    assert 10 <= clock.now < 13


def test_wait_for_probes_once_even_with_zero_timeout():
    clock = Clock()
    probes = []
    context = Context(client=None, check_mode=False, sleep=clock.sleep, clock=clock.monotonic)
    with pytest.raises(ModuleFailure):
        context.wait_for("x", lambda: probes.append(1), timeout=0)
    assert probes == [1]
    assert clock.sleeps == []


# -- normalisation -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,text", [
    (None, None), (True, "true"), (False, "false"), ("x", "x"), (7, "7"), (0.5, "0.5"),
    ([1, "a"], '[1,"a"]'), ({"b": 1, "a": [True]}, '{"b":1,"a":[true]}'), ("", ""),
])
def test_to_server_string(value, text):
    assert to_server_string(value) == text


@pytest.mark.parametrize("value,parsed", [
    ('{"a": 1}', {"a": 1}), ("[1, 2]", [1, 2]), ("7", 7), ("not json", "not json"), (5, 5), (None, None)])
def test_parse_json_text(value, parsed):
    assert parse_json_text(value) == parsed


@pytest.mark.parametrize("desired,current,same", [
    ("a", "a", True),
    ('{"a":1,"b":[1,2]}', '{ "b": [1, 2], "a": 1 }', True),
    ("[1,2]", "[1, 2]", True),
    ("[1,2]", "[2,1]", False),
    ("7", "7.0", False),          # scalars compare as text
    ("true", "True", False),
    (None, "x", False),
    ("x", None, False),
    (None, None, True),
])
def test_same_string_value(desired, current, same):
    assert same_string_value(desired, current) is same


@pytest.mark.parametrize("desired,current,differs", [
    ({"limit": 10}, {"limit": "10", "unit": "MINUTES"}, False),
    ({"limit": 10}, {"limit": "20"}, True),
    ({"a": {"b": True}}, {"a": {"b": "true", "c": 1}}, False),
    ({"a": None}, {}, False),
    ({"a": 1}, None, True),
    ([1, 2], ["1", "2"], False),
    ([1, 2], [1], True),
    ([1], "1", True),
    ("x", "x", False),
    ("x", "y", True),
])
def test_subset_differs(desired, current, differs):
    assert subset_differs(desired, current) is differs


def test_drop_none_is_recursive():
    assert drop_none({"a": None, "b": {"c": None, "d": 1}, "e": [{"f": None}], "g": 0}) == {
        "b": {"d": 1}, "e": [{}], "g": 0}


def test_diff_of_turns_none_into_empty_dicts():
    assert diff_of(None, {"a": 1}) == {"before": {}, "after": {"a": 1}}
    assert diff_of({"a": 1}, None) == {"before": {"a": 1}, "after": {}}


@pytest.mark.parametrize("value,secrets", [
    (None, []),
    ("abc", []),                      # too short to redact safely
    ("abcd", ["abcd"]),
    ({"api_key": "sk-123456", "nested": {"x": "tok-98765"}}, ["sk-123456", "tok-98765"]),
    (["one-secret", 12345], ["one-secret", "12345"]),
])
def test_secret_values(value, secrets):
    assert sorted(secret_values(value)) == sorted(secrets)


# -- duplicates ---------------------------------------------------------------------------------------------
def test_first_or_fail():
    assert first_or_fail([], "connector", "x", "connector_id") is None
    assert first_or_fail([{"_id": "a"}], "connector", "x", "connector_id") == {"_id": "a"}
    with pytest.raises(ModuleFailure) as info:
        first_or_fail([{"_id": "b"}, {"_id": "a"}], "connector", "emb", "connector_id")
    assert info.value.message == ("2 connectors are named 'emb' (IDs: a, b); names are not unique in ML Commons: "
                                  "set connector_id to the one to manage, or duplicates: keep_one (ml_stack_duplicates "
                                  "in the ml_stack role) to keep the one in use and delete the others")
    assert info.value.details == {"ids": ["a", "b"]}
