"""The core modules against a real OpenSearch + ML Commons and the local model service."""

from __future__ import annotations

import threading
import time

import pytest

from conftest import ML, NOT_DEPLOYED, TRUSTED, four_steps
from plans import plan_text
from specs import EMBED_INPUT, embedding_connector, llm_connector, rerank_connector


# -- cluster settings -----------------------------------------------------------------
def test_cluster_settings_states_and_drift(env, rest, ansible):
    entry = "^http://127\\.0\\.0\\.1:1/it-%d/.*$" % int(time.time())
    args = {"persistent": {TRUSTED: [entry]}}
    real = four_steps(ansible, "polarsearch_cluster_settings", args)
    current = rest.settings()["persistent"][TRUSTED]
    assert entry in current
    assert "^https://api\\.openai\\.com/.*$" in current, "append keeps the default entries"
    assert real["diff"]["after"]["persistent"][TRUSTED] == current

    # Out of band: somebody drops the entry again.
    rest.call("PUT", "/_cluster/settings", {"persistent": {TRUSTED: [e for e in current if e != entry]}})
    drift = ansible.run("polarsearch_cluster_settings", args, check=True)
    assert drift["changed"] is True
    assert entry not in drift["diff"]["before"]["persistent"][TRUSTED]
    assert entry not in rest.settings()["persistent"][TRUSTED], "check mode wrote nothing"
    fixed = ansible.run("polarsearch_cluster_settings", args)
    assert fixed["changed"] is True and entry in rest.settings()["persistent"][TRUSTED]

    # remove: the entry goes, and the list returns to its earlier value.
    four_steps(ansible, "polarsearch_cluster_settings", dict(args, list_mode="remove"))
    assert entry not in rest.settings()["persistent"].get(TRUSTED, [])

    # A scalar set out of band, and reset with null.
    rest.call("PUT", "/_cluster/settings", {"persistent": {"plugins.ml_commons.max_model_on_node": 11}})
    reset = {"persistent": {"plugins": {"ml_commons": {"max_model_on_node": None}}}}
    four_steps(ansible, "polarsearch_cluster_settings", reset)
    assert "plugins.ml_commons.max_model_on_node" not in rest.settings()["persistent"]

    unknown = ansible.run("polarsearch_cluster_settings", {"persistent": {"plugins.ml_commons.no_such_key": 1}},
                          check=True)
    assert unknown["failed"] and "plugins.ml_commons.no_such_key" in unknown["msg"]


# -- connector ------------------------------------------------------------------------
def test_connector_lifecycle_drift_and_secrets(env, rest, ansible, trusted, prefix, cleanup):
    name = prefix + "-embed"
    cleanup[1].append(name)
    spec = embedding_connector(name, env)
    created = four_steps(ansible, "polarsearch_connector", spec)
    stored = rest.connectors(name)
    assert len(stored) == 1
    assert stored[0]["parameters"]["model"] == "text-embedding-v4"
    assert stored[0]["parameters"]["polarsearch_credential_fingerprint"].startswith("hmac-sha256:v1:")
    assert "credential" not in stored[0]
    assert created["connector_id"] == stored[0]["connector_id"]
    assert "polarsearch_credential_fingerprint" not in created["connector"]["parameters"]

    # Out-of-band change through REST: the module sees it in check mode and fixes it.
    cid = stored[0]["connector_id"]
    rest.call("PUT", ML + "/connectors/%s" % cid, {"description": "changed by hand",
                                                   "parameters": {"model": "other-model"}})
    drift = ansible.run("polarsearch_connector", spec, check=True)
    assert drift["changed"] is True
    assert drift["diff"]["before"]["description"] == "changed by hand"
    assert drift["diff"]["after"]["parameters"]["model"] == "text-embedding-v4"
    assert rest.connectors(name)[0]["description"] == "changed by hand", "check mode wrote nothing"
    four_steps_after = ansible.run("polarsearch_connector", spec)
    assert four_steps_after["changed"] is True
    fixed = rest.connectors(name)[0]
    assert fixed["description"] == "Local text-embedding-v4" and fixed["parameters"]["model"] == "text-embedding-v4"
    assert fixed["connector_id"] == cid, "no model uses it: updated in place"

    # A removed parameter key needs a replace (the server cannot drop keys).
    rest.call("PUT", ML + "/connectors/%s" % cid, {"parameters": {"extra": "x"}})
    replaced = four_steps(ansible, "polarsearch_connector", spec)
    assert [(s["operation"], s["kind"], s["id"]) for s in replaced["plan"]] == [("create", "connector", None),
                                                                                ("delete", "connector", cid)]
    after = rest.connectors(name)
    assert len(after) == 1 and "extra" not in after[0]["parameters"] and after[0]["connector_id"] != cid

    # A rotated credential is noticed through the fingerprint; the diff shows no value.
    rotated_key = "rotated-" + prefix
    rotated = embedding_connector(name, env, api_key=rotated_key)
    check = ansible.run("polarsearch_connector", rotated, check=True)
    assert check["changed"] is True and check["diff"]["after"]["credential"] == "changed"
    verbose = ansible.run("polarsearch_connector", rotated, verbosity=3)
    assert verbose["changed"] is True
    assert rotated_key not in ansible.last_output
    assert env["api_key"] not in ansible.last_output
    assert ansible.run("polarsearch_connector", rotated, check=True)["changed"] is False
    # credential_update=on_create never sends it to an existing connector.
    assert ansible.run("polarsearch_connector", dict(spec, credential_update="on_create"))["changed"] is False
    # always sends it on every run.
    assert ansible.run("polarsearch_connector", dict(spec, credential_update="always"))["changed"] is True

    # Bad input: a clear error naming the option, and nothing written.
    bad = ansible.run("polarsearch_connector", dict(spec, actions=[dict(spec["actions"][0], action_type="guess")]))
    assert bad["failed"] and "action_type" in bad["msg"]
    assert len(rest.connectors(name)) == 1

    # absent: CHECK, real, CHECK, real; a connector already gone is success.
    four_steps(ansible, "polarsearch_connector", {"name": name, "state": "absent"})
    assert rest.connectors(name) == []


def test_duplicate_names_fail_with_ids(env, rest, ansible, trusted, prefix):
    name = prefix + "-dup"
    body = embedding_connector(name, env)
    ids = [rest.call("POST", ML + "/connectors/_create", body)["connector_id"] for copy in range(2)]
    try:
        result = ansible.run("polarsearch_connector", body, check=True)
        assert result["failed"] and all(i in result["msg"] for i in ids)
        by_id = ansible.run("polarsearch_connector", {"connector_id": ids[0], "state": "absent"})
        assert by_id["changed"] is True
    finally:
        for cid in ids:
            rest.call("DELETE", ML + "/connectors/%s" % cid, ok=None)


def test_keep_one_settles_connectors_and_models_made_twice_by_hand(env, rest, ansible, trusted, prefix):
    """Same-named connectors and models made by hand: the default fails naming them; duplicates: keep_one
    keeps the connector a model uses and the model a pipeline uses, deletes the others (check mode
    predicts the same plan and writes nothing), and never deletes one in use."""
    cname, mname, pipeline = prefix + "-dupc", prefix + "-dupm", prefix + "-dup-ingest"
    body = embedding_connector(cname, env)
    unused, used = [rest.call("POST", ML + "/connectors/_create", body)["connector_id"] for copy in range(2)]
    group = rest.call("POST", ML + "/model_groups/_register", {"name": prefix + "-dup-group"})["model_group_id"]
    register = {"name": mname, "function_name": "remote", "connector_id": used, "model_group_id": group}
    spare, kept = [rest.call("POST", ML + "/models/_register", register)["model_id"] for copy in range(2)]
    rest.call("PUT", "/_ingest/pipeline/" + pipeline, {"processors": [{"ml_inference": {
        "model_id": kept, "input_map": [{"input": "text"}], "output_map": [{"embedding": "data"}]}}]})
    connector_args = dict(body, credential_update="on_create")
    model_args = {"name": mname, "connector": cname, "state": "present"}
    try:
        # a model run waits for same-named models that are not deployed to be settled by the runs registering
        # them, up to wait_timeout (at most 60 s): these were made by hand and stay, so 5 s do
        for module, args in (("polarsearch_connector", connector_args),
                             ("polarsearch_model", dict(model_args, wait_timeout=5))):
            refused = ansible.run(module, args)
            assert refused["failed"] and "keep_one" in refused["msg"] and refused["changed"] is False, refused
        assert len(rest.connectors(cname)) == 2 and len(rest.models(mname)) == 2

        settled = four_steps(ansible, "polarsearch_connector", dict(connector_args, duplicates="keep_one"))
        assert plan_text(settled) == ["delete connector %s (%s)" % (cname, unused)]
        assert settled["connector_id"] == used and [c["connector_id"] for c in rest.connectors(cname)] == [used]

        settled = four_steps(ansible, "polarsearch_model", dict(model_args, duplicates="keep_one"))
        assert plan_text(settled) == ["delete model %s (%s)" % (mname, spare)]
        assert settled["model_id"] == kept and [m["model_id"] for m in rest.models(mname)] == [kept]

        # The one left is in use: keep_one with state absent refuses it, as any delete would.
        refused = ansible.run("polarsearch_model", {"name": mname, "duplicates": "keep_one", "state": "absent"})
        assert refused["failed"] and "ingest pipeline %s" % pipeline in refused["msg"]
        assert [m["model_id"] for m in rest.models(mname)] == [kept]
    finally:
        rest.call("DELETE", "/_ingest/pipeline/" + pipeline, ok=(200, 404))
        for model_id in (spare, kept):
            rest.call("DELETE", ML + "/models/%s" % model_id, ok=None)
        rest.call("DELETE", ML + "/model_groups/%s" % group, ok=None)
        for cid in (unused, used):
            rest.call("DELETE", ML + "/connectors/%s" % cid, ok=None)


# -- model ----------------------------------------------------------------------------
def test_model_states_drift_and_predictions(env, rest, ansible, trusted, prefix, cleanup):
    models, connectors = cleanup
    kinds = {
        "embed": (embedding_connector, EMBED_INPUT),
        "rerank": (rerank_connector, {"query": "what is polarsearch",
                                      "documents": ["PolarSearch is a search engine", "bananas are yellow"]}),
        "llm": (llm_connector, {"messages": [{"role": "user", "content": "Say hello to PolarSearch"}]}),
    }
    for kind, (make, _parameters) in kinds.items():
        connectors.append("%s-%s-c" % (prefix, kind))
        models.append("%s-%s" % (prefix, kind))
        assert not ansible.run("polarsearch_connector", make(connectors[-1], env)).get("failed")

    name = models[0]
    base = {"name": name, "connector": connectors[0], "description": "embedding"}
    registered = four_steps(ansible, "polarsearch_model", dict(base, state="present"))
    model_id = registered["model_id"]
    assert rest.model(model_id)["model_state"] == "REGISTERED"
    deployed = four_steps(ansible, "polarsearch_model", dict(base, state="deployed"))
    assert deployed["model"]["model_state"] == "DEPLOYED" == rest.model(model_id)["model_state"]
    four_steps(ansible, "polarsearch_model", dict(base, state="undeployed"))
    assert rest.model(model_id)["model_state"] in NOT_DEPLOYED
    four_steps(ansible, "polarsearch_model", dict(base, state="deployed"))

    # Out of band: undeployed through REST; check mode reports it, a real run fixes it.
    state = rest.undeploy(model_id)
    drift = ansible.run("polarsearch_model", dict(base, state="deployed"), check=True)
    assert drift["changed"] is True and plan_text(drift) == ["deploy model %s (%s)" % (name, model_id)]
    assert rest.model(model_id)["model_state"] == state
    assert ansible.run("polarsearch_model", dict(base, state="deployed"))["changed"] is True
    assert rest.model(model_id)["model_state"] == "DEPLOYED"

    # Description drift is a model update, allowed while deployed.
    rest.call("PUT", ML + "/models/%s" % model_id, {"description": "by hand"})
    fix = ansible.run("polarsearch_model", dict(base, state="deployed"))
    assert fix["changed"] and fix["diff"]["before"]["description"] == "by hand"
    assert rest.model(model_id)["description"] == "embedding"

    # The doc's step 4 through ML Commons to the local model service, for the three kinds.
    for (kind, (_make, parameters)), model_name, connector in zip(kinds.items(), models, connectors):
        if kind != "embed":
            result = ansible.run("polarsearch_model", {"name": model_name, "connector": connector,
                                                       "state": "deployed"})
            assert result["changed"] and rest.model(result["model_id"])["model_state"] == "DEPLOYED"
        mid = rest.models(model_name)[0]["model_id"]
        response = rest.predict(mid, parameters)
        assert response.status_code == 200, response.text
        output = response.json()["inference_results"][0]["output"]
        if kind == "embed":
            assert len(output) == 2 and output[0]["name"] == "sentence_embedding" and len(output[0]["data"]) > 10
        elif kind == "rerank":
            results = output[0]["dataAsMap"]["output"]["results"]
            assert sorted(r["index"] for r in results) == [0, 1]
            assert all(0.0 <= r["relevance_score"] <= 1.0 for r in results)
            assert results[0]["index"] == 0, "the related document ranks first"
        else:
            text = output[0]["dataAsMap"]["choices"][0]["message"]["content"]
            assert text.strip()

    # absent: undeploy, delete, and the auto-created model group goes too.
    group_id = rest.model(model_id)["model_group_id"]
    four_steps(ansible, "polarsearch_model", {"name": name, "state": "absent"})
    assert rest.models(name) == []
    assert rest.groups(name) == []
    assert rest.request("GET", ML + "/model_groups/%s" % group_id).status_code == 404


def test_connector_change_under_deployed_model(env, rest, ansible, trusted, prefix, cleanup):
    models, connectors = cleanup
    connector, name = prefix + "-c", prefix + "-m"
    connectors.append(connector)
    models.append(name)
    spec = embedding_connector(connector, env)
    assert not ansible.run("polarsearch_connector", spec).get("failed")
    model = ansible.run("polarsearch_model", {"name": name, "connector": connector, "state": "deployed"})
    model_id = model["model_id"]

    # fail: a clear error naming the model, nothing changed.
    changed_spec = dict(spec, description="new description")
    failed = ansible.run("polarsearch_connector", dict(changed_spec, on_deployed_models="fail"))
    assert failed["failed"] and name in failed["msg"]
    assert rest.connectors(connector)[0]["description"] == "Local text-embedding-v4"

    # redeploy: undeploy, update in place, deploy again.
    cid = rest.connectors(connector)[0]["connector_id"]
    check = ansible.run("polarsearch_connector", dict(changed_spec, on_deployed_models="redeploy"), check=True)
    assert plan_text(check) == ["undeploy model %s (%s)" % (name, model_id),
                                "update connector %s (%s): description" % (connector, cid),
                                "deploy model %s (%s)" % (name, model_id)]
    redeployed = ansible.run("polarsearch_connector", dict(changed_spec, on_deployed_models="redeploy"))
    assert redeployed["plan"] == check["plan"]
    assert rest.connectors(connector)[0]["connector_id"] == cid
    assert rest.model(model_id)["model_state"] == "DEPLOYED"

    # replace (the default): predictions keep answering the whole time.
    stop = threading.Event()
    outcomes = []

    def hammer():
        while not stop.is_set():
            response = rest.predict(model_id, EMBED_INPUT)
            outcomes.append(response.status_code)
            time.sleep(0.05)

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        action = dict(spec["actions"][0], request_body='{ "model": "${parameters.model}", "input": '
                      '${parameters.input}, "dimensions": ${parameters.dimensions} }')
        replace_spec = dict(spec, description="replaced", parameters=dict(spec["parameters"], dimensions=64),
                            actions=[action])
        plan = ansible.run("polarsearch_connector", replace_spec, check=True)["plan"]
        replaced = ansible.run("polarsearch_connector", replace_spec)
        time.sleep(1)
    finally:
        stop.set()
        worker.join()
    if replaced.get("failed") and "could not be replaced" in replaced["msg"]:
        # Every ID this node gives shares a term with every other (a '-' pair in its constant part):
        # no connector with a model on it can be deleted on this node, so no replace can finish.
        assert rest.model(model_id)["connector_id"] == cid and set(outcomes) == {200}
        pytest.skip("this node's IDs all share a term, so the server refuses every replace: %s" % replaced["msg"])
    assert not replaced.get("failed"), replaced
    # The replacement is created under the set-aside name and renamed once the server tells its ID
    # from the old one's; one that shares a term stays set aside and is deleted at the end (those
    # writes are in the plan too, and check mode cannot predict them).
    aside = "%s (unused replacement)" % connector
    assert plan_text({"plan": plan}) == ["create connector %s" % aside, "rename connector %s: name" % aside,
                                         "update model %s (%s): connector_id" % (name, model_id),
                                         "delete connector %s (%s)" % (connector, cid)]
    real = plan_text(replaced)
    assert [t for t in real if t != "create connector %s" % aside and t != "delete connector %s" % aside] == \
        plan_text({"plan": plan})[1:]
    new_cid = replaced["connector_id"]
    assert new_cid != cid and [c["connector_id"] for c in rest.connectors(connector)] == [new_cid]
    assert rest.model(model_id)["connector_id"] == new_cid
    assert rest.model(model_id)["model_state"] == "DEPLOYED"
    assert outcomes and set(outcomes) == {200}, "predict failed during replace: %s" % outcomes
    vector = rest.predict(model_id, EMBED_INPUT).json()["inference_results"][0]["output"][0]["data"]
    assert len(vector) == 64, "the model now calls through the new connector"
    assert ansible.run("polarsearch_connector", replace_spec, check=True)["changed"] is False


def test_interrupted_replace_converges(env, rest, ansible, trusted, prefix, cleanup, id_terms):
    models, connectors = cleanup
    connector, name = prefix + "-c", prefix + "-m"
    connectors.append(connector)
    models.append(name)
    spec = embedding_connector(connector, env)
    old = ansible.run("polarsearch_connector", spec)["connector_id"]
    model_id = ansible.run("polarsearch_model", {"name": name, "connector": connector, "state": "deployed"})["model_id"]
    # A replace that stopped right after creating the new connector.
    body = dict(embedding_connector(connector, env, description="newer"))
    fingerprint = rest.connectors(connector)[0]["parameters"]["polarsearch_credential_fingerprint"]
    body["parameters"] = dict(body["parameters"], polarsearch_replaces=old,
                              polarsearch_credential_fingerprint=fingerprint)
    for attempt in range(3):
        # As the module does: a replacement whose ID shares a term with the old one could never let
        # the old one be deleted (the server compares connector IDs as analyzed text).
        new = rest.call("POST", ML + "/connectors/_create", body)["connector_id"]
        if not id_terms(new) & id_terms(old):
            break
        rest.call("DELETE", ML + "/connectors/%s" % new, ok=None)
        time.sleep(1.1)
    else:
        pytest.skip("this node's IDs all share a term, so the server refuses every replace")
    check = ansible.run("polarsearch_connector", dict(spec, description="newer"), check=True)
    assert not check.get("failed"), check
    assert plan_text(check)[:2] == ["update model %s (%s): connector_id" % (name, model_id),
                                    "delete connector %s (%s)" % (connector, old)]
    result = ansible.run("polarsearch_connector", dict(spec, description="newer"))
    assert not result.get("failed"), result
    assert result["connector_id"] == new
    # The diff shows what the run changed: the old connector before, the new one after.
    assert result["diff"]["before"]["connector_id"] == old and result["diff"]["after"]["connector_id"] == new
    assert [c["connector_id"] for c in rest.connectors(connector)] == [new]
    assert rest.model(model_id)["connector_id"] == new


def test_server_in_use_check_compares_ids_as_text(env, rest, ansible, trusted, prefix, id_terms):
    """ML Commons finds a connector's models with a match query on the text field connector_id, so
    a model whose connector ID only shares a term with a connector's ID blocks that connector's
    delete. The collection models the analyzer: the delete still converges, setting the connector aside
    under a clearly named name (check mode says so first), and a later delete run removes it once the
    server allows."""
    body = embedding_connector(prefix + "-x", env)
    created = [rest.call("POST", ML + "/connectors/_create", body)["connector_id"] for dummy in range(20)]
    try:
        # The collection's model of the analyzer is the server's own, on real IDs and on the edge cases.
        for text in created + ["ab_cd-ef_", "_x-_-Y_Z", "a-B-9_", "-_-", "AB-12", "Zz--9_a-_"]:
            tokens = rest.call("POST", "/_analyze", {"analyzer": "standard", "text": text})["tokens"]
            assert id_terms(text) == {t["token"] for t in tokens}, text

        blocked, user = created[0], created[1]
        name = prefix + "-blocked"
        rest.call("PUT", ML + "/connectors/%s" % blocked, {"name": name})
        model_id = rest.call("POST", ML + "/models/_register", {
            "name": prefix + "-m", "function_name": "remote", "connector_id": user})["model_id"]
        try:
            # A connector ID that shares the term(s) of the blocked one's (the server accepts any
            # connector_id string on a model that is not deployed, without access control).
            lookalike = blocked.lower() + "-lookalike"
            rest.call("PUT", ML + "/models/%s" % model_id, {"connector_id": lookalike})
            info = ansible.run("polarsearch_connector_info", {"name": name})
            assert info["connectors"][0]["models"] == []
            assert info["connectors"][0]["delete_blocked_by"] == [model_id]
            # What the server answers a delete.
            refused = rest.request("DELETE", ML + "/connectors/%s" % blocked)
            assert refused.status_code == 409 and model_id in refused.text, refused.text
            pending = name + " (unused, deleted once the server allows)"
            plans = []
            for check in (True, False):
                aside = ansible.run("polarsearch_connector", {"name": name, "state": "absent"}, check=check)
                assert not aside["failed"] and aside["changed"] is True, aside
                plans.append(aside["plan"])
                assert any(model_id in w and lookalike in w for w in aside.get("warnings", [])), aside
            assert plans[0] == plans[1] and [s["operation"] for s in plans[1]] == ["rename"], plans
            assert rest.connectors(name) == []
            assert [c["connector_id"] for c in rest.connectors(pending)] == [blocked]
            # while the server still counts the model, a later delete run leaves the set-aside connector alone
            again = ansible.run("polarsearch_connector", {"name": name, "state": "absent"})
            assert not again["failed"] and again["changed"] is False, again
        finally:
            rest.call("DELETE", ML + "/models/%s" % model_id, ok=None)
        # once the server allows, the next delete run removes it
        done = ansible.run("polarsearch_connector", {"name": name, "state": "absent"})
        assert not done.get("failed") and done["changed"] is True, done
        assert rest.connectors(name + " (unused, deleted once the server allows)") == []
    finally:
        for cid in created:
            rest.call("DELETE", ML + "/connectors/%s" % cid, ok=None)


def test_teardown_in_order_leaves_nothing(env, rest, ansible, trusted, prefix):
    connector, name = prefix + "-c", prefix + "-m"
    assert not ansible.run("polarsearch_connector", embedding_connector(connector, env)).get("failed")
    model_id = ansible.run("polarsearch_model", {"name": name, "connector": connector, "state": "deployed"})["model_id"]
    group_id = rest.model(model_id)["model_group_id"]
    blocked = ansible.run("polarsearch_connector", {"name": connector, "state": "absent"})
    assert blocked["failed"] and name in blocked["msg"]
    four_steps(ansible, "polarsearch_model", {"name": name, "state": "absent"})
    four_steps(ansible, "polarsearch_connector", {"name": connector, "state": "absent"})
    assert rest.models(name) == [] and rest.connectors(connector) == [] and rest.groups(name) == []
    assert rest.request("GET", ML + "/model_groups/%s" % group_id).status_code == 404


# -- the server's rules ------------------------------------------------------------------
def test_unset_protocol_is_left_alone(env, rest, ansible, trusted, prefix, cleanup):
    """protocol has no default: a task that does not set it keeps an aws_sigv4 connector aws_sigv4."""
    name = prefix + "-sigv4"
    cleanup[1].append(name)
    sigv4 = embedding_connector(name, env, protocol="aws_sigv4",
                                credential={"access_key": "AKIAEXAMPLE0001", "secret_key": "secret-" + prefix})
    sigv4["parameters"] = dict(sigv4["parameters"], service_name="bedrock", region="us-east-1")
    four_steps(ansible, "polarsearch_connector", sigv4)
    cid = rest.connectors(name)[0]["connector_id"]
    unset = {k: v for k, v in sigv4.items() if k != "protocol"}
    result = four_steps(ansible, "polarsearch_connector", dict(unset, description="changed"))
    assert plan_text(result) == ["update connector %s (%s): description" % (name, cid)]
    stored = rest.connectors(name)[0]
    assert stored["protocol"] == "aws_sigv4" and stored["description"] == "changed"


def test_client_config_as_the_server_stores_it(env, rest, ansible, trusted, prefix, cleanup):
    """An upper-case retry_backoff_policy and a numeric string are no drift; a key the server would
    drop fails before any write."""
    name = prefix + "-cc"
    cleanup[1].append(name)
    given = {"retry_backoff_policy": "EXPONENTIAL_FULL_JITTER", "read_timeout": "60"}
    four_steps(ansible, "polarsearch_connector", embedding_connector(name, env, client_config=given))
    stored = rest.connectors(name)[0]["client_config"]
    assert stored["retry_backoff_policy"] == "exponential_full_jitter" and stored["read_timeout"] == 60
    dropped = ansible.run("polarsearch_connector", embedding_connector(
        name, env, description="changed", client_config=dict(given, retry_policy="constant")))
    assert dropped["failed"] and "client_config.retry_policy" in dropped["msg"], dropped
    assert rest.connectors(name)[0]["description"] == "Local text-embedding-v4", "nothing was written"


@pytest.mark.server_feature("mcp_connector")
def test_mcp_connector(env, rest, ansible, prefix, cleanup):
    """MCP connectors: refused (before any write) while the setting is off; with it on, a top-level
    url and headers and no actions."""
    name = prefix + "-mcp"
    cleanup[1].append(name)
    setting = "plugins.ml_commons.mcp_connector_enabled"
    spec = {"name": name, "protocol": "mcp_sse", "url": "https://api.openai.com/mcp",
            "headers": {"Authorization": "Bearer ${credential.token}"}, "credential": {"token": "mcp-" + prefix}}
    refused = ansible.run("polarsearch_connector", spec, check=True)
    assert refused["failed"] and setting in refused["msg"], refused
    try:
        four_steps(ansible, "polarsearch_cluster_settings", {"persistent": {setting: True}})
        four_steps(ansible, "polarsearch_connector", spec)
        stored = rest.connectors(name)[0]
        assert stored["url"] == spec["url"] and stored["headers"] == spec["headers"] and "actions" not in stored
        moved = four_steps(ansible, "polarsearch_connector", dict(spec, url="https://api.openai.com/mcp2"))
        assert plan_text(moved) == ["update connector %s (%s): url" % (name, stored["connector_id"])]
        assert rest.connectors(name)[0]["url"] == "https://api.openai.com/mcp2"
    finally:
        ansible.run("polarsearch_connector", {"name": name, "state": "absent"})
        ansible.run("polarsearch_cluster_settings", {"persistent": {setting: None}})


def test_adopting_a_connector_made_by_hand_keeps_its_id(env, rest, ansible, trusted, prefix, cleanup):
    """No stored fingerprint: the credential cannot be compared. With a deployed model the first run
    changes nothing (no replace); once no deployed model uses the connector, the credential and its
    fingerprint are written in place. The connector ID never changes."""
    models, connectors = cleanup
    connector, name = prefix + "-hand", prefix + "-hand-m"
    connectors.append(connector)
    models.append(name)
    spec = embedding_connector(connector, env)
    cid = rest.call("POST", ML + "/connectors/_create", spec)["connector_id"]
    four_steps(ansible, "polarsearch_model", {"name": name, "connector": connector, "state": "deployed"})
    adopted = four_steps(ansible, "polarsearch_connector", spec, expect_change=False)
    assert adopted["connector_id"] == cid and adopted["credential_compared"] is False
    assert adopted["diff"]["before"]["credential"] == "unknown"
    assert [c["connector_id"] for c in rest.connectors(connector)] == [cid]
    four_steps(ansible, "polarsearch_model", {"name": name, "connector": connector, "state": "undeployed"})
    recorded = four_steps(ansible, "polarsearch_connector", spec)
    assert plan_text(recorded) == ["update connector %s (%s): credential" % (connector, cid)]
    assert rest.connectors(connector)[0]["parameters"]["polarsearch_credential_fingerprint"].startswith("hmac-")
    assert ansible.run("polarsearch_connector", spec)["credential_compared"] is True


def test_two_runs_creating_the_same_connector_converge_to_one(env, rest, ansible, collections_path,
                                                              trusted, prefix, cleanup):
    """Two runs started together each create the connector; both succeed and one connector stays,
    the same one for both (the oldest, then the smallest ID)."""
    name = prefix + "-race"
    cleanup[1].append(name)
    spec = embedding_connector(name, env)
    results = [None, None]
    runners = [type(ansible)(env, collections_path) for dummy in results]  # one work directory each

    def run(index):
        results[index] = runners[index].run("polarsearch_connector", spec)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(not r.get("failed") for r in results), results
    stored = rest.connectors(name)
    assert len(stored) == 1, stored
    assert {r["connector_id"] for r in results} == {stored[0]["connector_id"]}
    assert ansible.run("polarsearch_connector", spec, check=True)["changed"] is False
