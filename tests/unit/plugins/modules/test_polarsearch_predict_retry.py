# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""polarsearch_predict: a predict whose answer was lost is sent again only with retry_predict."""

from __future__ import annotations

import pytest
import requests

from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_cluster_settings, polarsearch_predict

READ_ONLY = {"persistent": {"plugins.ml_commons.only_run_on_ml_node": True}}


@pytest.fixture
def model(server):
    server.add_connector("embedding", connector_id="c1")
    server.add_model("embed", "c1", state="DEPLOYED", model_id="m1")
    server.inference_results["m1"] = [{"output": [{"name": "sentence_embedding", "data": [0.1, 0.2]}],
                                       "status_code": 200}]
    return server


def predicts(server):
    return server.calls("POST", "/_predict$")


def lose_the_answer(server):
    # the model service ran the prediction; the answer never came back within the read timeout
    server.fail_next("POST", "m1/_predict$", exc=requests.exceptions.ReadTimeout("Read timed out. (read timeout=30)"),
                     process=True)


def test_a_lost_predict_answer_is_not_sent_again_by_default(run_warned, model):
    lose_the_answer(model)
    result = run_warned(polarsearch_predict, {"name": "embed", "parameters": {"input": ["a"]}})
    assert result["failed"] is True
    assert len(predicts(model)) == 1
    assert "retry_predict" in result["msg"]
    assert "no answer from search.example.com:9200 within 30" in result["msg"]


def test_retry_predict_sends_it_again_and_warns(run_warned, model):
    lose_the_answer(model)
    result = run_warned(polarsearch_predict, {"name": "embed", "parameters": {"input": ["a"]}, "retry_predict": True})
    assert result["failed"] is False, result["msg"]
    assert len(predicts(model)) == 2
    assert len(result["warnings"]) == 1
    assert result["warnings"][0].startswith("POST _plugins/_ml/models/m1/_predict: no answer from ")


def test_a_retry_warning_reaches_the_module_result(run_warned, server):
    server.fail_next("GET", "_cluster/settings", 503, reason="No shard available for [get]")
    result = run_warned(polarsearch_cluster_settings, READ_ONLY)
    assert result["failed"] is False
    assert result["warnings"] == [
        "GET _cluster/settings: HTTP 503: No shard available for [get]; sending it again in 0.5 s (attempt 2 of 4)"]
