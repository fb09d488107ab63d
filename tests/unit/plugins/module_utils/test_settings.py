# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import Context, ModuleFailure
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.settings import (
    SettingsRequest,
    desired_value,
    effective,
    ensure_settings,
    flatten,
    is_known,
    normalize,
)

KEY = "plugins.ml_commons.trusted_connector_endpoints_regex"


def current(persistent=None, transient=None, defaults=None):
    return {"persistent": persistent or {}, "transient": transient or {}, "defaults": defaults or {}}


class NoClient:
    """A client that fails on any use: what a check before any request never touches."""

    def __getattr__(self, name):
        raise AssertionError("a request was made: %s" % name)


def test_flatten_nested_and_flat():
    assert flatten({"plugins": {"ml_commons": {"a": 1, "b": {"c": True}}}, "x.y": None}) == {
        "plugins.ml_commons.a": 1, "plugins.ml_commons.b.c": True, "x.y": None}
    assert flatten(None) == {}


def test_flatten_rejects_an_empty_dict():
    with pytest.raises(ModuleFailure, match="'a.b' has an empty dict"):
        flatten({"a": {"b": {}}})


@pytest.mark.parametrize("value,normal", [
    (True, "true"), (5, "5"), ("x", "x"), (None, None), ([1, True, "a"], ["1", "true", "a"]), ((1,), ["1"])])
def test_normalize(value, normal):
    assert normalize(value) == normal


def test_effective_value_order():
    state = current(persistent={"k": "p"}, transient={"k": "t"}, defaults={"d": "x"})
    assert effective(state, "transient", "k") == "t"
    assert effective(state, "persistent", "k") == "p"      # persistent ignores transient
    assert effective(state, "persistent", "d") == "x"
    assert effective(state, "transient", "d") == "x"
    assert effective(state, "persistent", "missing") is None
    state = current(persistent={"k": "p"})
    assert effective(state, "transient", "k") == "p"


def test_is_known():
    state = current(persistent={"a": "1"}, transient={"b": "1"}, defaults={"c": "1"})
    assert all(is_known(state, k) for k in "abc")
    assert not is_known(state, "d")


@pytest.mark.parametrize("key", ["logger.org.opensearch.ml", "logger.org.opensearch.ml.engine.MLEngine",
                                 "cluster.remote.other-cluster.seeds", "cluster.remote.dr.skip_unavailable",
                                 "cluster.remote.dr.mode", "cluster.routing.allocation.exclude._name",
                                 "cluster.routing.allocation.awareness.force.zone.values"])
def test_affix_settings_are_known_although_the_server_lists_them_only_when_set(key):
    """Observed on 3.6.0 and 2.19.1: include_defaults lists no logger.org.* and no cluster.remote.* key,
    and PUT _cluster/settings accepts them (docs/local-cluster.md)."""
    assert is_known(current(defaults={"logger.level": "INFO"}), key)


@pytest.mark.parametrize("key", ["cluster.remote.dr.nonsense", "cluster.remote.seeds", "logger",
                                 "plugins.ml_commons.made_up"])
def test_a_key_under_no_affix_stays_unknown(key):
    """The server refuses cluster.remote.<alias>.nonsense: 400 "setting [...], not recognized"."""
    assert not is_known(current(defaults={"logger.level": "INFO"}), key)


@pytest.mark.parametrize("mode,given,now,default,wanted", [
    ("append", ["x"], None, ["a"], ["a", "x"]),
    ("append", ["a"], None, ["a"], ["a"]),
    ("append", ["x", "x"], ["a"], None, ["a", "x"]),
    ("append", "x", ["a"], None, ["a", "x"]),              # a single value counts as a list of one
    ("append", ["x"], "a", None, ["a", "x"]),
    ("replace", ["x"], ["a"], None, ["x"]),
    ("remove", ["a"], ["a", "b"], None, ["b"]),
    ("remove", ["z"], None, ["a", "b"], ["a", "b"]),      # nothing removed from the default
    ("remove", ["a"], None, ["a", "b"], ["b"]),
    ("remove", "a", ["a", "b"], None, ["b"]),
    ("remove", ["a", "b"], ["a", "b"], None, []),
])
def test_desired_value_list_modes(mode, given, now, default, wanted):
    state = current(persistent={KEY: now} if now is not None else {}, defaults={KEY: default} if default else {})
    assert desired_value(state, "persistent", KEY, given, mode) == wanted


def test_desired_value_scalars_and_reset():
    state = current()
    assert desired_value(state, "persistent", "k", True, "append") == "true"
    assert desired_value(state, "persistent", "k", 3, "replace") == "3"
    assert desired_value(state, "persistent", "k", None, "remove") is None
    with pytest.raises(ModuleFailure, match="list_mode=remove needs list values"):
        desired_value(state, "persistent", "k", "x", "remove")


def test_a_settings_request_holds_only_the_keys_set_flat():
    request = SettingsRequest.from_params({"persistent": {"plugins": {"ml_commons": {"a": True}}, "x.y": None},
                                           "transient": None, "list_mode": "replace"})
    assert dict(request.persistent) == {"plugins.ml_commons.a": True, "x.y": None}
    assert dict(request.transient) == {} and request.list_mode == "replace"
    assert request.wanted("persistent") is request.persistent and request.wanted("transient") is request.transient
    with pytest.raises(TypeError):
        request.persistent["x.y"] = 1


@pytest.mark.parametrize("params, named", [
    ({"persistent": None, "transient": {}}, "nothing to manage: set persistent and/or transient"),
    ({"persistent": {"a": {"b": {}}}}, "'a.b' has an empty dict"),
    ({"persistent": {"a.b": 1, "a": {"b": 2}}}, "'a.b' is given twice"),
    ({"transient": {"a..b": 1}}, "transient has the key 'a..b', which is not a setting name"),
    ({"persistent": {"a": [{"b": 1}]}}, "persistent.a is a list of mappings or lists"),
])
def test_a_settings_request_refuses_bad_input_before_any_request(params, named):
    params = dict({"list_mode": "append"}, **params)
    with pytest.raises(ModuleFailure, match=named):
        SettingsRequest.from_params(params)
    with pytest.raises(ModuleFailure, match=named):
        ensure_settings(params, Context(NoClient(), check_mode=False))
