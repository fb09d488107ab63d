"""Same-named connectors each in use by a same-named model (what two runs of one stack leave when each kept its
own): the next run settles them when they are copies of one, and fails naming the IDs when they differ."""

from __future__ import annotations

import uuid

import pytest

from conftest import ML
from faults_support import counts_by_get, remove_everything
from specs import embedding_connector


def steps_but_set_aside(plan):
    """The steps of ``plan`` but those of replacements set aside (named ``SET_ASIDE_NAME``, core/names.py)."""
    return [step for step in plan if not step["name"].endswith("(unused replacement)")]


@pytest.fixture()
def prefix(rest):
    made = "tw-%s-" % uuid.uuid4().hex[:8]
    yield made
    remove_everything(rest, made)


def second_copy(rest, args, model, group_id, parameters=None):
    """A second connector made the way the collection makes it (its fingerprint parameter), and a deployed
    model of the same name on it in the same group, by REST: what a run that kept its own copy leaves."""
    # the collection's own code makes the create body (imported once the ansible fixture put it on sys.path)
    from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_request import ConnectorRequest
    from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_writes import create_body
    request = ConnectorRequest.from_params(dict(args, client_config=None, access_mode=None, backend_roles=None,
                                                url=None))
    spec = request.desired()
    if parameters:
        spec["parameters"] = dict(spec["parameters"], **parameters)
    body = create_body(spec, request)
    connector_id = rest.call("POST", "%s/connectors/_create" % ML, body)["connector_id"]
    model_id = rest.call("POST", "%s/models/_register" % ML, {
        "name": model, "function_name": "remote", "connector_id": connector_id, "model_group_id": group_id,
        "description": "Embedding model"})["model_id"]
    rest.call("POST", "%s/models/%s/_deploy" % (ML, model_id))
    return connector_id, model_id


def make_twins(ansible, rest, env, prefix, parameters=None):
    name, model = prefix + "embed-connector", prefix + "embed"
    args = dict(embedding_connector(name, env), wait_timeout=120)
    first = ansible.run("polarsearch_connector", args)
    assert not first.get("failed"), first
    made = ansible.run("polarsearch_model", {"name": model, "connector": name, "description": "Embedding model",
                                             "state": "deployed", "wait_timeout": 120})
    assert not made.get("failed"), made
    group_id = made["model"]["model_group_id"]
    other, other_model = second_copy(rest, args, model, group_id, parameters)
    return args, model, first["connector_id"], made["model_id"], other, other_model


def test_the_next_run_settles_copies_of_one_stack(ansible, rest, env, trusted, prefix):
    args, model, kept, kept_model, other, other_model = make_twins(ansible, rest, env, prefix)
    model_args = {"name": model, "connector": args["name"], "description": "Embedding model", "state": "deployed",
                  "wait_timeout": 120}
    check = ansible.run("polarsearch_connector", args, check=True)
    real = ansible.run("polarsearch_connector", args)
    assert not real.get("failed"), real
    from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.in_use import id_terms
    if id_terms(kept) & id_terms(other):
        # copies made in one stretch of look-alike IDs (core/generated_ids.py): every model moved to a replacement
        # whose ID shares no term with them, and both copies went; a replacement the server gave in the stretch
        # is the only write check mode could not foresee
        assert not id_terms(real["connector_id"]) & id_terms(kept)
        assert steps_but_set_aside(real["plan"]) == steps_but_set_aside(check["plan"])
        kept = real["connector_id"]
    else:
        assert real["plan"] == check["plan"]
    assert real["connector_id"] == kept
    settled = ansible.run("polarsearch_model", model_args)
    assert not settled.get("failed"), settled
    assert settled["model_id"] == kept_model
    counts = counts_by_get(rest, prefix)
    assert counts["connectors"] == {args["name"]: 1} and counts["models"] == {model: 1}, counts
    assert rest.call("GET", "%s/models/%s" % (ML, kept_model))["model_state"] == "DEPLOYED"
    assert ansible.run("polarsearch_connector", args)["changed"] is False
    assert ansible.run("polarsearch_model", model_args)["changed"] is False


def test_copies_that_differ_fail_naming_the_ids(ansible, rest, env, trusted, prefix):
    args, model, kept, kept_model, other, other_model = make_twins(ansible, rest, env, prefix,
                                                                   parameters={"dimensions": "512"})
    result = ansible.run("polarsearch_connector", args)
    assert result.get("failed") and kept in result["msg"] and other in result["msg"], result
    counts = counts_by_get(rest, prefix)
    assert counts["connectors"] == {args["name"]: 2}, counts
