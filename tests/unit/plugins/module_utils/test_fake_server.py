# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake answers the way the ML Commons REST reference says the real API does."""

from __future__ import annotations

import pytest
import requests

from fake_server import DEFAULT_TRUSTED, TRUSTED_KEY, default_action

BASE = "https://h:9200/"
ML = BASE + "_plugins/_ml"


@pytest.fixture
def http(server):
    return requests.Session()


def reason(response):
    return response.json()["error"]["reason"]


def create_connector(http, **fields):
    body = {"name": "emb", "version": 1, "protocol": "http", "credential": {"api_key": "secret-key"},
            "parameters": {"n": 7, "f": 0.5, "b": True, "l": [1, 2], "s": "x"}, "actions": [default_action()]}
    body.update(fields)
    response = http.post(ML + "/connectors/_create", json=body)
    assert response.status_code == 200, response.text
    return response.json()["connector_id"]


def test_connector_create_get_search(http, server):
    cid = create_connector(http)
    doc = http.get(ML + "/connectors/" + cid).json()
    assert "credential" not in doc and "connector_id" not in doc
    assert doc["version"] == "1"
    assert doc["parameters"] == {"n": "7", "f": "0.5", "b": "true", "l": "[1,2]", "s": "x"}
    hits = http.post(ML + "/connectors/_search", json={"query": {"term": {"name.keyword": "emb"}}}).json()
    assert [h["_id"] for h in hits["hits"]["hits"]] == [cid]
    assert "credential" not in hits["hits"]["hits"][0]["_source"]
    missing = http.get(ML + "/connectors/nope")
    assert missing.status_code == 404
    assert reason(missing) == "Failed to find connector with the provided connector id: nope"


def test_connector_create_rules(http, server):
    no_credential = {"name": "x", "version": "1", "protocol": "http", "actions": [default_action()]}
    assert http.post(ML + "/connectors/_create", json=no_credential).status_code == 400
    untrusted = http.post(ML + "/connectors/_create", json={
        "name": "x", "version": "1", "protocol": "http", "credential": {"k": "v"},
        "actions": [default_action("https://dashscope.aliyuncs.com/v1")]})
    assert untrusted.status_code == 400
    assert "trusted connector endpoint regex" in reason(untrusted)
    server.set_setting(TRUSTED_KEY, [r"^https://dashscope\.aliyuncs\.com/.*$"])
    create_connector(http, actions=[default_action("https://dashscope.aliyuncs.com/v1")])
    server.master_key_missing = 1
    first = http.post(ML + "/connectors/_create", json={})
    assert first.status_code == 404 and "master key" in reason(first)


def test_connector_update_merges_parameters_and_is_refused_while_deployed(http, server):
    cid = create_connector(http)
    assert http.put(ML + "/connectors/" + cid, json={"parameters": {"n": 8, "new": "y"},
                                                     "credential": {"api_key": "k2"}}).status_code == 200
    assert server.connectors[cid]["parameters"] == {"n": "8", "f": "0.5", "b": "true", "l": "[1,2]", "s": "x",
                                                    "new": "y"}
    assert server.connectors[cid]["credential"] == {"api_key": "k2"}
    mid = server.add_model("m", cid, state="DEPLOYED")
    refused = http.put(ML + "/connectors/" + cid, json={"description": "d"})
    assert refused.status_code == 400
    assert reason(refused) == ("1 models are still using this connector, please undeploy the models first: [%s]"
                               % mid)


def test_connector_delete(http, server):
    cid = create_connector(http)
    mid = server.add_model("m", cid, state="UNDEPLOYED")
    conflict = http.delete(ML + "/connectors/" + cid)
    assert conflict.status_code == 409 and mid in reason(conflict)
    del server.models[mid]
    assert http.delete(ML + "/connectors/" + cid).json()["result"] == "deleted"
    gone = http.delete(ML + "/connectors/" + cid)
    assert gone.status_code == 200 and gone.json()["result"] == "not_found"


def test_model_lifecycle(http, server):
    cid = create_connector(http)
    server.deploy_polls = 2
    answer = http.post(ML + "/models/_register", json={"name": "m", "function_name": "remote",
                                                       "connector_id": cid}).json()
    assert answer["status"] == "CREATED"
    mid = answer["model_id"]
    model = server.models[mid]
    assert model["model_state"] == "REGISTERED"
    assert server.groups[model["model_group_id"]]["name"] == "m"
    deploy = http.post(ML + "/models/%s/_deploy" % mid).json()
    assert deploy["status"] == "COMPLETED"
    assert server.models[mid]["model_state"] == "DEPLOYING"
    busy = http.put(ML + "/models/" + mid, json={"description": "d"})
    assert busy.status_code == 409
    assert http.get(ML + "/tasks/" + deploy["task_id"]).json()["state"] == "RUNNING"
    assert http.get(ML + "/models/" + mid).json()["model_state"] == "DEPLOYED"
    assert http.put(ML + "/models/" + mid, json={"description": "d"}).status_code == 200
    assert http.delete(ML + "/models/" + mid).status_code == 400
    assert http.post(ML + "/models/%s/_undeploy" % mid).json() == {"nd1Xq0TzS8aH3bLk9PqR2w": {"stats": {
        mid: "undeployed"}}}
    assert http.delete(ML + "/models/" + mid).json()["result"] == "deleted"
    assert http.delete(ML + "/models/" + mid).status_code == 404
    missing = http.get(ML + "/models/" + mid)
    assert reason(missing) == "Failed to find model with the provided model id: %s" % mid


def test_model_search_filters(http, server):
    cid = server.add_connector("c")
    mid = server.add_model("Qwen-Max", cid)

    def ids(query):
        hits = http.post(ML + "/models/_search", json={"query": query}).json()["hits"]["hits"]
        return [h["_id"] for h in hits]

    assert ids({"term": {"name.keyword": "Qwen-Max"}}) == [mid]
    assert ids({"term": {"name.keyword": "qwen-max"}}) == []
    assert ids({"term": {"name": "qwen"}}) == [mid]           # analysed text field
    assert ids({"term": {"connector_id.keyword": cid}}) == [mid]
    assert ids({"bool": {"filter": [{"term": {"algorithm": "REMOTE"}},
                                    {"term": {"model_group_id": server.models[mid]["model_group_id"]}}]}}) == [mid]


def test_group_rules(http, server):
    gid = http.post(ML + "/model_groups/_register", json={"name": "g"}).json()["model_group_id"]
    dup = http.post(ML + "/model_groups/_register", json={"name": "g"})
    assert dup.status_code == 400 and gid in reason(dup)
    server.add_model("m", server.add_connector("c"), model_group_id=gid)
    assert http.delete(ML + "/model_groups/" + gid).status_code == 409


def test_cluster_settings(http, server):
    flat = http.get(BASE + "_cluster/settings", params={"flat_settings": "true", "include_defaults": "true"}).json()
    assert flat["defaults"][TRUSTED_KEY] == DEFAULT_TRUSTED
    assert flat["defaults"]["plugins.ml_commons.connector.private_ip_enabled"] == "false"
    assert flat["defaults"]["plugins.ml_commons.only_run_on_ml_node"] == "true"
    unknown = http.put(BASE + "_cluster/settings", json={"persistent": {"plugins.ml_commons.nope": 1}})
    assert unknown.status_code == 400
    assert reason(unknown) == "persistent setting [plugins.ml_commons.nope], not recognized"
    ok = http.put(BASE + "_cluster/settings", json={"persistent": {"plugins": {"ml_commons": {
        "connector": {"private_ip_enabled": True}}}}})
    assert ok.json()["acknowledged"] is True
    nested = http.get(BASE + "_cluster/settings").json()
    assert nested["persistent"] == {"plugins": {"ml_commons": {"connector": {"private_ip_enabled": "true"}}}}
    http.put(BASE + "_cluster/settings", json={"persistent": {"plugins.ml_commons.connector.private_ip_enabled":
                                                              None}})
    assert server.settings["persistent"] == {}


def test_predict(http, server):
    cid = server.add_connector("c")
    mid = server.add_model("m", cid, state="UNDEPLOYED")
    results = [{"output": [{"name": "sentence_embedding", "data": [0.5]}], "status_code": 200}]
    server.inference_results[mid] = results
    answer = http.post(ML + "/models/%s/_predict" % mid, json={"parameters": {"input": ["a"]}})
    assert answer.json() == {"inference_results": results}
    assert server.models[mid]["model_state"] == "DEPLOYED"          # auto-deploy on the first predict
    assert http.post(ML + "/models/nope/_predict", json={}).status_code == 404
    server.models[mid]["is_enabled"] = False
    disabled = http.post(ML + "/models/%s/_predict" % mid, json={})
    assert disabled.status_code == 403 and reason(disabled) == "Model is disabled."
    other = server.add_model("other", cid, state="REGISTERED")
    server.set_setting("plugins.ml_commons.model_auto_deploy.enable", False)
    not_ready = http.post(ML + "/models/%s/_predict" % other, json={})
    assert not_ready.status_code == 400
    assert reason(not_ready) == ("Model not ready yet. Please run this first: POST /_plugins/_ml/models/%s/_deploy"
                                 % other)


def test_search_pages_and_credentials(http, server):
    ids = [server.add_connector("c%d" % n, credential={"api_key": "k%d" % n}) for n in range(3)]

    def page(start, size):
        body = {"query": {"match_all": {}}, "from": start, "size": size}
        return http.post(ML + "/connectors/_search", json=body).json()["hits"]

    assert [h["_id"] for h in page(0, 2)["hits"]] == ids[:2]
    assert [h["_id"] for h in page(2, 2)["hits"]] == ids[2:]
    assert page(2, 2)["total"]["value"] == 3
    assert "credential" not in page(0, 1)["hits"][0]["_source"]
    server.leak_credentials = True
    assert page(0, 1)["hits"][0]["_source"]["credential"] == {"api_key": "k0"}
    assert http.get(ML + "/connectors/" + ids[0]).json()["credential"] == {"api_key": "k0"}
