# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An answer of any shape to any request: a clear error naming the request and what came back.

Each shape (empty, a JSON array, a JSON scalar, an HTML page, JSON cut short) is sent, with HTTP
200, as the answer to each kind of request the modules send (search, create, register, GET, PUT,
DELETE, deploy, predict, cluster settings, index). No answer may end in a traceback.
"""

from __future__ import annotations

import copy

import pytest

from ansible_collections.polardb.polarsearch.plugins.modules import (
    polarsearch_cluster_settings,
    polarsearch_connector,
    polarsearch_connector_info,
    polarsearch_index,
    polarsearch_model,
    polarsearch_model_group,
    polarsearch_model_info,
    polarsearch_pipeline,
    polarsearch_predict,
)

from fake_server import IndexServer, default_action

KEY = "sk-odd-answer-0001"
CONNECTOR = {"name": "odd", "version": "1", "parameters": {"model": "m"}, "credential": {"api_key": KEY},
             "actions": [default_action()]}

PIPELINE = {"name": "odd-pipeline", "type": "ingest",
            "definition": {"description": "odd", "processors": [{"set": {"field": "f", "value": "v"}}]}}

SHAPES = {
    "empty": ("", {}, "an empty body"),
    "array": ([{"hits": 1}], {}, "a JSON array of 1 item(s)"),
    "scalar": (42, {}, "a JSON scalar (42)"),
    "html": ("<html><body>Bad gateway page</body></html>", {}, "not JSON"),
    "cut short": ('{"hits": {"hits": [{"_id": "ab', {"Content-Type": "application/json"},
                  "JSON that is cut short or malformed"),
}


def with_connector(server):
    server.add_connector("odd")


def with_model(server, state="DEPLOYED"):
    cid = server.add_connector("odd")
    server.add_model("odd-model", cid, state=state, model_id="m1")


# (module, arguments, arrange, method, path of the request that gets the odd answer)
REQUESTS = {
    "connector search": (polarsearch_connector, CONNECTOR, None, "POST", r"connectors/_search$"),
    "connector create": (polarsearch_connector, CONNECTOR, None, "POST", r"connectors/_create$"),
    "connector update": (polarsearch_connector, dict(CONNECTOR, description="changed"), with_connector, "PUT",
                         r"connectors/[^/]+$"),
    "connector delete": (polarsearch_connector, {"name": "odd", "state": "absent"}, with_connector, "DELETE",
                         r"connectors/[^/]+$"),
    "connector get": (polarsearch_model_info, {}, with_model, "GET", r"connectors/[^/_]+$"),
    "model group register": (polarsearch_model_group, {"name": "odd-group"}, None, "POST", r"model_groups/_register$"),
    "model register": (polarsearch_model, {"name": "odd-model", "connector": "odd"}, with_connector, "POST",
                       r"models/_register$"),
    "model search": (polarsearch_model, {"name": "odd-model", "connector": "odd"}, with_connector, "POST",
                     r"models/_search$"),
    "model deploy": (polarsearch_model, {"name": "odd-model", "connector": "odd", "state": "deployed"},
                     lambda s: with_model(s, "REGISTERED"), "POST", r"models/m1/_deploy$"),
    "model get": (polarsearch_model, {"model_id": "m1", "state": "undeployed"}, with_model, "GET", r"models/m1$"),
    "predict": (polarsearch_predict, {"model_id": "m1", "parameters": {"input": ["x"]}}, with_model, "POST",
                r"models/m1/_predict$"),
    "model undeploy": (polarsearch_model, {"model_id": "m1", "state": "undeployed"}, with_model, "POST",
                       r"models/m1/_undeploy$"),
    "model delete": (polarsearch_model, {"model_id": "m1", "state": "absent"}, lambda s: with_model(s, "REGISTERED"),
                     "DELETE", r"models/m1$"),
    "connector info": (polarsearch_connector_info, {}, with_connector, "POST", r"connectors/_search$"),
    "pipeline get": (polarsearch_pipeline, PIPELINE, None, "GET", r"^_ingest/pipeline/odd-pipeline$"),
    "pipeline put": (polarsearch_pipeline, PIPELINE, None, "PUT", r"^_ingest/pipeline/odd-pipeline$"),
    "settings get": (polarsearch_cluster_settings, {"persistent": {"plugins.ml_commons.max_model_on_node": 11}},
                     None, "GET", r"^_cluster/settings$"),
    "settings put": (polarsearch_cluster_settings, {"persistent": {"plugins.ml_commons.max_model_on_node": 11}},
                     None, "PUT", r"^_cluster/settings$"),
    "index get": (polarsearch_index, {"name": "docs", "mappings": {"properties": {"t": {"type": "text"}}}}, None,
                  "GET", r"^docs$"),
    "index create": (polarsearch_index, {"name": "docs", "mappings": {"properties": {"t": {"type": "text"}}}}, None,
                     "PUT", r"^docs$"),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("request_name", sorted(REQUESTS))
def test_an_odd_answer_is_a_clear_error_naming_the_request(monkeypatch, clock, run, request_name, shape):
    module, arguments, arrange, method, path = REQUESTS[request_name]
    server = IndexServer()
    if arrange is not None:
        arrange(server)
    body, headers, described = SHAPES[shape]
    server.fail_next(method, path, status=200, body=body, headers=headers, times=10)
    server.install(monkeypatch)
    result = run(module, copy.deepcopy(arguments), extra_secrets=[KEY])
    assert any(r.method == method and r.path for r in server.calls(method, path)), "the request was not sent"
    assert result["failed"] is True, result
    message = result["msg"]
    assert "Traceback" not in message
    # the request and what came back are named
    assert method in message, message
    assert described in message, message


@pytest.mark.parametrize("module, arguments, arrange, path, key", [
    (polarsearch_connector, CONNECTOR, None, r"connectors/_create$", "connector_id"),
    (polarsearch_model_group, {"name": "odd-group"}, None, r"model_groups/_register$", "model_group_id"),
    (polarsearch_model, {"name": "odd-model", "connector": "odd"}, with_connector, r"models/_register$", "model_id"),
])
def test_a_create_answer_without_the_id_names_the_request(monkeypatch, clock, run, module, arguments, arrange, path,
                                                          key):
    server = IndexServer()
    if arrange is not None:
        arrange(server)
    server.fail_next("POST", path, status=200, body={"status": "CREATED"}, times=10)
    server.install(monkeypatch)
    result = run(module, copy.deepcopy(arguments), extra_secrets=[KEY])
    assert result["failed"] is True
    assert "answered with a JSON object with keys status, without %s" % key in result["msg"]
    assert "POST _plugins/_ml/" in result["msg"]


def test_the_last_line_of_defence_names_the_last_request(monkeypatch, clock, run):
    """Whatever a handler raises, the module fails with a message, never a traceback."""
    server = IndexServer().install(monkeypatch)

    def broken(params, context):
        context.client.get("_cluster/settings")
        return {}["missing"]

    monkeypatch.setattr(polarsearch_cluster_settings, "ensure_settings", broken)
    result = run(polarsearch_cluster_settings, {"persistent": {"plugins.ml_commons.max_model_on_node": 11}})
    assert result["failed"] is True and server.requests
    assert result["msg"].startswith("KeyError: 'missing', while handling the answer to GET _cluster/settings")
