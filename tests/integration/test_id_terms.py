"""ML Commons counts a model as a user of a connector when the model's connector ID merely shares an analyzed term
with the connector's ID (DeleteConnectorTransportAction's ``match`` query on the text field ``connector_id``). A
replace or a delete that meets it converges: the blocked connector is set aside, unused, and a later run deletes it
once the server allows. No test skips on it.

ML Commons does not let a client choose IDs, and the local nodes' IDs almost never share a term (0 pairs among
1500 connectors created in a row on 3.6.0: their IDs carry a '-' only as the first or last character). So the test
makes the collision the way the server allows: ``PUT _plugins/_ml/models/<id>`` with a ``connector_id`` that holds
the connector's ID as one of its terms is accepted on both profiles (2.19.1 and 3.6.0, observed 2026-12-06), and
the server then refuses the connector's delete naming that model. Runs on both profiles (as the admin on the secure
one)."""

from __future__ import annotations

import time

import pytest

from specs import embedding_connector

ML = "/_plugins/_ml"
PENDING = "%s (unused, deleted once the server allows)"


def wait_search(rest, model_id, connector_id, timeout=60):
    """Until a search of the models shows the model with that connector ID (searches lag behind writes)."""
    deadline = time.monotonic() + timeout
    while True:
        hits = rest.search("models", {"ids": {"values": [model_id]}})
        if [h["_source"].get("connector_id") for h in hits] == [connector_id]:
            return
        assert time.monotonic() < deadline, "the search never showed model %s on %s" % (model_id, connector_id)
        time.sleep(0.5)


@pytest.fixture()
def sharer(ansible, rest, env, trusted, prefix, cleanup):
    """make(connector_id): a model of another connector whose connector ID shares the term ``connector_id`` with it
    (undeployed); returns (model ID, the connector ID it had)."""
    models, connectors = cleanup
    other = prefix + "other"
    connectors.append(other)
    made = ansible.run("polarsearch_connector", embedding_connector(other, env))
    assert not made.get("failed"), made["msg"]

    def make(connector_id):
        name = prefix + "sharer"
        models.append(name)
        registered = ansible.run("polarsearch_model", {"name": name, "connector": other})
        assert not registered.get("failed"), registered["msg"]
        shared = "zz-" + connector_id
        rest.call("PUT", "%s/models/%s" % (ML, registered["model_id"]), {"connector_id": shared})
        wait_search(rest, registered["model_id"], shared)
        refused = rest.request("DELETE", "%s/connectors/%s" % (ML, connector_id))
        assert refused.status_code == 409 and registered["model_id"] in refused.text, refused.text
        return registered["model_id"], made["connector_id"]

    return make


def warnings(result):
    """The texts of a result's warnings (plain strings, or the structured summaries of newer ansible-core)."""
    return [w.get("event", {}).get("msg", "") if isinstance(w, dict) else str(w) for w in result.get("warnings") or []]


def release(rest, model_id, connector_id):
    rest.call("PUT", "%s/models/%s" % (ML, model_id), {"connector_id": connector_id})
    wait_search(rest, model_id, connector_id)


def test_replace_blocked_by_a_model_that_only_shares_a_term_converges(ansible, rest, env, prefix, cleanup, sharer):
    models, connectors = cleanup
    name = prefix + "c"
    spec = embedding_connector(name, env)
    connectors.append(name)
    made = ansible.run("polarsearch_connector", spec)
    assert not made.get("failed"), made["msg"]
    old = made["connector_id"]
    models.append(name + "-m")
    mine = ansible.run("polarsearch_model", {"name": name + "-m", "connector": name, "state": "deployed",
                                             "wait_timeout": 120})
    assert not mine.get("failed"), mine["msg"]
    their_model, their_connector = sharer(old)

    changed = dict(spec, description="changed under a shared term", wait_timeout=120)
    replaced = ansible.run("polarsearch_connector", changed)
    assert not replaced.get("failed"), replaced["msg"]
    new = replaced["connector_id"]
    assert new != old
    assert any(old in w and their_model in w for w in warnings(replaced)), replaced.get("warnings")
    model = rest.model(mine["model_id"])
    assert model["connector_id"] == new and model["model_state"] == "DEPLOYED", model
    assert rest.request("GET", "%s/connectors/%s" % (ML, old)).status_code == 200, "kept as the replaced half"
    again = ansible.run("polarsearch_connector", changed)
    assert not again.get("failed") and again["changed"] is False, again
    assert again["connector_id"] == new

    release(rest, their_model, their_connector)
    last = ansible.run("polarsearch_connector", changed)
    assert not last.get("failed") and last["changed"] is True, last
    assert rest.request("GET", "%s/connectors/%s" % (ML, old)).status_code == 404
    assert [c["connector_id"] for c in rest.connectors(name)] == [new]


def test_delete_blocked_by_a_model_that_only_shares_a_term_sets_the_connector_aside(ansible, rest, env, prefix,
                                                                                    cleanup, sharer):
    models, connectors = cleanup
    name = prefix + "d"
    connectors += [name, PENDING % name]
    made = ansible.run("polarsearch_connector", embedding_connector(name, env))
    assert not made.get("failed"), made["msg"]
    cid = made["connector_id"]
    their_model, their_connector = sharer(cid)

    result = ansible.run("polarsearch_connector", {"name": name, "state": "absent"})
    assert not result.get("failed") and result["changed"] is True, result
    assert any(cid in w and their_model in w for w in warnings(result)), result.get("warnings")
    assert rest.call("GET", "%s/connectors/%s" % (ML, cid))["name"] == PENDING % name
    again = ansible.run("polarsearch_connector", {"name": name, "state": "absent"})
    assert not again.get("failed") and again["changed"] is False, again

    release(rest, their_model, their_connector)
    last = ansible.run("polarsearch_connector", {"name": name, "state": "absent"})
    assert not last.get("failed") and last["changed"] is True, last
    assert rest.request("GET", "%s/connectors/%s" % (ML, cid)).status_code == 404
