# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ml_stack role's input checks and resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_input import (
    credential,
    endpoint_regex,
    merge,
    parse_endpoint,
    resolve,
)

ROLE = Path(__file__).resolve().parents[4] / "roles" / "ml_stack"
BUILTIN = {path.stem: yaml.safe_load(path.read_text())["ml_stack__preset"]
           for path in (ROLE / "vars" / "presets").glob("*.yml")}
DEFAULT_MODELS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())["ml_stack_models"]


def options(**changes):
    base = {"state": "deployed", "name_prefix": "", "preset": "dashscope", "endpoint": "dashscope.aliyuncs.com",
            "scheme": "https", "has_api_key": True, "presets": {}}
    base.update(changes)
    return base


def test_the_default_stack_resolves_to_the_documented_connectors():
    stack = resolve(DEFAULT_MODELS, BUILTIN, options(name_prefix="dev-"))
    assert stack["problems"] == []
    assert [m["name"] for m in stack["models"]] == ["dev-text-embedding-v4", "dev-qwen3-rerank", "dev-qwen-max"]
    assert stack["present"] == stack["deployed"] == stack["models"] and stack["absent"] == []
    embedding = stack["models"][0]
    assert embedding["index"] == 0 and embedding["entry"] == "text-embedding-v4"
    assert embedding["endpoint"] == "https://dashscope.aliyuncs.com"
    assert embedding["regex"] == r"^https://dashscope\.aliyuncs\.com/.*$"
    assert embedding["connector"] == {
        "name": "dev-text-embedding-v4-connector",
        "description": "DashScope embedding connector for text-embedding-v4",
        "version": "1",
        "protocol": "http",
        "parameters": {"endpoint": "dashscope.aliyuncs.com", "model": "text-embedding-v4"},
        "actions": [{
            "action_type": "predict",
            "method": "POST",
            "url": "https://${parameters.endpoint}/compatible-mode/v1/embeddings",
            "headers": {"Authorization": "Bearer ${credential.api_key}", "Content-Type": "application/json"},
            "request_body": '{ "model": "${parameters.model}", "input": ${parameters.input} }',
            "pre_process_function": "connector.pre_process.openai.embedding",
            "post_process_function": "connector.post_process.openai.embedding",
        }],
    }
    assert embedding["model_options"] == {"description": "DashScope embedding model text-embedding-v4"}
    assert embedding["verify"] == {"input": ["PolarSearch is a search service of PolarDB."]}
    # a template without pre/post-process functions gets none
    assert "pre_process_function" not in stack["models"][2]["connector"]["actions"][0]


def test_an_endpoint_keeps_its_scheme_port_and_base_path():
    models = [{"name": "e", "kind": "embedding", "endpoint": " http://10.0.0.1:8080/base// ", "model": "bge"}]
    entry = resolve(models, BUILTIN, options(preset="openai_compatible"))["models"][0]
    assert entry["endpoint"] == "http://10.0.0.1:8080/base"
    assert entry["regex"] == r"^http://10\.0\.0\.1:8080/base/.*$"
    assert entry["connector"]["parameters"] == {"endpoint": "10.0.0.1:8080/base", "model": "bge"}
    assert entry["connector"]["actions"][0]["url"] == "http://${parameters.endpoint}/v1/embeddings"
    assert entry["connector"]["description"] == "OpenAI-compatible embedding connector for bge"


def test_overrides_merge_over_the_generated_connector_and_model():
    models = [{
        "name": "r", "kind": "rerank", "api_key": "key-1234",
        "connector_overrides": {
            "parameters": {"extra": "1"}, "client_config": {"read_timeout": 60},
            "action": {"request_body": "{}"}, "credential": {"secret": "secret-5678"}, "access_mode": "private",
            "description": None,
        },
        "model_overrides": {"model_group": "g", "is_enabled": None},
    }]
    entry = resolve(models, BUILTIN, options(has_api_key=False))["models"][0]
    connector = entry["connector"]
    assert connector["parameters"] == {"endpoint": "dashscope.aliyuncs.com", "model": "qwen3-rerank", "extra": "1",
                                       "response_filter": "$.output.results"}
    assert connector["client_config"] == {"read_timeout": 60}
    assert connector["access_mode"] == "private"
    assert connector["description"] == "DashScope rerank connector for qwen3-rerank"
    assert connector["actions"][0]["request_body"] == "{}"
    assert "credential" not in connector and "action" not in connector
    assert entry["model_options"] == {"description": "DashScope rerank model qwen3-rerank", "model_group": "g"}
    assert "key-1234" not in repr(entry) and "secret-5678" not in repr(entry)


def test_the_custom_preset_takes_the_whole_connector_from_the_overrides():
    actions = [{"action_type": "predict", "method": "POST", "url": "https://${parameters.endpoint}/embed"}]
    models = [{"name": "c", "kind": "embedding", "preset": "custom", "endpoint": "embed.example.com",
               "connector_overrides": {"actions": actions}}]
    entry = resolve(models, BUILTIN, options())["models"][0]
    assert entry["connector"]["actions"] == actions
    assert entry["verify"] == BUILTIN["custom"]["kinds"]["embedding"]["verify"]


def test_user_presets_merge_over_the_builtin_ones_key_by_key():
    extra = {"dashscope": {"kinds": {"llm": {"model": "qwen-plus"}}},
             "mine": {"display_name": "Mine", "kinds": {"llm": {"path": "/chat"}}}}
    models = [{"name": "l", "kind": "llm"}, {"name": "m", "kind": "llm", "preset": "mine"}]
    first, second = resolve(models, BUILTIN, options(presets=extra))["models"]
    assert first["connector"]["parameters"]["model"] == "qwen-plus"
    assert first["connector"]["actions"][0]["url"].endswith("/compatible-mode/v1/chat/completions")
    assert second["connector"]["actions"][0]["url"] == "https://${parameters.endpoint}/chat"
    assert second["connector"]["parameters"]["model"] == "m"
    assert "headers" in second["connector"]["actions"][0]


def test_states_split_the_stack_and_absent_wins():
    models = [{"name": "a", "kind": "llm", "state": "present"}, {"name": "b", "kind": "llm", "state": "absent"},
              {"name": "c", "kind": "llm"}]
    stack = resolve(models, BUILTIN, options())
    assert [m["name"] for m in stack["present"]] == ["a", "c"]
    assert [m["name"] for m in stack["deployed"]] == ["c"]
    assert [m["name"] for m in stack["absent"]] == ["b"]
    torn_down = resolve(models, BUILTIN, options(state="absent", has_api_key=False))
    assert [m["state"] for m in torn_down["models"]] == ["absent"] * 3
    assert torn_down["problems"] == []


@pytest.mark.parametrize("models, message", [
    ([{"name": "x", "kind": "llm", "preset": "nope"}],
     "ml_stack_models[0] (x): unknown preset nope; known presets: custom, dashscope, half, openai_compatible"),
    ([{"name": "x", "kind": "llm", "endpoint": "ftp://example.com"}],
     "ml_stack_models[0] (x): the endpoint ftp://example.com is not host[:port][/path] or "
     "http(s)://host[:port][/path]; set endpoint or ml_stack_endpoint"),
    ([{"name": "x", "kind": "llm"}, {"name": "x", "kind": "rerank"}],
     "ml_stack_models[1] (x): the name x is used by another entry; names must be unique"),
    ([{"name": "a#b", "kind": "llm"}],
     "ml_stack_models[0] (a#b): the name a#b may only contain letters, numbers, spaces and .,!?():@-_/"),
    ([{"kind": "llm"}], "ml_stack_models[0] (no name): name is required"),
    ([{"name": "x", "kind": "foo"}], "ml_stack_models[0] (x): kind must be one of embedding, rerank, llm, not foo"),
    ([{"name": "x", "kind": "llm", "state": "gone"}],
     "ml_stack_models[0] (x): state must be present, deployed or absent, not gone"),
    ([{"name": "x", "kind": "llm", "preset": "custom"}],
     "ml_stack_models[0] (x): the preset custom needs the whole connector in connector_overrides (at least actions)"),
    ([{"name": "x", "kind": "llm", "preset": "half"}],
     "ml_stack_models[0] (x): the preset half has no connector template for kind llm"),
])
def test_each_problem_names_the_entry_and_the_fix(models, message):
    stack = resolve(models, BUILTIN, options(presets={"half": {"kinds": {"embedding": {"path": "/e"}}}}))
    assert message in stack["problems"]
    assert stack["models"] == [] and stack["present"] == []


def test_every_problem_is_listed_at_once():
    models = [{"name": "x", "kind": "foo", "preset": "nope", "endpoint": "ftp://e"}]
    problems = resolve(models, BUILTIN, options(has_api_key=False))["problems"]
    assert len(problems) == 4
    assert problems[-1] == ("ml_stack_models[0] (x): no API key; set ml_stack_api_key (or ML_STACK_API_KEY in the "
                            "environment) or the entry api_key")


def test_an_entry_key_or_credential_override_is_enough_and_absent_needs_none():
    models = [{"name": "a", "kind": "llm", "api_key": "k"},
              {"name": "b", "kind": "llm", "connector_overrides": {"credential": {"token": "t"}}},
              {"name": "c", "kind": "llm", "state": "absent"}]
    assert resolve(models, BUILTIN, options(has_api_key=False))["problems"] == []


def test_models_must_be_a_list():
    assert resolve({"name": "x"}, BUILTIN, options())["problems"] == ["ml_stack_models must be a list of models"]


def test_credential_prefers_the_entry_key_and_merges_the_overrides():
    assert credential({"name": "a"}, "default") == {"api_key": "default"}
    assert credential({"name": "a", "api_key": "own"}, "default") == {"api_key": "own"}
    assert credential({"connector_overrides": {"credential": {"api_key": "x", "extra": "y"}}}, "") == {
        "api_key": "x", "extra": "y"}
    assert credential({"name": "a"}, None) == {}


def test_helpers():
    assert parse_endpoint("host") == (None, "host", "")
    assert parse_endpoint("https://[::1]:9/") == ("https", "[::1]:9", "")
    assert parse_endpoint("host with space") is None
    assert endpoint_regex("http://a-b.c:1") == r"^http://a\-b\.c:1/.*$"
    assert merge({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": 3}, "l": [2]}) == {"a": {"b": 3, "c": 2}, "l": [2]}


def test_pipelines_refer_to_the_first_model_of_each_kind_by_name():
    stack = resolve(DEFAULT_MODELS, BUILTIN, options(name_prefix="dev-", pipelines=True, text_field="body",
                                                     vector_field="vec"))
    assert stack["problems"] == []
    assert [(p["name"], p["type"], p["model"], p["state"]) for p in stack["pipelines"]] == [
        ("dev-embedding-ingest", "ingest", "dev-text-embedding-v4", "present"),
        ("dev-rerank-search", "search", "dev-qwen3-rerank", "present"),
        ("dev-rag-search", "search", "dev-qwen-max", "present")]
    assert stack["pipelines_present"] == stack["pipelines"] and stack["pipelines_absent"] == []
    ingest, rerank, rag = (p["definition"] for p in stack["pipelines"])
    assert ingest["processors"] == [{"text_embedding": {"model_id": {"model": "dev-text-embedding-v4"},
                                                        "field_map": {"body": "vec"}}}]
    rerank_processor = {"rerank": {"ml_opensearch": {"model_id": {"model": "dev-qwen3-rerank"}},
                                   "context": {"document_fields": ["body"]}}}
    assert rerank["response_processors"] == [rerank_processor]
    assert rag["response_processors"][0] == rerank_processor
    generation = rag["response_processors"][1]["retrieval_augmented_generation"]
    assert generation["model_id"] == {"model": "dev-qwen-max"} and generation["context_field_list"] == ["body"]


def test_no_pipelines_unless_asked():
    stack = resolve(DEFAULT_MODELS, BUILTIN, options())
    assert stack["pipelines"] == stack["pipelines_present"] == stack["pipelines_absent"] == []


def test_pipelines_need_a_model_of_each_kind_that_stays():
    models = [{"name": "e", "kind": "embedding"}, {"name": "l", "kind": "llm", "state": "absent"}]
    problems = resolve(models, BUILTIN, options(pipelines=True))["problems"]
    assert problems == [
        "ml_stack_pipelines: the pipeline rerank-search needs a model of kind rerank that is not absent; add one to "
        "ml_stack_models or set ml_stack_pipelines to false",
        "ml_stack_pipelines: the pipeline rag-search needs a model of kind rerank that is not absent; add one to "
        "ml_stack_models or set ml_stack_pipelines to false",
        "ml_stack_pipelines: the pipeline rag-search needs a model of kind llm that is not absent; add one to "
        "ml_stack_models or set ml_stack_pipelines to false"]


def test_a_teardown_deletes_the_pipelines_of_the_models_it_has():
    stack = resolve(DEFAULT_MODELS, BUILTIN, options(state="absent", pipelines=True))
    assert [(p["name"], p["state"]) for p in stack["pipelines_absent"]] == [
        ("embedding-ingest", "absent"), ("rerank-search", "absent"), ("rag-search", "absent")]
    # what the model deletes of the teardown take as deleted before them (in check mode)
    assert stack["removed_first"] == [{"kind": "ingest_pipeline", "name": "embedding-ingest"},
                                      {"kind": "search_pipeline", "name": "rerank-search"},
                                      {"kind": "search_pipeline", "name": "rag-search"}]
    only_embedding = resolve(DEFAULT_MODELS[:1], BUILTIN, options(state="absent", pipelines=True))
    assert only_embedding["problems"] == []
    assert [p["name"] for p in only_embedding["pipelines_absent"]] == ["embedding-ingest"]


def test_a_declared_model_group_carries_the_access_fields_and_is_listed_once():
    team_fields = {"name": "team", "access_mode": "restricted", "backend_roles": ["team_a"]}
    models = [{"name": "a", "kind": "llm", "model_group": dict(team_fields)},
              {"name": "b", "kind": "rerank", "state": "absent",
               "model_group": {"name": "team", "access_mode": "restricted", "backend_roles": ["team_a"]}},
              {"name": "c", "kind": "embedding", "model_group": {"add_all_backend_roles": True}},
              {"name": "d", "kind": "embedding", "model_overrides": {"model_group": "plain"}}]
    stack = resolve(models, BUILTIN, options(name_prefix="p-"))
    assert stack["problems"] == []
    team = {"name": "team", "description": "Model group managed by polardb.polarsearch", "access_mode": "restricted",
            "backend_roles": ["team_a"]}
    assert stack["models"][0]["group"] == team and stack["models"][0]["model_options"]["model_group"] == "team"
    assert stack["models"][2]["group"] == {"name": "p-c", "description": "Model group managed by polardb.polarsearch",
                                           "add_all_backend_roles": True}
    assert stack["models"][3]["group"] is None and stack["models"][3]["model_options"]["model_group"] == "plain"
    assert stack["groups"] == [dict(team, model="p-a", state="present"),
                               dict(stack["models"][2]["group"], model="p-c", state="present")]
    assert stack["groups_present"] == stack["groups"]
    gone = resolve(models, BUILTIN, options(state="absent"))
    assert [(g["name"], g["state"]) for g in gone["groups"]] == [("team", "absent"), ("c", "absent")]
    assert gone["groups_present"] == []


def test_a_group_declared_two_ways_is_a_problem():
    models = [{"name": "a", "kind": "llm", "model_group": {"name": "g", "access_mode": "private"}},
              {"name": "b", "kind": "llm", "model_group": {"name": "g", "access_mode": "public"}},
              {"name": "c", "kind": "llm", "model_group": {}, "model_overrides": {"model_group": "x"}}]
    assert resolve(models, BUILTIN, options())["problems"] == [
        "ml_stack_models[2] (c): model_group and model_overrides.model_group both name a group; set the group in "
        "model_group only",
        "ml_stack_models[1] (b): model_group g is declared by ml_stack_models[0] too, with other fields; declare it "
        "alike in both entries"]


@pytest.mark.parametrize("state, pipelines, fails",
                         [("deployed", False, True), ("deployed", True, False), ("absent", False, False)])
def test_an_index_needs_the_pipelines_unless_the_stack_goes(state, pipelines, fails):
    found = resolve(DEFAULT_MODELS, BUILTIN, options(index="docs", state=state, pipelines=pipelines))["problems"]
    expected = ["ml_stack_index: the index docs takes the stack's ingest pipeline as its default pipeline, so it "
                "needs ml_stack_pipelines: true; set ml_stack_pipelines to true, or ml_stack_index to ''"]
    assert found == (expected if fails else [])


@pytest.mark.parametrize("preset", sorted(set(BUILTIN) - {"custom"}))
def test_the_builtin_presets_use_built_in_functions_only(preset):
    """A painless pre/post-process function needs the lang-painless module, which a minimal node
    lacks (the 2.19.1 integ-test-zip answers 500 "script_lang not supported [painless]"); the
    built-in ``connector.*`` functions run everywhere."""
    stack = resolve([{"name": k, "kind": k} for k in ("embedding", "rerank", "llm")], BUILTIN,
                    options(preset=preset))
    functions = [action.get(field) for entry in stack["models"] for action in entry["connector"]["actions"]
                 for field in ("pre_process_function", "post_process_function") if action.get(field)]
    assert functions and all(f.startswith("connector.") for f in functions), functions


def test_the_dashscope_rerank_connector_filters_the_results_for_the_cohere_post_process():
    rerank = resolve([{"name": "r", "kind": "rerank"}], BUILTIN, options())["models"][0]["connector"]
    assert rerank["parameters"]["response_filter"] == "$.output.results"
    assert rerank["actions"][0]["post_process_function"] == "connector.post_process.cohere.rerank"


def test_the_index_takes_the_first_staying_embedding_model_and_the_ingest_pipeline():
    models = [{"name": "old-embed", "kind": "embedding", "state": "absent"}] + DEFAULT_MODELS
    stack = resolve(models, BUILTIN, options(name_prefix="dev-", pipelines=True, index="docs", vector_field="vec"))
    assert stack["index"] == {
        "name": "docs", "state": "present", "model": "dev-text-embedding-v4", "vector_field": "vec",
        "text_field": "text", "pipeline": "dev-embedding-ingest", "recreate": False,
        "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"},
        "verify": BUILTIN["dashscope"]["kinds"]["embedding"]["verify"]}
    assert resolve(DEFAULT_MODELS, BUILTIN, options())["index"] is None


def test_a_teardown_deletes_the_index_only_when_told():
    kept = resolve(DEFAULT_MODELS, BUILTIN, options(state="absent", index="docs"))["index"]
    assert kept == {"name": "docs", "state": "absent", "model": "text-embedding-v4", "vector_field": "embedding",
                    "delete": False}
    gone = resolve(DEFAULT_MODELS[1:], BUILTIN, options(state="absent", index="docs", delete_index=True))["index"]
    assert gone["delete"] is True and gone["model"] == ""
