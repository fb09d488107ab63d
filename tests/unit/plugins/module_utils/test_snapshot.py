# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-run read cache: batched reads serve the per-name lookups until anything is written."""

from __future__ import annotations

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import snapshot
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchClient
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_lookup import find_by_name
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import find_model, models_named, \
    models_using_connector
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_group import find_group, get_group
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.pipeline import get_pipeline
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.settings import read_settings

import requests
from fake_server import PipelineServer


@pytest.fixture
def server(monkeypatch, clock):
    return PipelineServer().install(monkeypatch)


@pytest.fixture
def client(server):
    made = PolarSearchClient("https://search.example.com:9200", requests.Session())
    snapshot.attach(made)
    return made


def reads(server):
    return [(r.method, r.path) for r in server.requests]


def test_connectors_of_many_names_are_read_with_one_search(server, client):
    a = server.add_connector("a")
    b = server.add_connector("b")
    server.add_connector("unrelated")
    snapshot.prefetch(client, snapshot.CONNECTORS, ["a", "b", "missing"])
    assert len(server.requests) == 1
    body = server.requests[0].body
    assert body["query"] == {"terms": {"name.keyword": ["a", "b", "missing"]}}
    assert find_by_name(client, "a").connector.connector_id == a
    assert find_by_name(client, "b").connector.connector_id == b
    assert find_by_name(client, "missing").connector is None
    assert len(server.requests) == 1


def test_a_name_not_prefetched_goes_to_the_server(server, client):
    server.add_connector("a")
    snapshot.prefetch(client, snapshot.CONNECTORS, ["a"])
    server.add_connector("other")
    assert find_by_name(client, "other").connector is not None
    assert len(server.requests) == 2


def test_a_write_drops_the_cache_and_the_next_read_goes_to_the_server(server, client):
    server.add_connector("a")
    snapshot.prefetch(client, snapshot.CONNECTORS, ["a"])
    snapshot.prefetch_settings(client)
    client.put("_cluster/settings", body={"persistent": {"plugins.ml_commons.connector.private_ip_enabled": True}})
    before = len(server.requests)
    assert find_by_name(client, "a").connector is not None
    current = read_settings(client)
    assert current["persistent"]["plugins.ml_commons.connector.private_ip_enabled"] in (True, "true")
    assert len(server.requests) == before + 2


def test_duplicates_and_the_halves_of_a_replace_keep_their_meaning(server, client):
    old = server.add_connector("twin", parameters={"polarsearch_credential_fingerprint": "x"})
    new = server.add_connector("twin", parameters={"polarsearch_credential_fingerprint": "y", "polarsearch_replaces": old})
    server.add_connector("dup", parameters={"polarsearch_credential_fingerprint": "x"})
    server.add_connector("dup", parameters={"polarsearch_credential_fingerprint": "y"})
    snapshot.prefetch(client, snapshot.CONNECTORS, ["twin", "dup"])
    cached = [find_by_name(client, "twin"), find_by_name(client, "dup")]
    count = len(server.requests)
    client.snapshot = None
    direct = [find_by_name(client, "twin"), find_by_name(client, "dup")]
    # a search each by name, and one for the models of each of the two duplicates (which one is in use)
    assert len(server.requests) == count + 2 + 2
    assert cached == direct
    assert direct[0].connector.connector_id == new and direct[0].replaced.connector_id == old
    assert len(direct[1].duplicates) == 1


def test_models_by_name_and_by_connector_in_one_search(server, client):
    cid = server.add_connector("c")
    other = server.add_connector("d")
    one = server.add_model("m1", cid, state="DEPLOYED")
    server.add_model("m1", other)
    server.add_model("unrelated", other)
    snapshot.prefetch(client, snapshot.MODELS, ["m1", "m2"], connector_ids=[cid])
    assert len(server.requests) == 1
    assert sorted(m["model_id"] for m in models_named(client, "m1")) == sorted(
        mid for mid, doc in server.models.items() if doc["name"] == "m1")
    assert [m["model_id"] for m in models_using_connector(client, cid)] == [one]
    assert find_model(client, name="m2") is None
    with pytest.raises(Exception, match="2 models are named 'm1'"):
        find_model(client, name="m1")
    assert len(server.requests) == 1


def test_groups_by_name_and_by_id(server, client):
    gid = server.add_group("g", description="mine")
    snapshot.prefetch(client, snapshot.MODEL_GROUPS, ["g"])
    assert find_group(client, name="g")["model_group_id"] == gid
    assert get_group(client, gid)["description"] == "mine"
    assert len(server.requests) == 1


def test_pipelines_of_one_kind_with_one_get(server, client):
    server.pipelines["_ingest"]["p1"] = {"processors": []}
    snapshot.prefetch_pipelines(client, "ingest", ["p1", "p2"])
    assert reads(server) == [("GET", "_ingest/pipeline/p1,p2")]
    assert get_pipeline(client, "ingest", "p1") == {"processors": []}
    assert get_pipeline(client, "ingest", "p2") is None
    assert len(server.requests) == 1


def test_settings_are_read_once_for_every_settings_lookup(server, client):
    from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import safe_delete_enabled
    from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_group import access_control_on
    read_settings(client)
    safe_delete_enabled(client)
    access_control_on(client)
    assert len(server.requests) == 1


def test_without_a_snapshot_every_lookup_reads(server):
    plain = PolarSearchClient("https://search.example.com:9200", requests.Session())
    server.add_connector("a")
    find_by_name(plain, "a")
    find_by_name(plain, "a")
    assert len(server.requests) == 2
