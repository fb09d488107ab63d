# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_cluster_settings as module

from fake_server import DEFAULT_TRUSTED, TRUSTED_KEY
from plans import plan_text

PRIVATE_IP = "plugins.ml_commons.connector.private_ip_enabled"
MAX_MODELS = "plugins.ml_commons.max_model_on_node"
ML_NODE = "plugins.ml_commons.only_run_on_ml_node"
DASHSCOPE = r"^https://dashscope\.aliyuncs\.com/.*$"
OPENAI = r"^https://api\.openai\.com/.*$"
SETTINGS_GET = ("GET", "_cluster/settings")


def puts(server):
    return [r.body for r in server.calls("PUT", "^_cluster/settings$")]


# -- reading ----------------------------------------------------------------------------------
def test_reads_once_with_flat_settings_and_defaults(run, server):
    result = run(module, {"persistent": {PRIVATE_IP: False}})
    assert result["changed"] is False
    assert [(r.method, r.path, r.params) for r in server.requests] == [
        ("GET", "_cluster/settings", {"flat_settings": "true", "include_defaults": "true"})]
    assert result["settings"] == {"persistent": {PRIVATE_IP: "false"}}


# -- list modes ---------------------------------------------------------------------------------
def test_append_to_unset_list_starts_from_the_defaults(run, server):
    result = run(module, {"persistent": {TRUSTED_KEY: [DASHSCOPE]}})
    expected = DEFAULT_TRUSTED + [DASHSCOPE]
    assert result["changed"] is True
    assert result["failed"] is False
    assert puts(server) == [{"persistent": {TRUSTED_KEY: expected}}]
    assert plan_text(result) == ["update cluster settings: persistent.%s" % TRUSTED_KEY]
    assert result["settings"] == {"persistent": {TRUSTED_KEY: expected}}
    assert result["diff"] == {"before": {"persistent": {TRUSTED_KEY: DEFAULT_TRUSTED}},
                              "after": {"persistent": {TRUSTED_KEY: expected}}}
    assert server.settings["persistent"][TRUSTED_KEY] == expected


def test_append_is_idempotent(run, server):
    run(module, {"persistent": {TRUSTED_KEY: [DASHSCOPE]}})
    before = len(server.requests)
    again = run(module, {"persistent": {TRUSTED_KEY: [DASHSCOPE]}})
    assert again["changed"] is False
    assert plan_text(again) == []
    assert [(r.method, r.path) for r in server.requests[before:]] == [SETTINGS_GET]
    assert again["diff"]["before"] == again["diff"]["after"]


def test_append_of_an_entry_in_the_defaults_is_no_change(run, server):
    result = run(module, {"persistent": {TRUSTED_KEY: [OPENAI]}})
    assert result["changed"] is False
    assert server.writes == []
    assert result["settings"] == {"persistent": {TRUSTED_KEY: DEFAULT_TRUSTED}}


def test_append_keeps_other_set_entries_in_order(run, server):
    server.set_setting(TRUSTED_KEY, ["^a$", "^b$"])
    result = run(module, {"persistent": {TRUSTED_KEY: ["^b$", "^c$", "^a$", "^d$"]}})
    assert puts(server) == [{"persistent": {TRUSTED_KEY: ["^a$", "^b$", "^c$", "^d$"]}}]
    assert result["diff"]["before"] == {"persistent": {TRUSTED_KEY: ["^a$", "^b$"]}}


def test_replace_sets_the_exact_list(run, server):
    server.set_setting(TRUSTED_KEY, DEFAULT_TRUSTED + [DASHSCOPE])
    result = run(module, {"list_mode": "replace", "persistent": {TRUSTED_KEY: [DASHSCOPE, OPENAI]}})
    assert result["changed"] is True
    assert puts(server) == [{"persistent": {TRUSTED_KEY: [DASHSCOPE, OPENAI]}}]
    assert server.settings["persistent"][TRUSTED_KEY] == [DASHSCOPE, OPENAI]
    assert result["diff"]["after"] == {"persistent": {TRUSTED_KEY: [DASHSCOPE, OPENAI]}}


def test_replace_with_the_same_list_in_another_order_is_a_change(run, server):
    server.set_setting(TRUSTED_KEY, [OPENAI, DASHSCOPE])
    result = run(module, {"list_mode": "replace", "persistent": {TRUSTED_KEY: [DASHSCOPE, OPENAI]}})
    assert result["changed"] is True
    assert puts(server) == [{"persistent": {TRUSTED_KEY: [DASHSCOPE, OPENAI]}}]


def test_replace_with_the_same_list_is_no_change(run, server):
    server.set_setting(TRUSTED_KEY, [DASHSCOPE, OPENAI])
    result = run(module, {"list_mode": "replace", "persistent": {TRUSTED_KEY: [DASHSCOPE, OPENAI]}})
    assert result["changed"] is False
    assert server.writes == []


# A real server leaves a key out of "defaults" while it is set (persistent or transient);
# the fake does the same (AbstractScopedSettings.diff only adds keys missing from the source).
def test_defaults_omit_a_set_key(server):
    server.set_setting(TRUSTED_KEY, [DASHSCOPE])
    answer = server.get_settings({"flat_settings": "true", "include_defaults": "true"})
    assert TRUSTED_KEY not in answer["defaults"]
    assert answer["persistent"][TRUSTED_KEY] == [DASHSCOPE]


def test_remove_back_to_the_default_entries_writes_the_rest_explicitly(run, server):
    server.set_setting(TRUSTED_KEY, DEFAULT_TRUSTED + [DASHSCOPE])
    result = run(module, {"list_mode": "remove", "persistent": {TRUSTED_KEY: [DASHSCOPE]}})
    assert result["changed"] is True
    assert puts(server) == [{"persistent": {TRUSTED_KEY: DEFAULT_TRUSTED}}]
    assert server.settings["persistent"][TRUSTED_KEY] == DEFAULT_TRUSTED
    assert result["diff"] == {"before": {"persistent": {TRUSTED_KEY: DEFAULT_TRUSTED + [DASHSCOPE]}},
                              "after": {"persistent": {TRUSTED_KEY: DEFAULT_TRUSTED}}}
    assert server.get_settings({"flat_settings": "true", "include_defaults": "true"})[
        "persistent"].get(TRUSTED_KEY, DEFAULT_TRUSTED) == DEFAULT_TRUSTED
    again = run(module, {"list_mode": "remove", "persistent": {TRUSTED_KEY: [DASHSCOPE]}})
    assert again["changed"] is False


def test_remove_keeps_the_other_entries(run, server):
    server.set_setting(TRUSTED_KEY, [DASHSCOPE, OPENAI, "^x$"])
    result = run(module, {"list_mode": "remove", "persistent": {TRUSTED_KEY: [OPENAI, "^not-there$"]}})
    assert puts(server) == [{"persistent": {TRUSTED_KEY: [DASHSCOPE, "^x$"]}}]
    assert result["settings"] == {"persistent": {TRUSTED_KEY: [DASHSCOPE, "^x$"]}}


def test_remove_of_a_default_entry_from_an_unset_list_writes_the_rest(run, server):
    result = run(module, {"list_mode": "remove", "persistent": {TRUSTED_KEY: [OPENAI]}})
    expected = [p for p in DEFAULT_TRUSTED if p != OPENAI]
    assert puts(server) == [{"persistent": {TRUSTED_KEY: expected}}]
    assert result["changed"] is True


def test_remove_of_an_absent_entry_is_no_change(run, server):
    result = run(module, {"list_mode": "remove", "persistent": {TRUSTED_KEY: [DASHSCOPE]}})
    assert result["changed"] is False
    assert server.writes == []


def test_remove_needs_list_values(run, server):
    result = run(module, {"list_mode": "remove", "persistent": {PRIVATE_IP: True}})
    assert result["failed"] is True
    assert PRIVATE_IP in result["msg"]
    assert "list" in result["msg"]
    assert server.writes == []


# -- keys and values ---------------------------------------------------------------------------
def test_nested_and_flat_keys_write_the_same_flat_body(run, fresh):
    server = fresh()
    run_nested = run(module, {"persistent": {"plugins": {"ml_commons": {
        "connector": {"private_ip_enabled": True}, "max_model_on_node": 5}}}})
    nested = puts(server)
    server = fresh()
    run_flat = run(module, {"persistent": {PRIVATE_IP: True, MAX_MODELS: 5}})
    assert nested == puts(server) == [{"persistent": {PRIVATE_IP: "true", MAX_MODELS: "5"}}]
    assert run_nested["diff"] == run_flat["diff"]
    assert plan_text(run_flat) == ["update cluster settings: persistent.%s, persistent.%s" % (PRIVATE_IP, MAX_MODELS)]


@pytest.mark.parametrize("stored,given", [
    ("true", True), ("true", "true"), ("false", False), ("5", 5), ("5", "5"), ("0.8", 0.8)])
def test_values_compare_as_the_server_returns_them(run, server, stored, given):
    key = "plugins.ml_commons.native_memory_threshold" if stored == "0.8" else (
        MAX_MODELS if stored == "5" else PRIVATE_IP)
    server.settings["persistent"][key] = stored
    result = run(module, {"persistent": {key: given}})
    assert result["changed"] is False
    assert server.writes == []
    assert result["settings"] == {"persistent": {key: stored}}


def test_value_equal_to_the_default_is_no_change(run, server):
    result = run(module, {"persistent": {ML_NODE: True, MAX_MODELS: 10}})
    assert result["changed"] is False
    assert server.writes == []
    assert result["diff"]["before"] == {"persistent": {ML_NODE: "true", MAX_MODELS: "10"}}


def test_bool_and_number_are_sent_as_strings(run, server):
    result = run(module, {"persistent": {PRIVATE_IP: True, MAX_MODELS: 4}})
    assert puts(server) == [{"persistent": {PRIVATE_IP: "true", MAX_MODELS: "4"}}]
    assert result["diff"] == {
        "before": {"persistent": {PRIVATE_IP: "false", MAX_MODELS: "10"}},
        "after": {"persistent": {PRIVATE_IP: "true", MAX_MODELS: "4"}}}
    assert server.settings["persistent"] == {PRIVATE_IP: "true", MAX_MODELS: "4"}


def test_list_items_are_normalized_to_strings(run, server):
    key = "plugins.ml_commons.task_dispatcher.eligible_node_role.remote_model"
    result = run(module, {"list_mode": "replace", "persistent": {key: ["data", "ml", 7]}})
    assert puts(server) == [{"persistent": {key: ["data", "ml", "7"]}}]
    assert result["changed"] is True


def test_only_the_named_keys_are_written(run, server):
    server.set_setting(MAX_MODELS, "3")
    server.set_setting(TRUSTED_KEY, [DASHSCOPE])
    run(module, {"persistent": {PRIVATE_IP: True}})
    assert puts(server) == [{"persistent": {PRIVATE_IP: "true"}}]
    assert server.settings["persistent"][MAX_MODELS] == "3"
    assert server.settings["persistent"][TRUSTED_KEY] == [DASHSCOPE]


# -- reset with null -----------------------------------------------------------------------------
def test_null_resets_a_set_key(run, server):
    server.set_setting(PRIVATE_IP, True)
    result = run(module, {"persistent": {PRIVATE_IP: None}})
    assert result["changed"] is True
    assert puts(server) == [{"persistent": {PRIVATE_IP: None}}]
    assert PRIVATE_IP not in server.settings["persistent"]
    assert result["diff"]["before"] == {"persistent": {PRIVATE_IP: "true"}}
    assert plan_text(result) == ["update cluster settings: persistent.%s" % PRIVATE_IP]


def test_null_reset_of_a_set_key_reports_null_as_the_value_after(run, server):
    # the server reports defaults only for keys that are not set, so the default is unknown here
    server.set_setting(PRIVATE_IP, True)
    result = run(module, {"persistent": {PRIVATE_IP: None}})
    assert result["diff"]["after"] == {"persistent": {PRIVATE_IP: None}}
    assert result["settings"] == {"persistent": {PRIVATE_IP: None}}


def test_remove_with_a_single_value_for_a_list_key(run, server):
    server.set_setting(TRUSTED_KEY, [DASHSCOPE, OPENAI])
    result = run(module, {"list_mode": "remove", "persistent": {TRUSTED_KEY: OPENAI}})
    assert puts(server) == [{"persistent": {TRUSTED_KEY: [DASHSCOPE]}}]
    assert result["changed"] is True


def test_null_on_an_unset_key_is_no_change(run, server):
    result = run(module, {"persistent": {PRIVATE_IP: None}})
    assert result["changed"] is False
    assert server.writes == []
    assert result["diff"] == {"before": {"persistent": {PRIVATE_IP: "false"}},
                              "after": {"persistent": {PRIVATE_IP: "false"}}}


def test_null_resets_only_the_given_scope(run, server):
    server.set_setting(PRIVATE_IP, True, scope="persistent")
    server.set_setting(PRIVATE_IP, False, scope="transient")
    result = run(module, {"transient": {PRIVATE_IP: None}})
    assert puts(server) == [{"transient": {PRIVATE_IP: None}}]
    # the transient value goes, the persistent one becomes effective
    assert result["diff"] == {"before": {"transient": {PRIVATE_IP: "false"}},
                              "after": {"transient": {PRIVATE_IP: "true"}}}
    assert server.settings["persistent"][PRIVATE_IP] == "true"


# -- errors --------------------------------------------------------------------------------------
def test_unknown_key_fails_before_any_write(run, server):
    result = run(module, {"persistent": {PRIVATE_IP: True, "plugins.ml_commons.no_such_setting": 1}})
    assert result["failed"] is True
    assert "plugins.ml_commons.no_such_setting" in result["msg"]
    assert result["unknown"] == ["plugins.ml_commons.no_such_setting"]
    assert result["changed"] is False
    assert plan_text(result) == []
    assert server.writes == []


def test_unknown_key_fails_in_check_mode_too(run, server):
    result = run(module, {"transient": {"plugins": {"ml_commons": {"typo_enabled": True}}}}, check_mode=True)
    assert result["failed"] is True
    assert "plugins.ml_commons.typo_enabled" in result["msg"]
    assert server.writes == []


def test_server_rejection_names_method_path_status_and_reason(run, server):
    server.fail_next("PUT", "^_cluster/settings$", 400,
                     reason="persistent setting [plugins.ml_commons.connector.private_ip_enabled], not recognized")
    result = run(module, {"persistent": {PRIVATE_IP: True}})
    assert result["failed"] is True
    assert result["status"] == 400
    assert result["msg"] == ("PUT _cluster/settings failed: HTTP 400: persistent setting "
                             "[plugins.ml_commons.connector.private_ip_enabled], not recognized")
    assert server.settings["persistent"] == {}


def test_bad_value_rejected_by_the_server(run, server):
    result = run(module, {"persistent": {PRIVATE_IP: "yes"}})
    assert result["failed"] is True
    assert "HTTP 400" in result["msg"]
    assert "Failed to parse value [yes]" in result["msg"]


def test_key_given_nested_and_flat_fails(run, server):
    result = run(module, {"persistent": {"plugins": {"ml_commons": {"connector": {"private_ip_enabled": True}}},
                                         PRIVATE_IP: False}})
    assert result["failed"] is True
    assert PRIVATE_IP in result["msg"]
    assert "twice" in result["msg"]
    assert server.writes == []


def test_key_given_flat_then_nested_fails(run, server):
    result = run(module, {"persistent": {PRIVATE_IP: False,
                                         "plugins": {"ml_commons": {"connector": {"private_ip_enabled": True}}}}})
    assert result["failed"] is True
    assert server.writes == []


def test_empty_dict_value_fails(run, server):
    result = run(module, {"persistent": {"plugins": {"ml_commons": {}}}})
    assert result["failed"] is True
    assert "plugins.ml_commons" in result["msg"]
    assert server.writes == []


def test_nothing_to_manage_fails(run, server):
    result = run(module, {"persistent": {}})
    assert result["failed"] is True
    assert "persistent" in result["msg"]
    assert server.writes == []


def test_persistent_or_transient_is_required(run, server):
    result = run(module, {"list_mode": "append"})
    assert result["failed"] is True
    assert "persistent" in result["msg"] and "transient" in result["msg"]
    assert server.requests == []


# -- transient scope -------------------------------------------------------------------------------
def test_transient_scope_is_written_as_transient(run, server):
    result = run(module, {"transient": {PRIVATE_IP: True}})
    assert puts(server) == [{"transient": {PRIVATE_IP: "true"}}]
    assert plan_text(result) == ["update cluster settings: transient.%s" % PRIVATE_IP]
    assert server.settings == {"persistent": {}, "transient": {PRIVATE_IP: "true"}}
    assert result["settings"] == {"transient": {PRIVATE_IP: "true"}}


def test_transient_sees_the_persistent_value(run, server):
    server.set_setting(PRIVATE_IP, True, scope="persistent")
    result = run(module, {"transient": {PRIVATE_IP: True}})
    assert result["changed"] is False
    assert server.writes == []


def test_transient_append_starts_from_the_persistent_list(run, server):
    server.set_setting(TRUSTED_KEY, [OPENAI], scope="persistent")
    run(module, {"transient": {TRUSTED_KEY: [DASHSCOPE]}})
    assert puts(server) == [{"transient": {TRUSTED_KEY: [OPENAI, DASHSCOPE]}}]


def test_both_scopes_in_one_write(run, server):
    result = run(module, {"persistent": {MAX_MODELS: 2}, "transient": {PRIVATE_IP: True}})
    assert puts(server) == [{"persistent": {MAX_MODELS: "2"}, "transient": {PRIVATE_IP: "true"}}]
    assert plan_text(result) == ["update cluster settings: persistent.%s, transient.%s" % (MAX_MODELS, PRIVATE_IP)]
    assert result["diff"]["after"] == {"persistent": {MAX_MODELS: "2"}, "transient": {PRIVATE_IP: "true"}}


# -- check mode ------------------------------------------------------------------------------------
def _with_dashscope(server):
    server.set_setting(TRUSTED_KEY, DEFAULT_TRUSTED + [DASHSCOPE])
    server.set_setting(PRIVATE_IP, True)


@pytest.mark.parametrize("args", [
    {"persistent": {TRUSTED_KEY: ["^https://new\\.example\\.com/.*$"]}},
    {"list_mode": "replace", "persistent": {TRUSTED_KEY: [DASHSCOPE]}},
    {"list_mode": "remove", "persistent": {TRUSTED_KEY: [DASHSCOPE]}},
    {"persistent": {PRIVATE_IP: None, MAX_MODELS: 3}},
    {"transient": {PRIVATE_IP: False}},
    {"persistent": {PRIVATE_IP: True}},
], ids=["append", "replace", "remove-to-default", "reset-and-set", "transient", "no-change"])
def test_check_mode_reports_what_a_real_run_does(check_matches_real, args):
    checked, real, dummy, real_server = check_matches_real(module, args, setup=_with_dashscope)
    assert checked["settings"] == real["settings"]
    assert bool(real_server.writes) == real["changed"]


def test_append_of_a_single_string_to_a_list_key_keeps_the_other_entries(run, server):
    run(module, {"persistent": {TRUSTED_KEY: DASHSCOPE}})
    assert puts(server) == [{"persistent": {TRUSTED_KEY: DEFAULT_TRUSTED + [DASHSCOPE]}}]
    server.requests.clear()
    assert run(module, {"persistent": {TRUSTED_KEY: DASHSCOPE}})["changed"] is False
    assert server.writes == []


def test_rejected_write_is_not_reported_as_a_change(run, server):
    server.fail_next("PUT", "^_cluster/settings$", 400, reason="persistent setting [x], not dynamically updateable")
    result = run(module, {"persistent": {PRIVATE_IP: True}})
    assert result["failed"] is True
    assert result["changed"] is False
    assert plan_text(result) == ["update cluster settings: persistent.%s" % PRIVATE_IP]


def test_an_affix_setting_the_server_does_not_list_is_written(run, server):
    """logger.<package> and cluster.remote.<alias>.seeds are absent from include_defaults until set."""
    result = run(module, {"transient": {"logger.org.opensearch.ml": "debug",
                                        "cluster.remote.dr.seeds": ["127.0.0.1:9300"]}})
    assert result["failed"] is False, result["msg"]
    assert result["changed"] is True
    assert server.settings["transient"] == {"logger.org.opensearch.ml": "debug",
                                            "cluster.remote.dr.seeds": ["127.0.0.1:9300"]}
    again = run(module, {"transient": {"logger.org.opensearch.ml": "debug",
                                       "cluster.remote.dr.seeds": ["127.0.0.1:9300"]}})
    assert again["changed"] is False


def test_an_unknown_key_under_an_affix_fails_before_any_write(run, server):
    result = run(module, {"transient": {"cluster.remote.dr.nonsense": "x"}})
    assert result["failed"] is True and "cluster.remote.dr.nonsense" in result["msg"]
    assert server.writes == []
