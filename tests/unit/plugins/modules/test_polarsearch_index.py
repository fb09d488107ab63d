# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy

import pytest

from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_index as module

from fake_server import IndexServer
from plans import plan_text

METHOD = {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}
MAPPINGS = {"properties": {"text": {"type": "text"},
                           "embedding": {"type": "knn_vector", "dimension": 3, "method": METHOD}}}
SETTINGS = {"index.knn": True, "index.default_pipeline": "embedding-ingest"}
MARKER = {"managed_by": "polardb.polarsearch"}


def args(mappings=None, settings=None, **extra):
    return dict({"name": "docs", "mappings": copy.deepcopy(mappings or MAPPINGS),
                 "settings": copy.deepcopy(SETTINGS if settings is None else settings)}, **extra)


@pytest.fixture
def server(monkeypatch, clock):
    return IndexServer().install(monkeypatch)


@pytest.fixture
def twin(monkeypatch, clock, run):
    """``twin(args, setup)``: check mode and a real run on two identical servers; both results and servers."""

    def compare(module_args, setup):
        check_server = setup(IndexServer()).install(monkeypatch)
        checked = run(module, module_args, check_mode=True, diff=True)
        assert check_server.writes == [], "check mode wrote: %s" % check_server.write_summary()
        real_server = setup(IndexServer()).install(monkeypatch)
        real = run(module, module_args, diff=True)
        for key in ("failed", "changed", "plan", "diff", "index", "managed", "deleted", "msg"):
            assert checked.get(key) == real.get(key), key
        return checked, real, real_server

    return compare


def created(server):
    server.add_index("docs", mappings=dict(copy.deepcopy(MAPPINGS), _meta=dict(MARKER)),
                     settings={"index.knn": "true", "index.default_pipeline": "embedding-ingest"})
    return server


# -- create, idempotence, check mode -------------------------------------------------------------------
def test_create_marks_the_index_and_normalises_the_settings(twin):
    checked, real, server = twin(args(), lambda s: s)
    assert real["changed"] is True and not real["failed"]
    assert plan_text(real) == ["create index docs: mappings.properties.text, mappings.properties.embedding, "
                               "mappings._meta, settings.index.knn, settings.index.default_pipeline"]
    stored = server.indexes["docs"]
    assert stored["mappings"]["_meta"] == MARKER
    assert stored["settings"]["index.knn"] == "true"
    assert real["managed"] is True
    assert real["index"] == {"mappings": dict(MAPPINGS, _meta=MARKER),
                             "settings": {"index.knn": "true", "index.default_pipeline": "embedding-ingest"}}
    assert real["diff"]["before"] == {}


def test_second_run_changes_nothing_whatever_the_settings_spelling(run, server):
    run(module, args())
    writes = len(server.writes)
    for settings in (SETTINGS, {"knn": "true", "default_pipeline": "embedding-ingest"},
                     {"index": {"knn": True, "default_pipeline": "embedding-ingest"}}):
        again = run(module, args(settings=settings), diff=True)
        assert again["changed"] is False and plan_text(again) == [], settings
        assert again["diff"]["before"] == again["diff"]["after"]
    assert len(server.writes) == writes


def test_only_declared_fields_and_given_settings_are_compared(run, server):
    created(server)
    server.indexes["docs"]["mappings"]["properties"]["extra"] = {"type": "keyword"}
    server.indexes["docs"]["settings"]["index.refresh_interval"] = "5s"
    result = run(module, args(mappings={"properties": {"text": {"type": "text"}}}, settings={"knn": True}))
    assert result["changed"] is False and server.writes == []
    assert result["index"]["mappings"] == {"properties": {"text": {"type": "text"}}, "_meta": MARKER}


# -- in-place changes ---------------------------------------------------------------------------------
def test_new_field_and_dynamic_settings_change_in_place(twin):
    mappings = copy.deepcopy(MAPPINGS)
    mappings["properties"]["title"] = {"type": "keyword", "ignore_above": 256}
    settings = dict(SETTINGS, **{"index.search.default_pipeline": "rerank-search"})
    checked, real, server = twin(args(mappings=mappings, settings=settings), created)
    assert plan_text(real) == ["update index docs: mappings.properties.title",
                               "update index docs: settings.index.search.default_pipeline"]
    assert server.write_summary() == [("PUT", "docs/_mapping"), ("PUT", "docs/_settings")]
    assert server.indexes["docs"]["mappings"]["properties"]["title"] == {"type": "keyword", "ignore_above": 256}
    assert server.indexes["docs"]["settings"]["index.search.default_pipeline"] == "rerank-search"
    assert real["diff"]["before"]["settings"] == {"index.knn": "true", "index.default_pipeline": "embedding-ingest"}
    assert real["diff"]["after"]["settings"]["index.search.default_pipeline"] == "rerank-search"


def test_meta_keys_merge_and_keep_the_marker(twin):
    checked, real, server = twin(args(mappings={"_meta": {"team": "search"}}, settings={}), created)
    assert plan_text(real) == ["update index docs: mappings._meta"]
    assert server.indexes["docs"]["mappings"]["_meta"] == dict(MARKER, team="search")
    assert real["managed"] is True


def test_ignore_above_of_an_existing_field_changes_in_place(run, server):
    created(server)
    server.indexes["docs"]["mappings"]["properties"]["tag"] = {"type": "keyword", "ignore_above": 10}
    result = run(module, args(mappings={"properties": {"tag": {"type": "keyword", "ignore_above": 20}}}, settings={}))
    assert plan_text(result) == ["update index docs: mappings.properties.tag"]
    assert server.indexes["docs"]["mappings"]["properties"]["tag"]["ignore_above"] == 20


def test_new_sub_field_of_an_object(run, server):
    created(server)
    server.indexes["docs"]["mappings"]["properties"]["meta"] = {"properties": {"a": {"type": "keyword"}}}
    result = run(module, args(mappings={"properties": {"meta": {"properties": {"b": {"type": "long"}}}}},
                              settings={}))
    assert plan_text(result) == ["update index docs: mappings.properties.meta.b"]
    assert server.indexes["docs"]["mappings"]["properties"]["meta"]["properties"]["b"] == {"type": "long"}


# -- changes the server cannot make in place ----------------------------------------------------------
@pytest.mark.parametrize("change, named", [
    ({"properties": {"embedding": {"type": "knn_vector", "dimension": 4}}},
     "mappings.properties.embedding.dimension is 3 on the server and 4 in the input"),
    ({"properties": {"text": {"type": "keyword"}}},
     "mappings.properties.text.type is text on the server and keyword in the input"),
])
def test_field_change_fails_before_any_write_naming_the_field_and_fix(twin, change, named):
    checked, real, server = twin(args(mappings=change, settings={}), created)
    assert real["failed"] is True and named in real["msg"]
    assert "recreate: true" in real["msg"] and "documents" in real["msg"]
    assert server.writes == [] and real["plan"] == []


def test_static_setting_fails_before_any_write(twin):
    checked, real, server = twin(args(mappings={}, settings={"index.knn": False, "number_of_replicas": 0}), created)
    assert real["failed"] is True
    assert "settings.index.knn is true on the server and false in the input, and it is a static setting" in real["msg"]
    assert server.writes == []


def test_recreate_deletes_and_creates_the_index(twin):
    change = copy.deepcopy(MAPPINGS)
    change["properties"]["embedding"]["dimension"] = 4
    checked, real, server = twin(args(mappings=change, recreate=True), created)
    assert plan_text(real) == ["delete index docs",
                               "create index docs: mappings.properties.text, mappings.properties.embedding, "
                               "mappings._meta, settings.index.knn, settings.index.default_pipeline"]
    assert server.indexes["docs"]["mappings"]["properties"]["embedding"]["dimension"] == 4


def test_a_static_setting_the_server_refuses_is_named(run, server, monkeypatch):
    created(server)
    from ansible_collections.polardb.polarsearch.plugins.module_utils.search import index as index_utils
    monkeypatch.setattr(index_utils, "STATIC_SETTINGS", frozenset())
    result = run(module, args(mappings={}, settings={"index.knn": False}))
    assert result["failed"] is True
    assert "cannot change the setting(s) index.knn of the open index docs" in result["msg"]


# -- absent -------------------------------------------------------------------------------------------
def test_absent_deletes_and_is_idempotent(twin):
    checked, real, server = twin({"name": "docs", "state": "absent"}, created)
    assert plan_text(real) == ["delete index docs"] and real["deleted"] is True
    assert "docs" not in server.indexes
    again_checked, again, gone = twin({"name": "docs", "state": "absent"}, lambda s: s)
    assert again["changed"] is False and again["deleted"] is False and gone.writes == []


def test_only_if_managed_keeps_an_index_made_otherwise(twin):
    def foreign(server):
        server.add_index("docs", mappings=copy.deepcopy(MAPPINGS))
        return server

    checked, real, server = twin({"name": "docs", "state": "absent", "only_if_managed": True}, foreign)
    assert real["changed"] is False and real["deleted"] is False and real["managed"] is False
    assert "not created by polardb.polarsearch" in real["msg"]
    assert "docs" in server.indexes
    checked, real, server = twin({"name": "docs", "state": "absent", "only_if_managed": True}, created)
    assert real["deleted"] is True and "docs" not in server.indexes


def test_an_existing_index_made_otherwise_is_not_marked(run, server):
    server.add_index("docs", mappings=copy.deepcopy(MAPPINGS))
    result = run(module, args(settings={"index.default_pipeline": "embedding-ingest"}))
    assert result["managed"] is False
    assert "_meta" not in server.indexes["docs"]["mappings"]


# -- input --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, named", [
    ({"name": "Docs"}, "name 'Docs' is not a valid index name"),
    ({"name": "_docs"}, "name '_docs' is not a valid index name"),
    ({"mappings": {"properties": ["text"]}}, "mappings.properties must be a mapping"),
    ({"mappings": {"properties": {"text": "text"}}}, "mappings.properties.text must be a mapping"),
    ({"settings": {"index.uuid": "x"}}, "settings.index.uuid is set by the server"),
])
def test_bad_input_fails_before_any_request(run, server, bad, named):
    result = run(module, dict(args(), **bad))
    assert result["failed"] is True and named in result["msg"]
    assert server.requests == []


def test_a_name_that_is_an_alias_fails_naming_the_index(run, server):
    # GET ALIAS answers with the concrete index as the key (OpenSearch resolves aliases in GET /NAME).
    aliased = {"docs-v1": {"aliases": {"docs": {}}, "mappings": {}, "settings": {}}}
    server.fail_next("GET", r"^docs$", status=200, body=aliased)
    result = run(module, args())
    assert result["failed"] is True and "name docs is an alias of the index docs-v1" in result["msg"]
    assert server.writes == []


def test_dynamic_changes_in_place_and_compares_as_the_server_string(twin):
    def strict(server):
        created(server)
        server.indexes["docs"]["mappings"]["dynamic"] = "false"  # the server returns dynamic as a string
        return server

    checked, real, server = twin(args(mappings={"dynamic": False}, settings={}), strict)
    assert real["changed"] is False
    checked, real, server = twin(args(mappings={"dynamic": "strict"}, settings={}), strict)
    assert plan_text(real) == ["update index docs: mappings.dynamic"]
    assert server.indexes["docs"]["mappings"]["dynamic"] == "strict"


def test_a_server_error_other_than_a_static_setting_is_reported_as_is(run, server):
    created(server)
    server.fail_next("PUT", r"^docs/_settings$", status=400, reason="failed to parse value [x] for setting")
    result = run(module, args(mappings={}, settings={"index.refresh_interval": "x"}))
    assert result["failed"] is True and "failed to parse value [x]" in result["msg"]
    assert "recreate" not in result["msg"]


def test_a_lost_answer_on_the_create_is_not_answered_by_already_exists(run, server, clock):
    """The gateway loses the answer of PUT <index> after the server made the index: the run finds the
    index it made instead of sending the PUT again (which the server answers with 400
    resource_already_exists_exception)."""
    server.fail_next("PUT", r"^docs$", status=504, reason="Gateway Timeout", process=True)
    result = run(module, args())
    assert result["failed"] is False, result["msg"]
    assert result["changed"] is True and "docs" in server.indexes
    assert len(server.calls("PUT", r"^docs$")) == 1


def test_a_lost_create_that_made_nothing_is_sent_again(run, server, clock):
    server.fail_next("PUT", r"^docs$", status=504, reason="Gateway Timeout")
    result = run(module, args())
    assert result["failed"] is False and "docs" in server.indexes
    assert len(server.calls("PUT", r"^docs$")) == 2
