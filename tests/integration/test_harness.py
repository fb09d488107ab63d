"""The two ways the integration tests run a module register the same result.

Most tests run a module in the test process (the ``ansible`` fixture: ``main()`` with the arguments, check-mode and
diff flags Ansible hands it, against the real node); tests about Ansible itself run it through ``ansible-playbook``
(``cli=True``). These tests run the same tasks both ways, one after the other, and compare what a playbook would
register, so that a test run in the process proves what a user's playbook sees.
"""

from __future__ import annotations

from specs import embedding_connector

# what differs between two runs of one task by nature: the module's own bookkeeping of the run
VOLATILE = ("invocation", "warnings", "deprecations", "_ansible_no_log")


def registered(result):
    return {key: value for key, value in result.items() if key not in VOLATILE}


def both_ways(ansible, module, args, **kwargs):
    in_process = ansible.run(module, args, **kwargs)
    through_cli = ansible.run(module, args, cli=True, **kwargs)
    return registered(in_process), registered(through_cli)


def test_check_mode_diff_real_run_and_no_op_register_alike(env, rest, ansible, trusted, prefix, cleanup):
    name = prefix + "-harness"
    cleanup[1].append(name)
    spec = embedding_connector(name, env)

    # check mode with --diff on an empty cluster: the plan, the diff and changed, with the credential hidden
    in_process, through_cli = both_ways(ansible, "polarsearch_connector", spec, check=True)
    assert in_process == through_cli
    assert in_process["changed"] is True and in_process["plan"][0]["operation"] == "create"
    assert env["api_key"] not in str(in_process)
    assert rest.connectors(name) == [], "check mode wrote nothing either way"

    # the real run through the command line, then the no-op both ways: the same ID, nothing changed
    created = ansible.run("polarsearch_connector", spec, cli=True)
    assert created["changed"] is True and not created.get("failed"), created
    in_process, through_cli = both_ways(ansible, "polarsearch_connector", spec)
    assert in_process == through_cli
    assert in_process["changed"] is False and in_process["connector_id"] == created["connector_id"]
    assert in_process["plan"] == []

    # a drift both ways in check mode: the same step and the same diff
    drifted = dict(spec, description="changed by the harness test")
    in_process, through_cli = both_ways(ansible, "polarsearch_connector", drifted, check=True)
    assert in_process == through_cli and in_process["changed"] is True


def test_failures_register_alike(env, ansible, prefix):
    # refused by the argument spec (Ansible's own validation, in both ways)
    in_process, through_cli = both_ways(ansible, "polarsearch_connector", {"name": prefix, "state": "sideways"})
    assert in_process["failed"] is True and through_cli["failed"] is True
    assert in_process["msg"] == through_cli["msg"] and "state" in in_process["msg"]

    # refused by the module, with a secret in the arguments that neither way shows
    secret = "harness-secret-%s" % prefix
    spec = embedding_connector(prefix + "-bad", env, api_key=secret)
    spec["actions"][0]["request_body"] = "{ not json"
    in_process, through_cli = both_ways(ansible, "polarsearch_connector", spec, check=True)
    assert in_process["failed"] is True and in_process["msg"] == through_cli["msg"]
    assert secret not in str(in_process) and secret not in str(through_cli)
    assert secret not in ansible.last_output
