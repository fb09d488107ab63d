# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ml_stack role's report rows, from registered module results with a structured plan."""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_report import (
    PRIVATE_IP_KEY,
    TRUSTED_KEY,
    changed_fields,
    report,
    rows,
    table,
)

REGEX = r"^http://localhost:18080/.*$"


def entry(name, state="deployed"):
    return {"name": name, "state": state, "regex": REGEX, "connector": {"name": name + "-connector"}}


def step(operation, kind, name=None, object_id=None, fields=()):
    return {"operation": operation, "kind": kind, "name": name, "id": object_id, "fields": list(fields)}


def loop(*results):
    """A step's results as polarsearch_ml_stack returns them: each by its entry's name (given here as ``item``)."""
    return {r["item"]["name"]: {k: v for k, v in r.items() if k != "item"} for r in results}


def settings(before, after):
    return {"diff": {"before": {"persistent": before}, "after": {"persistent": after}},
            "plan": [step("update", "cluster_settings", fields=["persistent." + TRUSTED_KEY])]}


CONNECTOR_AFTER = {"name": "m-connector", "description": "d", "version": "1", "protocol": "http",
                   "parameters": {"endpoint": "localhost:18080", "model": "m"}, "actions": [{"url": "u"}],
                   "credential": "set"}
MODEL_AFTER = {"name": "m", "connector": "m-connector", "description": "d", "model_state": "DEPLOYED",
               "algorithm": "REMOTE"}


def changes(report_rows):
    return [(r["resource"], r["action"], r["fields"]) for r in report_rows]


def test_a_stack_to_create_lists_every_resource_and_field():
    stack = {"models": [entry("m")]}
    results = {
        "settings_present": settings({TRUSTED_KEY: [], PRIVATE_IP_KEY: "false"},
                                     {TRUSTED_KEY: [REGEX], PRIVATE_IP_KEY: "true"}),
        "connectors_present": loop({"item": entry("m"), "plan": [step("create", "connector", "m-connector")],
                                    "action": "create", "diff": {"before": {}, "after": CONNECTOR_AFTER}}),
        "models_present": loop({"item": entry("m"), "plan": [step("register", "model", "m"),
                                                             step("deploy", "model", "m")],
                                "diff": {"before": {}, "after": MODEL_AFTER}}),
    }
    assert changes(rows(stack, results)) == [
        ("setting", "create", ["connector.private_ip_enabled", "trusted_connector_endpoints_regex"]),
        ("connector", "create", ["actions", "credential", "description", "name", "parameters", "protocol", "version"]),
        ("model", "create", ["connector", "description", "name"]),
        ("deploy", "deploy", ["model_state"]),
    ]
    assert [(r["model"], r["name"]) for r in rows(stack, results)] == [
        ("m", REGEX), ("m", "m-connector"), ("m", "m"), ("m", "m")]


def test_a_converged_stack_has_no_change():
    stack = {"models": [entry("m")]}
    results = {
        "settings_present": {"diff": {"before": {"persistent": {TRUSTED_KEY: [REGEX]}},
                                      "after": {"persistent": {TRUSTED_KEY: [REGEX]}}}, "plan": []},
        "connectors_present": loop({"item": entry("m"), "plan": [],
                                    "diff": {"before": CONNECTOR_AFTER, "after": CONNECTOR_AFTER}}),
        "models_present": loop({"item": entry("m"), "plan": [], "diff": {"before": MODEL_AFTER, "after": MODEL_AFTER}}),
    }
    out = report(stack, results, True)
    assert changes(out["rows"]) == [("setting", "none", []), ("connector", "none", []), ("model", "none", []),
                                    ("deploy", "none", [])]
    assert out["drift"] is False
    assert out["table"][0] == "ML stack drift (check mode): 0 of 4 resources would change"


def test_a_rotated_key_under_a_deployed_model_is_a_replace_of_the_credential():
    before = dict(CONNECTOR_AFTER, connector_id="old", credential="set")
    after = dict(CONNECTOR_AFTER, connector_id="new", credential="changed")
    plan = [step("create", "connector", "m-connector", fields=["credential"]),
            step("update", "model", "m", "model-1", ["connector_id"]),
            step("delete", "connector", "m-connector", "old")]
    results = {"connectors_present": loop({"item": entry("m"), "plan": plan, "action": "replace",
                                           "diff": {"before": before, "after": after}})}
    assert changes(rows({"models": [entry("m")]}, results))[1] == ("connector", "replace", ["credential"])


def test_a_replace_left_halfway_is_finished_as_a_replace():
    # The module shows the connector it replaced as "before".
    plan = [step("update", "model", "m", "model-1", ["connector_id"]), step("delete", "connector", "m-connector", "old")]
    results = {"connectors_present": loop({"item": entry("m"), "plan": plan, "action": "replace", "diff": {
        "before": dict(CONNECTOR_AFTER, connector_id="old"), "after": CONNECTOR_AFTER}})}
    assert changes(rows({"models": [entry("m")]}, results))[1] == ("connector", "replace", [])


def test_the_deletes_of_duplicates_are_an_update_of_field_duplicates():
    plan = [step("delete", "connector", "m-connector", "dup")]
    results = {"connectors_present": loop({"item": entry("m"), "plan": plan,
                                           "diff": {"before": CONNECTOR_AFTER, "after": CONNECTOR_AFTER}}),
               "models_present": loop({"item": entry("m"), "plan": [step("undeploy", "model", "m", "m-dup"),
                                                                    step("delete", "model", "m", "m-dup")],
                                       "diff": {"before": MODEL_AFTER, "after": MODEL_AFTER}})}
    found = changes(rows({"models": [entry("m")]}, results))
    assert ("connector", "update", ["duplicates"]) in found and ("model", "update", ["duplicates"]) in found
    assert not [c for c in found if c[0] == "deploy" and c[1] != "none"], "the kept model's deploy is untouched"


def test_the_row_takes_the_action_the_connector_run_decided():
    """The connector's own run says what it did (``action``); the report does not infer it from the plan."""
    plan = [step("update", "connector", "m-connector", "c1", ["description"])]
    results = {"connectors_present": loop({"item": entry("m"), "plan": plan, "action": "update", "diff": {
        "before": dict(CONNECTOR_AFTER, description="old"), "after": CONNECTOR_AFTER}})}
    assert changes(rows({"models": [entry("m")]}, results))[1] == ("connector", "update", ["description"])


def test_a_connector_set_aside_for_the_name_that_the_run_deleted_is_an_update_of_field_duplicates():
    pending = "m-connector (unused, deleted once the server allows)"
    plan = [step("delete", "connector", pending, "c-old")]
    results = {"connectors_present": loop({"item": entry("m"), "plan": plan, "action": "none",
                                           "diff": {"before": CONNECTOR_AFTER, "after": CONNECTOR_AFTER}})}
    assert changes(rows({"models": [entry("m")]}, results))[1] == ("connector", "update", ["duplicates"])


def test_out_of_band_changes_are_named_by_field():
    connector_before = dict(CONNECTOR_AFTER, parameters={"endpoint": "localhost:18080", "model": "other"})
    model_before = dict(MODEL_AFTER, description="changed by hand", model_state="UNDEPLOYED",
                        interface={"input": "a"})
    model_after = dict(MODEL_AFTER, interface={"input": "b"})
    results = {
        "settings_present": settings({TRUSTED_KEY: []}, {TRUSTED_KEY: [REGEX]}),
        "connectors_present": loop({"item": entry("m"), "action": "update",
                                    "plan": [step("update", "connector", "m-connector", "c1", ["parameters"])],
                                    "diff": {"before": connector_before, "after": CONNECTOR_AFTER}}),
        "models_present": loop({"item": entry("m"),
                                "plan": [step("update", "model", "m", "m1", ["description", "interface"]),
                                         step("deploy", "model", "m", "m1")],
                                "diff": {"before": model_before, "after": model_after}}),
    }
    assert changes(rows({"models": [entry("m")]}, results)) == [
        ("setting", "create", ["trusted_connector_endpoints_regex"]),
        ("connector", "update", ["parameters.model"]),
        ("model", "update", ["description", "interface"]),
        ("deploy", "deploy", ["model_state"]),
    ]


def test_a_model_moved_to_a_new_group_names_the_group():
    results = {"models_present": loop({"item": entry("m"),
                                       "plan": [step("create", "model_group", "g"),
                                                step("update", "model", "m", "m1", ["model_group_id"])],
                                       "diff": {"before": dict(MODEL_AFTER, model_group_id="a"),
                                                "after": dict(MODEL_AFTER, model_group_id="b")}})}
    assert changes(rows({"models": [entry("m")]}, results))[2] == ("model", "update", ["model_group"])


def test_action_fields_are_named_when_the_action_list_keeps_its_length():
    assert changed_fields({"actions": [{"url": "a", "method": "POST"}]},
                          {"actions": [{"url": "b", "method": "POST", "headers": {}}]}) == [
        "actions.headers", "actions.url"]
    assert changed_fields({"actions": [{"url": "a"}]}, {"actions": [{"url": "a"}, {"url": "b"}]}) == ["actions"]
    assert changed_fields({"credential": "set"}, {"credential": "set"}) == []
    assert changed_fields({}, {"credential": "set"}) == ["credential"]


def teardown_results(check_mode, connector_listed=True):
    models = loop({"item": entry("m", "absent"),
                   "plan": [step("undeploy", "model", "m", "m1"), step("delete", "model", "m", "m1"),
                            step("delete", "model_group", "m", "g1")],
                   "diff": {"before": MODEL_AFTER, "after": {}}})
    listed = [{"name": "m-connector", "connector_id": "c1"}] if connector_listed else []
    out = {"models_absent": models, "connectors": {"connectors": listed},
           "settings_absent": settings({TRUSTED_KEY: [REGEX, "other"]}, {TRUSTED_KEY: ["other"]})}
    if not check_mode:
        # in check mode the connector deletes do not run (the models still exist): the step is missing
        out["connectors_absent"] = loop({"item": entry("m", "absent"),
                                         "plan": [step("delete", "connector", "m-connector", "c1")],
                                         "action": "delete", "diff": {"before": CONNECTOR_AFTER, "after": {}}})
    return out


def test_teardown_rows_are_the_same_in_check_mode_and_for_real():
    stack = {"models": [entry("m", "absent")]}
    expected = [("setting", "delete", ["trusted_connector_endpoints_regex"]), ("connector", "delete", []),
                ("model", "delete", []), ("deploy", "undeploy", ["model_state"])]
    assert changes(rows(stack, teardown_results(True))) == expected
    assert changes(rows(stack, teardown_results(False))) == expected


def test_a_teardown_of_nothing_changes_nothing():
    stack = {"models": [entry("m", "absent")]}
    results = {"models_absent": loop({"item": entry("m", "absent"), "plan": [], "diff": {"before": {}, "after": {}}}),
               "connectors_absent": {}, "connectors": {"connectors": []},
               "settings_absent": {"changed": False, "plan": []}}
    assert [r["action"] for r in rows(stack, results)] == ["none"] * 4


def test_a_kept_trusted_entry_is_not_a_change():
    stack = {"models": [entry("m", "absent")]}
    results = teardown_results(False)
    results["settings_absent"] = {"skipped": True, "changed": False}
    assert rows(stack, results)[0]["action"] == "none"


def test_missing_and_skipped_results_count_as_no_change():
    stack = {"models": [entry("m"), entry("n", "present")]}
    assert {r["action"] for r in rows(stack, {"settings_present": {"skipped": True}})} == {"none"}
    assert rows({}, {}) == []


def test_the_table_aligns_the_columns_and_says_what_changed():
    report_rows = [
        {"model": "m", "resource": "setting", "name": REGEX, "action": "create",
         "fields": ["trusted_connector_endpoints_regex"]},
        {"model": "longer-model", "resource": "deploy", "name": "longer-model", "action": "none", "fields": []},
    ]
    assert table(report_rows, False) == [
        "ML stack: 1 of 2 resources changed",
        "MODEL         RESOURCE  NAME                         ACTION  FIELDS",
        "m             setting   ^http://localhost:18080/.*$  create  trusted_connector_endpoints_regex",
        "longer-model  deploy    longer-model                 ok      in sync",
    ]
    assert table(report_rows, True)[0] == "ML stack drift (check mode): 1 of 2 resources would change"


def pipeline(name, model, state="present"):
    return {"name": name, "model": model, "state": state, "type": "search"}


def test_pipeline_rows_follow_the_model_rows():
    stack = {"models": [entry("m")], "pipelines": [pipeline("p-new", "m"), pipeline("p-stale", "m"),
                                                   pipeline("p-same", "m")]}
    stored = {"description": "d", "response_processors": []}
    results = {"pipelines_present": loop(
        {"item": stack["pipelines"][0], "plan": [step("create", "pipeline", "p-new")],
         "diff": {"before": {}, "after": stored}},
        {"item": stack["pipelines"][1],
         "plan": [step("update", "pipeline", "p-stale", fields=["response_processors[0].rerank.ml_opensearch.model_id"])],
         "diff": {"before": stored, "after": stored}},
        {"item": stack["pipelines"][2], "plan": [], "diff": {"before": stored, "after": stored}})}
    out = rows(stack, results)
    assert [r["resource"] for r in out] == ["setting", "connector", "model", "deploy", "pipeline", "pipeline", "pipeline"]
    assert out[4:] == [
        {"model": "m", "resource": "pipeline", "name": "p-new", "action": "create",
         "fields": ["description", "response_processors"]},
        {"model": "m", "resource": "pipeline", "name": "p-stale", "action": "update",
         "fields": ["response_processors[0].rerank.ml_opensearch.model_id"]},
        {"model": "m", "resource": "pipeline", "name": "p-same", "action": "none", "fields": []}]


def test_a_pipeline_teardown_is_a_delete_and_a_gone_pipeline_no_change():
    stack = {"models": [], "pipelines": [pipeline("p", "m", "absent"), pipeline("q", "m", "absent")]}
    results = {"pipelines_absent": loop(
        {"item": stack["pipelines"][0], "plan": [step("delete", "search_pipeline", "p")]},
        {"item": stack["pipelines"][1], "plan": []})}
    assert [(r["name"], r["action"]) for r in rows(stack, results)] == [("p", "delete"), ("q", "none")]


def group(name, model, state="present"):
    return {"name": name, "model": model, "state": state}


def test_declared_groups_have_rows_from_the_group_module_or_the_model_removals():
    stack = {"models": [], "groups": [group("new", "m"), group("changed", "m"), group("same", "m")]}
    results = {"groups_present": loop(
        {"item": {"name": "new"}, "plan": [step("create", "model_group", "new", fields=["access_mode", "description"])]},
        {"item": {"name": "changed"}, "plan": [step("update", "model_group", "changed", "g2", ["backend_roles"])]},
        {"item": {"name": "same"}, "plan": []})}
    assert [(r["resource"], r["name"], r["action"], r["fields"]) for r in rows(stack, results)] == [
        ("model_group", "new", "create", ["access_mode", "description"]),
        ("model_group", "changed", "update", ["backend_roles"]),
        ("model_group", "same", "none", [])]

    gone = {"models": [], "groups": [group("mine", "m", "absent"), group("theirs", "m", "absent")]}
    removals = loop({"item": {"name": "m"}, "plan": [step("delete", "model", "m", "m1"),
                                                     step("delete", "model_group", "mine", "g1")]})
    assert [(r["name"], r["action"]) for r in rows(gone, {"models_absent": removals})] == [
        ("mine", "delete"), ("theirs", "none")]
