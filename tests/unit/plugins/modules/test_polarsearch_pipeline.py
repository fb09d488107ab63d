# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy

import pytest

from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_pipeline as module

from fake_server import PipelineServer
from plans import plan_text

EMBED = "text-embedding-v4"
RERANK = "qwen3-rerank"
LLM = "qwen-max"
INGEST = {
    "description": "text -> embedding",
    "processors": [{"text_embedding": {"model_id": {"model": EMBED}, "field_map": {"text": "embedding"}}}],
}
SEARCH = {
    "request_processors": [{"neural_query_enricher": {
        "default_model_id": {"model": EMBED},
        "neural_field_default_id": {"embedding": {"model": EMBED}, "other": "literal-id"}}}],
    "response_processors": [
        {"rerank": {"ml_opensearch": {"model_id": {"model": RERANK}}, "context": {"document_fields": ["text"]}}},
        {"retrieval_augmented_generation": {"model_id": {"model": LLM}, "context_field_list": ["text"],
                                            "system_prompt": "Answer briefly."}},
    ],
}


def model_id_of(name):
    return "id-" + name


def seed_models(server, *names):
    cid = server.add_connector("c")
    return {name: server.add_model(name, cid, state="DEPLOYED", model_id=model_id_of(name)) for name in names}


@pytest.fixture
def server(monkeypatch, clock):
    return PipelineServer().install(monkeypatch)


@pytest.fixture
def twin(monkeypatch, clock, run):
    """``twin(args, setup)``: check mode and a real run on two identical servers; both results and servers."""

    def compare(args, setup):
        check_server = setup(PipelineServer()).install(monkeypatch)
        checked = run(module, args, check_mode=True, diff=True)
        assert check_server.writes == [], "check mode wrote: %s" % check_server.write_summary()
        real_server = setup(PipelineServer()).install(monkeypatch)
        real = run(module, args, diff=True)
        for key in ("failed", "changed", "plan", "diff", "pipeline", "resolved_models", "missing_models"):
            assert checked.get(key) == real.get(key), key
        return checked, real, real_server

    return compare


def ingest_args(definition=None, **extra):
    return dict({"name": "embed", "type": "ingest", "definition": copy.deepcopy(definition or INGEST)}, **extra)


def stored_ingest(model_id):
    return {"description": "text -> embedding",
            "processors": [{"text_embedding": {"model_id": model_id, "field_map": {"text": "embedding"}}}]}


# -- create, idempotence, check mode -------------------------------------------------------------------
def test_create_resolves_the_model_name_to_its_id(run, server):
    ids = seed_models(server, EMBED)
    result = run(module, ingest_args(), diff=True)
    assert result["changed"] is True and not result["failed"]
    assert plan_text(result) == ["create ingest pipeline embed"]
    assert server.write_summary() == [("PUT", "_ingest/pipeline/embed")]
    assert server.ingest_pipelines["embed"] == stored_ingest(ids[EMBED])
    assert result["pipeline"] == stored_ingest(ids[EMBED])
    assert result["resolved_models"] == {EMBED: ids[EMBED]}
    assert result["missing_models"] == []
    assert result["diff"] == {"before": {}, "after": stored_ingest(ids[EMBED])}


def test_second_run_changes_nothing(run, server):
    seed_models(server, EMBED)
    run(module, ingest_args())
    writes = len(server.writes)
    again = run(module, ingest_args(), diff=True)
    assert again["changed"] is False and plan_text(again) == []
    assert len(server.writes) == writes
    assert again["diff"]["before"] == again["diff"]["after"]


def test_check_mode_predicts_the_create_exactly(twin):
    def setup(server):
        seed_models(server, EMBED)
        return server

    checked, real, real_server = twin(ingest_args(), setup)
    assert real["changed"] is True and plan_text(real) == ["create ingest pipeline embed"]
    assert real_server.ingest_pipelines["embed"] == stored_ingest(model_id_of(EMBED))


def test_search_pipeline_resolves_every_model_position(twin):
    def setup(server):
        seed_models(server, EMBED, RERANK, LLM)
        return server

    checked, real, real_server = twin({"name": "rag", "type": "search", "definition": copy.deepcopy(SEARCH)}, setup)
    stored = real_server.search_pipelines["rag"]
    enricher = stored["request_processors"][0]["neural_query_enricher"]
    assert enricher == {"default_model_id": model_id_of(EMBED),
                        "neural_field_default_id": {"embedding": model_id_of(EMBED), "other": "literal-id"}}
    assert stored["response_processors"][0]["rerank"]["ml_opensearch"] == {"model_id": model_id_of(RERANK)}
    assert stored["response_processors"][1]["retrieval_augmented_generation"]["model_id"] == model_id_of(LLM)
    assert real["resolved_models"] == {EMBED: model_id_of(EMBED), RERANK: model_id_of(RERANK),
                                       LLM: model_id_of(LLM)}
    assert plan_text(real) == ["create search pipeline rag"]


# -- drift: another model's ID, a model registered again --------------------------------------------------
def test_a_pipeline_holding_another_models_id_is_drift_and_is_repointed(twin):
    def setup(server):
        seed_models(server, EMBED, "other-model")
        server.ingest_pipelines["embed"] = stored_ingest(model_id_of("other-model"))
        return server

    checked, real, real_server = twin(ingest_args(), setup)
    assert real["changed"] is True
    assert plan_text(real) == ["update ingest pipeline embed: processors[0].text_embedding.model_id"]
    assert real["diff"]["before"] == stored_ingest(model_id_of("other-model"))
    assert real["diff"]["after"] == stored_ingest(model_id_of(EMBED))
    assert real_server.ingest_pipelines["embed"] == stored_ingest(model_id_of(EMBED))


def test_a_model_registered_again_gets_a_new_id_and_the_pipeline_follows(run, server):
    ids = seed_models(server, EMBED)
    run(module, ingest_args())
    del server.models[ids[EMBED]]
    new_id = server.add_model(EMBED, server.add_connector("c2"), state="DEPLOYED")
    assert run(module, ingest_args(), check_mode=True)["changed"] is True
    assert server.ingest_pipelines["embed"] == stored_ingest(ids[EMBED]), "check mode wrote nothing"
    fixed = run(module, ingest_args())
    assert fixed["changed"] is True and fixed["resolved_models"] == {EMBED: new_id}
    assert server.ingest_pipelines["embed"] == stored_ingest(new_id)
    assert run(module, ingest_args())["changed"] is False


def test_keys_the_user_did_not_set_are_not_compared(run, server):
    ids = seed_models(server, EMBED)
    server.ingest_pipelines["embed"] = dict(stored_ingest(ids[EMBED]), version=7)
    definition = {"processors": INGEST["processors"]}
    result = run(module, ingest_args(definition))
    assert result["changed"] is False and server.writes == []


def test_top_level_keys_the_user_did_not_set_survive_a_write(run, server):
    ids = seed_models(server, EMBED)
    server.ingest_pipelines["embed"] = dict(stored_ingest("oldmodel000000000000"), version=7)
    result = run(module, ingest_args({"processors": INGEST["processors"]}))
    assert plan_text(result) == ["update ingest pipeline embed: processors[0].text_embedding.model_id"]
    assert server.ingest_pipelines["embed"] == dict(stored_ingest(ids[EMBED]), version=7)


def test_below_the_top_level_the_definition_is_compared_whole(run, server):
    ids = seed_models(server, EMBED)
    server.ingest_pipelines["embed"] = stored_ingest(ids[EMBED])
    server.ingest_pipelines["embed"]["processors"][0]["text_embedding"]["field_map"]["title"] = "title_embedding"
    result = run(module, ingest_args())
    assert plan_text(result) == ["update ingest pipeline embed: processors[0].text_embedding.field_map.title"]
    assert server.ingest_pipelines["embed"] == stored_ingest(ids[EMBED])


def test_a_changed_setting_is_an_update_naming_the_place(run, server):
    ids = seed_models(server, EMBED)
    server.ingest_pipelines["embed"] = stored_ingest(ids[EMBED])
    definition = copy.deepcopy(INGEST)
    definition["processors"][0]["text_embedding"]["field_map"] = {"body": "embedding"}
    definition["description"] = "new"
    result = run(module, ingest_args(definition))
    assert plan_text(result) == ["update ingest pipeline embed: description, processors[0].text_embedding.field_map.body, "
                                 "processors[0].text_embedding.field_map.text"]
    assert server.ingest_pipelines["embed"]["processors"][0]["text_embedding"]["field_map"] == {"body": "embedding"}


def test_a_plain_model_id_string_is_written_and_compared_unchanged(run, server):
    definition = {"processors": [{"text_embedding": {"model_id": "abcdefghij0123456789",
                                                     "field_map": {"text": "embedding"}}}]}
    result = run(module, ingest_args(definition))
    assert result["changed"] is True and result["resolved_models"] == {}
    assert server.ingest_pipelines["embed"] == definition
    assert run(module, ingest_args(definition))["changed"] is False


def test_a_model_mapping_outside_a_model_id_place_is_data(run, server):
    definition = {"processors": [{"set": {"field": "meta", "value": {"model": EMBED}}}]}
    result = run(module, ingest_args(definition))
    assert result["changed"] is True and result["resolved_models"] == {}
    assert server.ingest_pipelines["embed"] == definition


# -- missing and ambiguous models ---------------------------------------------------------------------------
def test_a_missing_model_fails_naming_it_and_the_place_before_any_write(run, server):
    result = run(module, ingest_args())
    assert result["failed"] is True
    assert "pipeline embed" in result["msg"] and repr(EMBED) in result["msg"]
    assert "definition.processors[0].text_embedding.model_id" in result["msg"]
    assert "polarsearch_model" in result["msg"]
    assert result["missing_models"] == [EMBED]
    assert server.writes == []


def test_check_mode_predicts_a_model_the_play_creates_earlier(run, server):
    result = run(module, ingest_args(), check_mode=True, diff=True)
    assert result["failed"] is False and result["changed"] is True
    assert plan_text(result) == ["create ingest pipeline embed"]
    assert result["missing_models"] == [EMBED]
    assert result["resolved_models"] == {EMBED: None}
    assert result["pipeline"] == stored_ingest("<model %s: to be created>" % EMBED)
    assert server.writes == []


def test_check_mode_shows_a_pipeline_to_repoint_at_a_model_still_to_be_created(run, server):
    server.ingest_pipelines["embed"] = stored_ingest("oldmodel000000000000")
    result = run(module, ingest_args(), check_mode=True, diff=True)
    assert plan_text(result) == ["update ingest pipeline embed: processors[0].text_embedding.model_id"]
    assert result["diff"]["after"] == stored_ingest("<model %s: to be created>" % EMBED)


def test_two_models_with_the_referenced_name_fail_with_their_ids(run, server):
    cid = server.add_connector("c")
    ids = [server.add_model(EMBED, cid), server.add_model(EMBED, cid)]
    result = run(module, ingest_args(), check_mode=True)
    assert result["failed"] is True and all(i in result["msg"] for i in ids)
    assert "processors[0].text_embedding.model_id" in result["msg"]


# -- bad input --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reference", [{"model": EMBED, "extra": 1}, {"name": EMBED}, {"model": ""}, {"model": 3}])
def test_a_malformed_reference_fails_naming_the_place(run, server, reference):
    definition = {"processors": [{"text_embedding": {"model_id": reference, "field_map": {"text": "e"}}}]}
    result = run(module, ingest_args(definition), check_mode=True)
    assert result["failed"] is True
    assert "definition.processors[0].text_embedding.model_id" in result["msg"] and "{model: " in result["msg"]
    assert server.writes == []


@pytest.mark.parametrize("kind,definition,words", [
    ("ingest", {"processors": [], "_meta": {}}, ["_meta", "accepted: description, processors, on_failure, version"]),
    ("search", {"processors": []}, ["processors", "request_processors"]),
    ("ingest", {"description": "no processors"}, ["definition.processors is required"]),
    ("ingest", {"processors": {"set": {}}}, ["definition.processors must be a list"]),
    ("search", {"response_processors": [{"rerank": {}, "set": {}}]}, ["definition.response_processors[0]"]),
])
def test_a_bad_definition_fails_before_any_request_that_writes(run, server, kind, definition, words):
    result = run(module, {"name": "p", "type": kind, "definition": definition})
    assert result["failed"] is True
    for word in words:
        assert word in result["msg"]
    assert server.writes == []


@pytest.mark.parametrize("name", ["a/b", " a", "_x", ""])
def test_a_bad_name_fails(run, server, name):
    result = run(module, ingest_args(name=name))
    assert result["failed"] is True and "not a valid pipeline name" in result["msg"]


def test_definition_is_required_when_present(module_spec):
    spec = module_spec(module)
    assert spec.errors({"name": "p", "type": "ingest"})
    assert not spec.errors({"name": "p", "type": "ingest", "state": "absent"})


def test_the_servers_refusal_is_reported_with_its_reason(run, server):
    result = run(module, ingest_args({"processors": [{"no_such_processor": {}}]}))
    assert result["failed"] is True
    assert "No processor type exists with name [no_such_processor]" in result["msg"]
    assert result["changed"] is False


# -- absent -------------------------------------------------------------------------------------------------
def test_absent_deletes_and_is_idempotent(twin, run, server):
    def setup(fake):
        fake.search_pipelines["rag"] = {"response_processors": []}
        return fake

    checked, real, real_server = twin({"name": "rag", "type": "search", "state": "absent"}, setup)
    assert plan_text(real) == ["delete search pipeline rag"] and real["changed"] is True
    assert real["diff"] == {"before": {"response_processors": []}, "after": {}}
    assert real_server.search_pipelines == {}
    again = run(module, {"name": "rag", "type": "search", "state": "absent"})
    assert again["changed"] is False and plan_text(again) == []


def test_names_are_sent_url_encoded(run, server):
    seed_models(server, EMBED)
    run(module, ingest_args(name="embed ingest"))
    assert server.calls("PUT")[0].url.endswith("/_ingest/pipeline/embed%20ingest")
    assert list(server.ingest_pipelines) == ["embed ingest"]
    assert run(module, ingest_args(name="embed ingest"))["changed"] is False
