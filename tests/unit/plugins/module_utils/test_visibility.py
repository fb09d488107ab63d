# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run leaves what it changed visible to the next run's searches (module_utils.core.visibility).

The fake server's ``update_search_lag`` keeps a change out of the next searches that find the document, as
2.19.1 does after an update, a deploy or an undeploy (docs/local-cluster.md, "Searches right after a write").
"""

from __future__ import annotations

import copy

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import common, visibility
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_connector as connector_module
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_model as model_module
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_model_group as group_module

from fake_server import default_action

KEY = "sk-live-visibility-0001"


def connector_spec(**overrides):
    args = {"name": "embed", "description": "first", "version": "1", "parameters": {"model": "m"},
            "credential": {"api_key": KEY}, "actions": [copy.deepcopy(default_action())]}
    args.update(overrides)
    return args


def searches_by_id(server, path):
    return [r for r in server.requests if r.method == "POST" and r.path.endswith(path + "/_search")
            and "_id" in str((r.body or {}).get("query"))]


def test_an_update_is_visible_to_the_next_run(run, server):
    server.update_search_lag = 2
    assert run(connector_module, connector_spec())["changed"] is True
    server.requests.clear()
    updated = run(connector_module, connector_spec(description="second"))
    assert updated["changed"] is True and not updated["failed"]
    assert searches_by_id(server, "connectors"), "the run waited for its update to show in a search"
    # a run right after it compares with the new document: nothing to do
    again = run(connector_module, connector_spec(description="second"), check_mode=True)
    assert again["changed"] is False, again["plan"]


def test_without_the_wait_the_next_run_sees_the_old_document(run, server, monkeypatch):
    """What the wait prevents: the next run's search still shows the connector as it was."""
    monkeypatch.setattr(common, "settle", lambda context: True)
    server.update_search_lag = 2
    run(connector_module, connector_spec())
    run(connector_module, connector_spec(description="second"))
    again = run(connector_module, connector_spec(description="second"), check_mode=True)
    assert again["changed"] is True


def test_a_deploy_and_an_undeploy_are_visible_to_the_next_run(run, server):
    server.update_search_lag = 2
    cid = run(connector_module, connector_spec())["connector_id"]
    args = {"name": "embedder", "connector_id": cid, "state": "deployed"}
    assert run(model_module, args)["changed"] is True
    assert run(model_module, args, check_mode=True)["changed"] is False
    args["state"] = "undeployed"
    undeployed = run(model_module, args)
    assert undeployed["changed"] is True
    assert run(model_module, args, check_mode=True)["changed"] is False


def test_a_group_update_is_visible_to_the_next_run(run, server):
    server.update_search_lag = 3
    run(group_module, {"name": "team", "description": "first"})
    assert run(group_module, {"name": "team", "description": "second"})["changed"] is True
    assert run(group_module, {"name": "team", "description": "second"}, check_mode=True)["changed"] is False


def test_a_run_that_changes_nothing_sends_no_extra_request(run, server):
    server.update_search_lag = 2
    run(connector_module, connector_spec())
    server.requests.clear()
    assert run(connector_module, connector_spec())["changed"] is False
    assert searches_by_id(server, "connectors") == []
    assert [r for r in server.requests if r.method == "GET" and "/connectors/" in r.path] == []


def test_check_mode_waits_for_nothing(run, server):
    server.update_search_lag = 2
    run(connector_module, connector_spec())
    server.requests.clear()
    assert run(connector_module, connector_spec(description="second"), check_mode=True)["changed"] is True
    assert searches_by_id(server, "connectors") == []


def test_a_search_that_never_shows_the_change_warns_and_the_run_succeeds(run_warned, server, clock):
    server.update_search_lag = 10 ** 6
    run_warned(connector_module, connector_spec())
    started = clock.now
    updated = run_warned(connector_module, connector_spec(description="second"))
    assert updated["changed"] is True and not updated["failed"]
    assert clock.now - started >= visibility.TIMEOUT
    assert any("did not show this run's changes" in w for w in updated["warnings"]), updated["warnings"]
    assert KEY not in str(updated)


def test_a_deleted_object_is_settled_when_searches_no_longer_show_it():
    class Client:
        def __init__(self):
            self.searches = 0

        def get(self, path, missing_ok=False):
            return None   # deleted: the GET answers 404

        def search(self, path, query, size=100):
            self.searches += 1
            return [{"_id": "c1", "_source": {"name": "x"}}] if self.searches < 3 else []

    class Context:
        def __init__(self):
            self.client = Client()
            self.touched = {"connector": {"c1"}}
            self.now = 0.0

        def wait_for(self, what, probe, timeout, **kwargs):
            while True:
                value = probe()
                if value is not None:
                    return value
                self.now += 0.1

    context = Context()
    assert visibility.settle(context) is True
    assert context.client.searches == 3
