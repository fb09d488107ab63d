# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""polarsearch_ml_stack_export, run through main() against the in-memory cluster of fake_server; the exported
tasks are then run, module by module, against the same cluster."""

from __future__ import annotations

import copy
import importlib
import json

import pytest
import yaml

from ansible_collections.polardb.polarsearch.plugins.module_utils.stack import export
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_ml_stack_export

from conftest import REPO_ROOT
from fake_server import ML, TRUSTED_KEY, IndexServer, default_action

SECRET = "sk-very-secret-0001"
PRESETS = str(REPO_ROOT / "roles" / "ml_stack" / "vars" / "presets")
LOCAL = "^http://127\\.0\\.0\\.1:18080/.*$"
OTHER = "^https://elsewhere\\.example\\.com/.*$"


@pytest.fixture
def server(monkeypatch, clock):
    return IndexServer().install(monkeypatch)


def guide_action(path="/compatible-mode/v1/embeddings"):
    return dict(default_action("http://${parameters.endpoint}" + path))


def guide_stack(server, prefix="shop "):
    """What the PolarSearch guide makes by hand: connectors without a fingerprint, models in the groups the
    server made for them, one deployed, an ingest and a search pipeline using the embedding model by ID."""
    server.set_setting(TRUSTED_KEY, [LOCAL, OTHER])
    server.set_setting("plugins.ml_commons.connector.private_ip_enabled", "true")
    params = {"endpoint": "127.0.0.1:18080", "model": "text-embedding-v4"}
    embed_c = server.add_connector(prefix + "text-embedding connector", parameters=params,
                                   credential={"api_key": SECRET}, actions=[guide_action()], connector_id="cEmbed01",
                                   description="the guide's embedding connector")
    chat_c = server.add_connector(prefix + "llm connector", parameters=dict(params, model="qwen-max"),
                                  credential={"api_key": SECRET}, connector_id="cChat01",
                                  actions=[dict(guide_action("/compatible-mode/v1/chat/completions"),
                                                request_body='{ "model": "${parameters.model}", "messages": '
                                                             '${parameters.messages} }',
                                                pre_process_function=None, post_process_function=None)])
    for action in server.connectors[chat_c]["actions"]:
        for key in [k for k, v in action.items() if v is None]:
            del action[key]
    embed = server.add_model(prefix + "embedding model", embed_c, state="DEPLOYED", model_id="m-embed",
                             description="embeds")
    server.add_model(prefix + "llm model", chat_c, model_id="m-chat", description="answers")
    server.ingest_pipelines[prefix.strip() + "-ingest"] = {"processors": [
        {"text_embedding": {"model_id": embed, "field_map": {"text": "embedding"}}}]}
    server.search_pipelines[prefix.strip() + "-search"] = {"request_processors": [
        {"neural_query_enricher": {"default_model_id": embed, "neural_field_default_id": {"embedding": embed}}}]}
    return server


def run_export(run, **args):
    result = run(polarsearch_ml_stack_export, args, extra_secrets=[SECRET])
    assert not result["failed"], result
    assert result["changed"] is False
    return result


def tasks_of(result, module):
    return [t["polardb.polarsearch." + module] for t in result["tasks"] if "polardb.polarsearch." + module in t]


def module_order(result):
    return [next(k for k in t if k != "name").rsplit(".", 1)[1] for t in result["tasks"]]


def filled(options, value=SECRET):
    """Task options with each credential variable replaced by ``value``, the other templates resolved."""
    options = copy.deepcopy(options)
    if "credential" in options:
        options["credential"] = {k: value for k in options["credential"]}
    if "credential_update" in options:
        options["credential_update"] = "on_change"
    return options


def apply_tasks(run, result, check_mode):
    """Run every exported task against the server; {task name: module result}."""
    answers = {}
    for item in result["tasks"]:
        (name, options), = [(k, v) for k, v in item.items() if k != "name"]
        module = importlib.import_module("ansible_collections.polardb.polarsearch.plugins.modules." + name.rsplit(".", 1)[1])
        answers[item["name"]] = run(module, filled(options), check_mode=check_mode, diff=True)
        assert not answers[item["name"]]["failed"], (item["name"], answers[item["name"]])
    return answers


# -- the export ----------------------------------------------------------------------------------------------
def test_the_guide_stack_becomes_tasks_in_dependency_order(run, read_only):
    guide_stack(read_only)
    result = run_export(run, name_prefix="shop", role_presets_dir=PRESETS)
    assert module_order(result) == ["polarsearch_cluster_settings", "polarsearch_connector", "polarsearch_connector",
                                    "polarsearch_model_group", "polarsearch_model_group", "polarsearch_model",
                                    "polarsearch_model", "polarsearch_pipeline", "polarsearch_pipeline"]
    settings, = tasks_of(result, "polarsearch_cluster_settings")
    # with a selection, only the trusted entries a selected connector's URLs match
    assert settings == {"persistent": {TRUSTED_KEY: [LOCAL], "plugins.ml_commons.connector.private_ip_enabled": True}}
    chat, embed = tasks_of(result, "polarsearch_connector")
    assert embed["name"] == "shop text-embedding connector"   # names are kept exactly
    assert embed["credential"] == {"api_key": "{{ shop_text_embedding_connector_api_key }}"}
    assert embed["credential_update"] == "{{ polarsearch_credential_update | default('on_change') }}"
    assert "credential_update" not in chat, "no deployed model uses it: its credential is written in place"
    assert embed["parameters"] == {"endpoint": "127.0.0.1:18080", "model": "text-embedding-v4"}
    assert "connector_id" not in embed and "models" not in embed
    embed_model = tasks_of(result, "polarsearch_model")[0]
    assert embed_model == {"name": "shop embedding model", "description": "embeds",
                           "connector": "shop text-embedding connector", "model_group": "shop embedding model",
                           "state": "deployed"}
    assert tasks_of(result, "polarsearch_model")[1]["state"] == "present"
    ingest, search = tasks_of(result, "polarsearch_pipeline")
    assert ingest["definition"]["processors"][0]["text_embedding"]["model_id"] == {"model": "shop embedding model"}
    enricher = search["definition"]["request_processors"][0]["neural_query_enricher"]
    assert enricher == {"default_model_id": {"model": "shop embedding model"},
                        "neural_field_default_id": {"embedding": {"model": "shop embedding model"}}}
    variables = [c["variable"] for c in result["credentials"]]
    assert variables == ["shop_llm_connector_api_key", "shop_text_embedding_connector_api_key"]
    # each task takes only options of its module
    for item in result["tasks"]:
        (name, options), = [(k, v) for k, v in item.items() if k != "name"]
        module = importlib.import_module("ansible_collections.polardb.polarsearch.plugins.modules." + name.rsplit(".", 1)[1])
        spec = yaml.safe_load(module.DOCUMENTATION)["options"]
        assert set(options) <= set(spec), (name, set(options) - set(spec))


def test_the_cluster_is_read_once_per_kind(run, read_only):
    guide_stack(read_only)
    run_export(run, include_indexes=True)
    paths = [r.path for r in read_only.requests]
    for kind in ("connectors", "model_groups", "models"):
        assert paths.count("%s/%s/_search" % (ML, kind)) == 1, paths
    for path in ("_cluster/settings", "_ingest/pipeline", "_search/pipeline"):
        assert paths.count(path) == 1, paths
    assert len(paths) == 7 or len(paths) == 8, paths   # the index settings, and the indexes when any is found


def test_the_exported_tasks_change_nothing_but_credentials_without_fingerprint(run, server):
    guide_stack(server)
    result = run_export(run, name_prefix="shop")
    before = copy.deepcopy((server.connectors, server.models))
    checked = apply_tasks(run, result, check_mode=True)
    assert server.writes == []
    changed = sorted(name for name, answer in checked.items() if answer["changed"])
    assert changed == ["Connector shop llm connector"]
    assert checked["Connector shop llm connector"]["plan"] == [
        {"operation": "update", "kind": "connector", "name": "shop llm connector", "id": "cChat01",
         "fields": ["credential"]}]
    assert checked["Connector shop text-embedding connector"]["credential_compared"] is False
    real = apply_tasks(run, result, check_mode=False)
    assert sorted(name for name, answer in real.items() if answer["changed"]) == changed
    assert [a["plan"] for a in real.values()] == [a["plan"] for a in checked.values()]
    again = apply_tasks(run, result, check_mode=True)
    assert [name for name, answer in again.items() if answer["changed"]] == []
    assert sorted(server.connectors) == sorted(before[0]) and sorted(server.models) == sorted(before[1])
    assert server.models["m-embed"]["connector_id"] == "cEmbed01"


def test_an_empty_selection_exports_nothing_and_says_so(run, read_only):
    guide_stack(read_only)
    result = run_export(run, name_prefix="nothing-has-this-prefix")
    assert result["tasks"] == [] and result["credentials"] == []
    assert [n["kind"] for n in result["notes"]] == ["selection"]
    assert yaml.safe_load(result["playbook"])[0]["tasks"] == []
    assert yaml.safe_load(result["credentials_file"]) == {}


def test_selection_by_pattern_takes_the_connector_and_group_of_a_model(run, read_only):
    guide_stack(read_only)
    result = run_export(run, name_pattern="embedding model$")
    assert [t["name"] for t in result["tasks"]] == ["Trusted connector endpoints",
                                                    "Connector shop text-embedding connector",
                                                    "Model group shop embedding model", "Model shop embedding model"]
    assert [n["kind"] for n in result["notes"] if "is not selected" in n["note"]] == ["connector"]


def test_a_bad_pattern_fails_naming_the_option(run, read_only):
    result = run(polarsearch_ml_stack_export, {"name_pattern": "(unclosed"})
    assert result["failed"] and "name_pattern" in result["msg"]
    assert read_only.requests == []


def test_everything_exports_every_trusted_entry(run, read_only):
    guide_stack(read_only)
    result = run_export(run)
    settings, = tasks_of(result, "polarsearch_cluster_settings")
    assert settings["persistent"][TRUSTED_KEY] == [LOCAL, OTHER]


def test_same_named_objects_are_exported_by_id_and_pipelines_keep_their_id(run_warned, read_only):
    guide_stack(read_only)
    twin_c = read_only.add_connector("shop text-embedding connector", connector_id="cTwin01",
                                     parameters={"endpoint": "127.0.0.1:18080", "model": "x"}, actions=[guide_action()])
    read_only.add_model("shop embedding model", twin_c, model_id="m-twin", model_group_id=read_only.add_group("g2"))
    result = run_warned(polarsearch_ml_stack_export, {"name_prefix": "shop"}, extra_secrets=[SECRET])
    assert not result["failed"], result
    connectors = tasks_of(result, "polarsearch_connector")
    assert sorted(c.get("connector_id") for c in connectors if c["name"] == "shop text-embedding connector") == [
        "cEmbed01", "cTwin01"]
    variables = [c["variable"] for c in result["credentials"]]
    assert len(variables) == len(set(variables)) == 3
    models = [m for m in tasks_of(result, "polarsearch_model") if m["name"] == "shop embedding model"]
    assert sorted(m["model_id"] for m in models) == ["m-embed", "m-twin"]
    assert all("connector" not in m and m["connector_id"] in ("cEmbed01", "cTwin01") for m in models)
    ingest = tasks_of(result, "polarsearch_pipeline")[0]
    assert ingest["definition"]["processors"][0]["text_embedding"]["model_id"] == "m-embed"
    assert any("refers to model m-embed by ID: 2 models are named" in w for w in result["warnings"])
    kinds = sorted({(n["kind"], n["id"]) for n in result["notes"] if "are named" in n["note"]})
    assert ("connector", "cEmbed01") in kinds and ("model", "m-twin") in kinds


def test_a_model_whose_connector_is_gone(run_warned, read_only):
    guide_stack(read_only)
    read_only.add_model("shop orphan", "cDeleted01", model_id="m-orphan")
    result = run_warned(polarsearch_ml_stack_export, {"name_prefix": "shop", "role_presets_dir": PRESETS})
    orphan = [m for m in tasks_of(result, "polarsearch_model") if m["name"] == "shop orphan"][0]
    assert orphan["connector_id"] == "cDeleted01" and "connector" not in orphan
    assert any("cDeleted01 does not exist" in w for w in result["warnings"])
    unmatched = {u["model"]: u["reasons"] for u in result["ml_stack_unmatched"]}
    assert unmatched["shop orphan"] == ["its connector cDeleted01 does not exist (or is not visible)"]


def test_a_pipeline_with_an_unknown_model_id_keeps_it(run_warned, read_only):
    processor = {"text_embedding": {"model_id": "nope", "field_map": {"a": "b"}}}
    read_only.ingest_pipelines["p1"] = {"processors": [processor]}
    result = run_warned(polarsearch_ml_stack_export, {})
    pipeline, = tasks_of(result, "polarsearch_pipeline")
    assert pipeline["definition"]["processors"][0]["text_embedding"]["model_id"] == "nope"
    assert any("model nope does not exist" in w for w in result["warnings"])


def test_no_secret_in_the_result_or_the_files(run, read_only):
    guide_stack(read_only)
    read_only.leak_credentials = True   # even a server that sends stored credentials back
    result = run(polarsearch_ml_stack_export, {}, extra_secrets=[SECRET])
    assert SECRET not in json.dumps(result)
    assert "seeded-key" not in json.dumps(result)


def test_the_output_is_stable_whatever_order_the_server_answers(run, monkeypatch, clock):
    guide_stack(IndexServer()).install(monkeypatch)
    first = run_export(run, name_prefix="shop")
    server = guide_stack(IndexServer()).install(monkeypatch)
    server.connectors = dict(reversed(list(server.connectors.items())))
    server.models = dict(reversed(list(server.models.items())))
    second = run_export(run, name_prefix="shop")
    assert first["playbook"] == second["playbook"] and first["credentials_file"] == second["credentials_file"]
    play = yaml.safe_load(first["playbook"])[0]
    assert play["vars_files"] == ["credentials.yml"]
    assert play["module_defaults"]["group/polardb.polarsearch.polarsearch"]["host"] == \
        "{{ polarsearch_host | default(omit) }}"
    assert yaml.safe_load(first["credentials_file"]) == {"shop_llm_connector_api_key": "",
                                                         "shop_text_embedding_connector_api_key": ""}


def test_role_shaped_models_become_ml_stack_entries(run, read_only):
    read_only.set_setting(TRUSTED_KEY, [LOCAL])
    dashscope = yaml.safe_load(open(PRESETS + "/dashscope.yml"))["ml_stack__preset"]
    template = dashscope["kinds"]["embedding"]
    action = {"action_type": "PREDICT", "method": "POST",
              "url": "http://${parameters.endpoint}" + template["path"], "headers": dashscope["headers"],
              "request_body": template["request_body"], "pre_process_function": template["pre_process_function"],
              "post_process_function": template["post_process_function"]}
    cid = read_only.add_connector("text-embedding-v4-connector", actions=[action],
                                  parameters={"endpoint": "127.0.0.1:18080", "model": "text-embedding-v4"},
                                  description="DashScope embedding connector for text-embedding-v4")
    read_only.add_model("text-embedding-v4", cid, state="DEPLOYED", description="mine")
    guide_stack(read_only)
    result = run_export(run, role_presets_dir=PRESETS)
    assert result["ml_stack_models"] == [{"name": "text-embedding-v4", "kind": "embedding",
                                          "endpoint": "http://127.0.0.1:18080",
                                          "model_overrides": {"description": "mine"}, "state": "deployed"}]
    unmatched = {u["model"]: u["reasons"] for u in result["ml_stack_unmatched"]}
    assert sorted(unmatched) == ["shop embedding model", "shop llm model"]
    assert unmatched["shop embedding model"][0] == ("its connector is named 'shop text-embedding connector'; the "
                                                    "role names it 'shop embedding model-connector'")


def test_indexes_of_the_exported_pipelines(run, read_only):
    guide_stack(read_only)
    read_only.add_index("docs", mappings={"properties": {"text": {"type": "text"}}},
                        settings={"index.default_pipeline": "shop-ingest", "index.number_of_replicas": "0"})
    read_only.add_index("unrelated", settings={"index.default_pipeline": "other"})
    result = run_export(run, name_prefix="shop", include_indexes=True)
    index, = tasks_of(result, "polarsearch_index")
    assert index == {"name": "docs", "mappings": {"properties": {"text": {"type": "text"}}},
                     "settings": {"index.default_pipeline": "shop-ingest", "index.number_of_replicas": "0",
                                  "index.number_of_shards": "1"}}
    assert module_order(result)[-1] == "polarsearch_index"


def test_variable_names_are_valid(run, read_only):
    for name, cid in (("9 lives", "a"), ("ÄÖ connector!", "b"), ("", "c")):
        read_only.add_connector(name, connector_id=cid)
    result = run_export(run)
    for variable in (c["variable"] for c in result["credentials"]):
        assert export.slug(variable) == variable and not variable[0].isdigit(), variable


def test_an_index_the_user_may_not_read_is_left_out_with_a_warning(run_warned, read_only):
    guide_stack(read_only)
    read_only.add_index("docs", settings={"index.default_pipeline": "shop-ingest"})
    # a user who may read index settings but not the index (indices:admin/get): the secure profile's ML user
    read_only.fail_next("GET", "^docs$", status=403, reason="no permissions for [indices:admin/get]")
    result = run_warned(polarsearch_ml_stack_export, {"name_prefix": "shop", "include_indexes": True})
    assert not result["failed"], result
    assert tasks_of(result, "polarsearch_index") == []
    assert any("may not read the index" in w for w in result["warnings"])
