# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""polarsearch_ml_stack: a whole stack in one call, the state read once per kind."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_ml_stack as module
from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_input import credential, resolve
from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_report import report

from fake_server import DEFAULT_STACK_ANSWERS, IndexServer, PipelineServer

ROLE = Path(__file__).resolve().parents[4] / "roles" / "ml_stack"
BUILTIN = {path.stem: yaml.safe_load(path.read_text())["ml_stack__preset"]
           for path in (ROLE / "vars" / "presets").glob("*.yml")}
DEFAULT_MODELS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())["ml_stack_models"]
API_KEY = "sk-stack-secret-1234"
KINDS = (("connectors", r"_plugins/_ml/connectors"), ("model_groups", r"_plugins/_ml/model_groups"),
         ("models", r"_plugins/_ml/models"), ("settings", r"_cluster/settings"),
         ("ingest_pipelines", r"_ingest/pipeline"), ("search_pipelines", r"_search/pipeline"))


@pytest.fixture
def server(monkeypatch, clock):
    return PipelineServer().install(monkeypatch)


def stack_of(models=None, state="deployed", pipelines=False, **options):
    base = {"state": state, "name_prefix": "", "preset": "dashscope", "endpoint": "dashscope.aliyuncs.com",
            "scheme": "https", "has_api_key": True, "presets": {}, "pipelines": pipelines}
    base.update(options)
    return resolve(models or DEFAULT_MODELS, BUILTIN, base)


def args(stack, models=None, **extra):
    out = {"stack": stack, "credentials": [credential(m, API_KEY) for m in models or DEFAULT_MODELS],
           "fingerprint_key": "fp-key-5678", "wait_timeout": 30}
    out.update(extra)
    return out


def reads_by_kind(server, since=0):
    counts = {}
    for request in server.requests[since:]:
        if request in server.writes:
            continue
        kind = next(k for k, pattern in KINDS if re.search(pattern, request.path))
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def converge(run, stack, check_mode=False, models=None, **extra):
    result = run(module, args(stack, models, **extra), check_mode=check_mode, diff=True,
                 extra_secrets=[API_KEY, "fp-key-5678"])
    assert not result.get("failed"), result.get("msg")
    return result


def rows(stack, result):
    return report(stack, result["resources"], result["check_mode"])["rows"]


def test_create_then_no_op_reads_each_kind_once(run, server):
    stack = stack_of()
    created = converge(run, stack)
    assert created["changed"] is True and created["check_mode"] is False
    assert [r["action"] for r in rows(stack, created) if r["resource"] == "model"] == ["create"] * 3
    assert len(server.models) == 3 and len(server.connectors) == 3
    # a thousand unrelated objects change nothing
    cid = server.add_connector("foreign-0")
    for index in range(1000):
        server.add_connector("foreign-%d" % index)
        server.add_model("foreign-%d" % index, cid)
    since = len(server.requests)
    again = converge(run, stack)
    assert again["changed"] is False and again["plan"] == []
    assert reads_by_kind(server, since) == {"settings": 1, "connectors": 1, "models": 1}
    assert all(r["action"] == "none" for r in rows(stack, again))


def test_drift_check_reads_each_kind_once_and_matches_the_real_run(run, server):
    stack = stack_of(pipelines=True)
    converge(run, stack)
    since = len(server.requests)
    drift = converge(run, stack, check_mode=True)
    assert drift["changed"] is False and drift["check_mode"] is True
    assert reads_by_kind(server, since) == {"settings": 1, "connectors": 1, "models": 1, "ingest_pipelines": 1,
                                            "search_pipelines": 1}
    # edit a model: check mode predicts exactly what the real run then does
    model_id = next(mid for mid, doc in server.models.items() if doc["name"] == "qwen-max")
    server.models[model_id]["description"] = "edited by hand"
    writes = len(server.writes)
    checked = converge(run, stack, check_mode=True)
    assert len(server.writes) == writes
    real = converge(run, stack)
    assert checked["plan"] == real["plan"] == [
        {"operation": "update", "kind": "model", "name": "qwen-max", "id": model_id, "fields": ["description"]}]
    assert rows(stack, checked) == rows(stack, real)
    assert [r for r in rows(stack, real) if r["action"] != "none"] == [
        {"model": "qwen-max", "resource": "model", "name": "qwen-max", "action": "update", "fields": ["description"]}]


def test_the_reads_stay_one_per_kind_whatever_the_number_of_models(run, server):
    models = [{"name": "embed-%d" % i, "kind": "embedding"} for i in range(8)]
    stack = stack_of(models)
    converge(run, stack, models=models)
    since = len(server.requests)
    converge(run, stack, models=models, check_mode=True)
    assert reads_by_kind(server, since) == {"settings": 1, "connectors": 1, "models": 1}


def test_declared_groups_are_read_once(run, server):
    models = [dict(m, model_group={"name": "team"}) for m in DEFAULT_MODELS]
    stack = stack_of(models)
    converge(run, stack, models=models)
    since = len(server.requests)
    again = converge(run, stack, models=models)
    assert again["changed"] is False
    assert reads_by_kind(server, since) == {"settings": 1, "connectors": 1, "model_groups": 1, "models": 1}


def test_teardown_in_check_mode_predicts_the_real_teardown(run, server):
    present = stack_of(pipelines=True)
    converge(run, present)
    absent = stack_of(state="absent", pipelines=True)
    writes = len(server.writes)
    checked = converge(run, absent, check_mode=True)
    assert len(server.writes) == writes
    real = converge(run, absent)
    assert server.models == {} and server.connectors == {}
    assert [r["action"] for r in rows(absent, checked)] == [r["action"] for r in rows(absent, real)]
    kinds = [s["kind"] for s in real["plan"] if s["operation"] == "delete"]
    assert kinds.index("model") > max(i for i, k in enumerate(kinds) if k.endswith("_pipeline"))
    assert kinds.index("connector") > max(i for i, k in enumerate(kinds) if k == "model")
    assert "connectors_absent" not in checked["resources"] and len(real["resources"]["connectors_absent"]) == 3
    # the check-mode plan lacks only the connector deletes a real run does after the models are gone
    real_plan = [s for s in real["plan"] if s["kind"] != "connector"]
    assert [(s["operation"], s["kind"], s["name"]) for s in checked["plan"]] == [
        (s["operation"], s["kind"], s["name"]) for s in real_plan]
    trusted = server.settings["persistent"].get("plugins.ml_commons.trusted_connector_endpoints_regex")
    assert not any("dashscope" in regex for regex in trusted or [])


def test_a_bad_resource_fails_before_any_write(run, server):
    stack = stack_of()
    stack = copy.deepcopy(stack)
    stack["present"][2]["connector"]["protocol"] = "carrier-pigeon"
    result = run(module, args(stack), extra_secrets=[API_KEY])
    assert result["failed"] is True
    assert "connector qwen-max-connector" in result["msg"] and "protocol" in result["msg"]
    assert server.writes == []


def test_no_secret_in_the_result(run, server):
    result = converge(run, stack_of())
    text = repr(result)
    assert API_KEY not in text and "fp-key-5678" not in text


def test_no_top_level_results_mapping(run, server):
    # ansible-core 2.16 (plugins/action/__init__.py, _execute_module) renames a top-level ``results``
    # that is not a list to ``ansible_module_results`` with a warning, so a role reading it breaks there.
    result = converge(run, stack_of())
    assert "results" not in result
    assert set(result["resources"]) >= {"connectors_present", "models_present"}


def test_a_teardown_returns_only_the_stacks_connectors(run, server):
    """The connectors a teardown lists first (the whole cluster's, for the trusted entries others
    still need) are returned only for the stack: 500 foreign ones made the result, and the secret
    scrub Ansible runs over it, cost a second."""
    converge(run, stack_of())
    for index in range(50):
        server.add_connector("foreign-%d" % index)
    for check_mode in (True, False):
        result = converge(run, stack_of(state="absent"), check_mode=check_mode)
        names = sorted(c["name"] for c in result["resources"]["connectors"]["connectors"])
        assert names == sorted(m["name"] + "-connector" for m in DEFAULT_MODELS), names


@pytest.mark.parametrize("check_mode", [True, False])
def test_keep_one_settles_duplicates_made_by_hand_and_the_report_shows_the_deletes(run, server, check_mode):
    stack = stack_of()
    converge(run, stack)
    connector = next(c for c in server.connectors.values() if c["name"] == "text-embedding-v4-connector")
    model_id = next(m for m, doc in server.models.items() if doc["name"] == "text-embedding-v4")
    # Copies made by hand (no credential fingerprint), younger than the stack's own, that nothing uses.
    parameters = {k: v for k, v in connector["parameters"].items() if k != "polarsearch_credential_fingerprint"}
    extra_connector = server.add_connector("text-embedding-v4-connector", parameters=parameters)
    extra_model = server.add_model("text-embedding-v4", server.models[model_id]["connector_id"])
    writes = len(server.writes)
    refused = run(module, args(stack), extra_secrets=[API_KEY, "fp-key-5678"])
    assert refused["failed"] is True and extra_connector in refused["msg"] and "keep_one" in refused["msg"]
    assert len(server.writes) == writes
    settled = converge(run, stack, check_mode=check_mode, duplicates="keep_one")
    assert settled["changed"] is True
    assert sorted(step["id"] for step in settled["plan"] if step["operation"] == "delete") == sorted(
        [extra_connector, extra_model])
    changed_rows = [(r["resource"], r["name"], r["action"], r["fields"]) for r in rows(stack, settled)
                    if r["action"] != "none"]
    assert sorted(changed_rows) == [("connector", "text-embedding-v4-connector", "update", ["duplicates"]),
                                    ("model", "text-embedding-v4", "update", ["duplicates"])]
    if check_mode:
        assert extra_connector in server.connectors and extra_model in server.models
    else:
        assert extra_connector not in server.connectors and extra_model not in server.models
        assert converge(run, stack)["changed"] is False


# -- the index and verify steps -----------------------------------------------------------------------
@pytest.fixture
def indexes(monkeypatch, clock):
    server = IndexServer().install(monkeypatch)
    server.answers_by_name.update(copy.deepcopy(DEFAULT_STACK_ANSWERS))
    return server


def index_stack(state="deployed", **options):
    return stack_of(state=state, pipelines=True, index="docs", **options)


def test_the_index_takes_its_dimension_from_a_predict_and_check_mode_before_the_deploy_leaves_it_unknown(
        run, indexes):
    stack = index_stack()
    planned = converge(run, stack, check_mode=True)
    assert indexes.writes == [] and indexes.indexes == {}
    index = planned["resources"]["index"]
    assert index["dimension_known"] is False and index["model"] == "text-embedding-v4"
    row = next(r for r in rows(stack, planned) if r["resource"] == "index")
    assert (row["model"], row["name"], row["action"]) == ("text-embedding-v4", "docs", "create")
    assert "mappings.properties.embedding.dimension (unknown until text-embedding-v4 is deployed)" in row["fields"]

    created = converge(run, stack)
    mappings = indexes.indexes["docs"]["mappings"]["properties"]
    assert mappings["embedding"]["dimension"] == 4 and mappings["embedding"]["type"] == "knn_vector"
    assert indexes.indexes["docs"]["settings"]["index.default_pipeline"] == "embedding-ingest"
    kinds = [s["kind"] for s in created["plan"]]
    assert kinds.index("index") > max(i for i, k in enumerate(kinds) if k.endswith("_pipeline"))
    assert created["resources"]["index"]["dimension_known"] is True

    # converged: the check knows the dimension (a predict on the deployed model) and finds nothing to do
    for check_mode in (True, False):
        again = converge(run, stack, check_mode=check_mode)
        assert again["changed"] is False and again["plan"] == []
        assert again["resources"]["index"]["dimension_known"] is True
        assert all(r["action"] == "none" for r in rows(stack, again))


def test_a_teardown_deletes_the_index_first_only_when_told(run, indexes):
    converge(run, index_stack())
    kept = converge(run, index_stack(state="absent", delete_index=False))
    assert "docs" in indexes.indexes and not any(s["kind"] == "index" for s in kept["plan"])
    assert [r["action"] for r in rows(index_stack(state="absent"), kept) if r["resource"] == "index"] == ["none"]

    converge(run, index_stack())
    for check_mode in (True, False):
        gone = converge(run, index_stack(state="absent", delete_index=True), check_mode=check_mode)
        kinds = [s["kind"] for s in gone["plan"]]
        assert kinds[0] == "index" and gone["plan"][0]["operation"] == "delete"
    assert indexes.indexes == {}


def test_an_index_the_collection_did_not_create_is_kept_on_teardown(run, indexes):
    converge(run, index_stack())
    del indexes.indexes["docs"]
    indexes.add_index("docs", mappings={"properties": {"text": {"type": "text"}}})
    gone = converge(run, index_stack(state="absent", delete_index=True))
    assert "docs" in indexes.indexes and not any(s["kind"] == "index" for s in gone["plan"])


def test_verify_predicts_on_each_deployed_model_and_not_in_check_mode(run, indexes):
    stack = stack_of()
    converge(run, stack)
    since = len(indexes.requests)
    checked = converge(run, stack, check_mode=True, verify=True)
    assert "verify" not in checked["resources"]
    assert not any(r.path.endswith("/_predict") for r in indexes.requests[since:])
    verified = converge(run, stack, verify=True)
    answers = verified["resources"]["verify"]
    assert answers["text-embedding-v4"]["embeddings"] == [[0.1, 0.2, 0.3, 0.4]]
    assert answers["qwen-max"]["text"] == "ready" and len(answers["qwen3-rerank"]["rerank"]) == 2
    assert verified["changed"] is False


def test_verify_tries_every_model_then_fails_naming_the_wrong_ones_and_keeps_the_results(run, indexes):
    stack = stack_of()
    indexes.answers_by_name["qwen-max"] = [{"output": [{"name": "response", "dataAsMap": {"choices": []}}],
                                            "status_code": 200}]
    del indexes.answers_by_name["qwen3-rerank"]
    result = run(module, args(stack, verify=True), extra_secrets=[API_KEY, "fp-key-5678"])
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith("verify: model qwen3-rerank: ") and "no inference_results" in result["msg"]
    assert "model qwen-max (llm) answered, but not with a non-empty text" in result["msg"]
    assert "text-embedding-v4" not in result["msg"]
    # the converge before the verify is reported: three models created
    assert [r["action"] for r in rows(stack, result) if r["resource"] == "model"] == ["create"] * 3
    assert API_KEY not in repr(result)


def test_verify_and_the_index_predict_on_the_models_just_deployed_by_id(run, indexes):
    # a search by name right after a deploy can still see the model REGISTERED (2.19.1): the predicts that
    # follow the converge in the same run look the models up by the ID the converge returned
    indexes.deploy_refresh_lag = 50
    stack = index_stack()
    result = converge(run, stack, verify=True)
    assert set(result["resources"]["verify"]) == {
        "text-embedding-v4", "qwen3-rerank", "qwen-max"}
    assert indexes.indexes["docs"]["mappings"]["properties"]["embedding"]["dimension"] == 4


@pytest.mark.parametrize("check_mode", [True, False])
def test_a_teardown_under_a_model_the_caller_cannot_see_changes_nothing_and_names_it(run, server, check_mode):
    """Another team's model on one of the stack's connectors, in a model group the caller may not access
    (model access control): the teardown would delete the stack's models and then be refused the connector,
    so it deletes nothing and names the model."""
    converge(run, stack_of())
    connector_id = next(cid for cid, c in server.connectors.items() if c["name"] == DEFAULT_MODELS[0]["name"]
                        + "-connector")
    server.security_user = {"name": "ml-user-a", "backend_roles": ["team_a"], "roles": ["ml_full_access"]}
    theirs = server.add_model("their-model", connector_id, state="DEPLOYED")
    server.hidden_models.add(theirs)
    before = (set(server.connectors), set(server.models))
    server.requests.clear()
    result = run(module, args(stack_of(state="absent")), check_mode=check_mode, extra_secrets=[API_KEY, "fp-key-5678"])
    assert result["failed"] is True and result["changed"] is False, result
    assert theirs in result["msg"] and "cannot see" in result["msg"] and "Nothing was changed" in result["msg"]
    assert (set(server.connectors), set(server.models)) == before
    assert [(r.method, r.path) for r in server.writes] == [("DELETE", "_plugins/_ml/connectors/%s" % connector_id)]


@pytest.mark.parametrize("who, told, removed", [("ml-user-a", False, False), ("ml-user-a", True, True),
                                                ("admin", False, True)])
def test_a_teardown_removes_trusted_entries_only_when_it_sees_every_connector_or_is_told(
        run, server, who, told, removed):
    """With connector access control a non-admin user's search misses other users' connectors, which may need an
    entry: its teardown keeps the entries (with a warning) unless remove_unseen_trusted_endpoints is set."""
    converge(run, stack_of())
    server.settings["persistent"]["plugins.ml_commons.connector_access_control_enabled"] = "true"
    server.security_user = {"name": who, "backend_roles": ["team_a"],
                            "roles": ["all_access"] if who == "admin" else ["ml_full_access"]}
    result = converge(run, stack_of(state="absent"), remove_unseen_trusted_endpoints=told)
    assert server.connectors == {}
    trusted = server.settings["persistent"].get("plugins.ml_commons.trusted_connector_endpoints_regex") or []
    assert any("dashscope" in regex for regex in trusted) is not removed, trusted
    warned = [w for w in result.get("warnings") or [] if "remove_unseen_trusted_endpoints" in w]
    assert bool(warned) is not removed, result.get("warnings")


@pytest.mark.parametrize("check_mode", [True, False])
def test_an_index_on_a_model_the_stack_does_not_deploy_fails_alike_in_check_mode_and_real_run(run, indexes,
                                                                                              check_mode):
    """The index needs the vector dimension, which only a predict on a deployed model gives. A stack that
    registers its embedding model without deploying it fails in both modes, before any write."""
    stack = index_stack(state="present")
    result = run(module, args(stack), check_mode=check_mode, extra_secrets=[API_KEY, "fp-key-5678"])
    assert result["failed"] is True
    assert "index docs needs the vector dimension of model text-embedding-v4" in result["msg"]
    assert "is not deployed" in result["msg"]
    assert indexes.writes == [] and indexes.indexes == {}


def test_an_index_on_a_model_deployed_by_hand_works_in_a_present_stack(run, indexes):
    converge(run, index_stack())
    for check_mode in (True, False):
        again = converge(run, index_stack(state="present"), check_mode=check_mode)
        assert again["changed"] is False, again["plan"]
        assert again["resources"]["index"]["dimension_known"] is True


def test_a_connector_set_aside_for_a_look_alike_goes_in_the_next_run_once_the_server_allows(run, server):
    """A connector a run renamed to the pending-delete name (the server counted a model of another connector as its
    user, their IDs sharing an analyzed term) is deleted by a later stack run once nothing blocks it, and check mode
    shows that delete first; the run reads the pending names with the connectors, in the same request."""
    stack = stack_of()
    converge(run, stack)
    name = stack["present"][0]["connector"]["name"]
    pending = server.add_connector("%s (unused, deleted once the server allows)" % name, parameters={"x": "1"})
    other = server.add_connector("lookalike-holder", connector_id=pending + "-x")
    blocker = server.add_model("lookalike-model", other, state="DEPLOYED")
    since = len(server.requests)
    kept = converge(run, stack)
    assert kept["changed"] is False and pending in server.connectors
    assert reads_by_kind(server, since)["connectors"] == 1
    server.models.pop(blocker)
    checked = converge(run, stack, check_mode=True)
    assert checked["changed"] is True and pending in server.connectors
    real = converge(run, stack)
    assert checked["plan"] == real["plan"] == [{"operation": "delete", "kind": "connector", "name":
                                                "%s (unused, deleted once the server allows)" % name,
                                                "id": pending, "fields": []}]
    assert pending not in server.connectors
    assert [(r["resource"], r["action"], r["fields"]) for r in rows(stack, real) if r["action"] != "none"] == [
        ("connector", "update", ["duplicates"])]
