# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IndexRequest: the index options read once at the door, only the options set, bad input refused first."""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import Context, ModuleFailure
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.index import create_body, ensure_index, view
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.index_request import IndexRequest


class NoClient:
    """A client that fails on any use: what a check before any request never touches."""

    def __getattr__(self, name):
        raise AssertionError("a request was made: %s" % name)


def test_an_index_request_holds_only_the_options_set():
    request = IndexRequest.from_params({"name": "docs", "state": "present", "mappings": None, "settings": None,
                                        "recreate": False, "only_if_managed": False})
    assert (request.name, request.state, request.mappings, dict(request.settings)) == ("docs", "present", None, {})
    assert request.recreate is False and request.only_if_managed is False
    assert create_body(request) == {"mappings": {"_meta": {"managed_by": "polardb.polarsearch"}}}
    assert view(request, {"mappings": {"dynamic": "strict", "properties": {"a": {"type": "text"}}},
                          "settings": {"index.knn": "true"}}) == {"mappings": {}, "settings": {}}


def test_an_index_request_holds_the_settings_as_the_server_returns_them():
    request = IndexRequest.from_params({"name": "docs", "state": "present", "recreate": True,
                                        "mappings": {"dynamic": False, "properties": {"t": {"type": "text"}}},
                                        "settings": {"knn": True, "index": {"number_of_replicas": 0},
                                                     "index.refresh_interval": None}})
    assert dict(request.settings) == {"index.knn": "true", "index.number_of_replicas": "0"}
    assert dict(request.mappings) == {"dynamic": False, "properties": {"t": {"type": "text"}}}
    assert request.recreate is True and request.state == "present"
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.name = "other"
    with pytest.raises(TypeError):
        request.settings["index.knn"] = "false"


@pytest.mark.parametrize("bad, named", [
    ({"name": "Docs"}, "name 'Docs' is not a valid index name"),
    ({"mappings": {"properties": {"v": {"type": "knn_vector", "dimension": 0}}}},
     "mappings.properties.v.dimension is 0"),
    ({"mappings": {"_meta": "x"}}, "mappings._meta must be a mapping"),
    ({"settings": {"index": {"uuid": "x"}}}, "settings.index.uuid is set by the server"),
])
def test_an_index_request_refuses_bad_input_before_any_request(bad, named):
    params = dict({"name": "docs", "state": "present"}, **bad)
    with pytest.raises(ModuleFailure, match=named):
        IndexRequest.from_params(params)
    with pytest.raises(ModuleFailure, match=named):
        ensure_index(params, Context(NoClient(), check_mode=False))
