# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A model delete that undeployed the model and then failed names the model and the state it is left in."""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_model as module


def test_a_failed_delete_after_the_undeploy_names_the_model_and_its_state(run, server):
    connector_id = server.add_connector("c")
    model_id = server.add_model("m", connector_id, state="DEPLOYED")
    server.fail_next("DELETE", r"models/%s$" % model_id, 400, reason="delete refused")
    result = run(module, {"name": "m", "state": "absent"})
    assert result["failed"] is True and result["changed"] is True, result
    assert server.models[model_id]["model_state"] == "UNDEPLOYED"
    assert "delete refused" in result["msg"]
    assert "m (%s)" % model_id in result["msg"] and "UNDEPLOYED" in result["msg"], result["msg"]
    again = run(module, {"name": "m", "state": "absent"})
    assert again["failed"] is False and model_id not in server.models
