"""The role polardb.polarsearch.ml_stack and its playbooks against a real cluster and the local model service.

The tests run in file order and share one stack (one name prefix per session):

1. check mode of provision on a cluster without the stack: everything is listed as to be created, nothing written;
2. provision: every object exists and the verify predicts answer; a second run changes nothing;
3. drift: a rotated key, and another fingerprint key, are reported (and not applied); out-of-band changes made
   through REST (a removed trusted endpoint entry, a changed connector parameter under an undeployed model, an
   undeployed model) make drift.yml fail, naming exactly those changes; provision fixes them and drift.yml passes
   with the connection given in the role's variables only; a connector and a model of the stack's names made
   by hand fail provision until ml_stack_duplicates: keep_one settles them (check mode first);
4. teardown leaves nothing behind, and a second teardown changes nothing;
5. of two stacks sharing an endpoint, the first teardown keeps the trusted endpoint entry the other stack still
   needs, and the second removes it;
6. with ml_stack_pipelines, the search pipelines refer to the models' IDs, a re-pointed pipeline is drift that
   provision fixes, and teardown deletes the pipelines before the models;
7. bad input fails before anything runs.

The model service is reached as ``http://localhost:<port>`` rather than ``http://127.0.0.1:<port>``: the role derives
the trusted endpoint entry ``^http://localhost:<port>/.*$`` from it, which no other test suite uses, so removing it
out of band and on teardown cannot break another suite that relies on ``^http://127\\.0\\.0\\.1:<port>/.*$``.

Environment: ``POLARSEARCH_URL``, ``MODEL_SERVICE_ENDPOINT`` and ``MODEL_SERVICE_API_KEY`` (printed by
``scripts/polarsearch-local up``). Only objects whose names start with this session's prefix are created or deleted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import ML, REPO, connection_env

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
KINDS = {"text-embedding-v4": "embedding", "qwen3-rerank": "rerank", "qwen-max": "llm"}
RESOURCES = ("setting", "connector", "model", "deploy")
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


# -- helpers --------------------------------------------------------------------------------------------------
class Run:
    """One ansible-playbook run: return code, output, PLAY RECAP counts and the JSON report."""

    def __init__(self, completed, report_path, seconds):
        self.rc = completed.returncode
        self.output = completed.stdout + completed.stderr
        self.seconds = seconds
        recap = RECAP.search(completed.stdout)
        self.ok, self.changed, self.unreachable, self.failed = (int(n) for n in recap.groups()) if recap else (
            None, None, None, None)
        self.report = json.loads(report_path.read_text()) if report_path.exists() else None

    def rows(self):
        assert self.report is not None, "no JSON report was written:\n%s" % self.output[-4000:]
        return self.report["resources"]

    def changes(self):
        """The non-``none`` rows as (model, resource, action, fields) tuples."""
        return sorted((r["model"], r["resource"], r["action"], tuple(r["fields"]))
                      for r in self.rows() if r["action"] != "none")

    def tail(self):
        failed = re.findall(r'"msg": "((?:[^"\\]|\\.){0,1500})', self.output)
        return "\n".join(["msg: " + m for m in failed] + [self.output[-6000:]])


class Stack:
    """Runs the collection playbooks the way AWX would: extra vars, and the key and cluster from the environment."""

    def __init__(self, url, endpoint, api_key, prefix, connection=None):
        self.prefix = prefix
        self.endpoint = endpoint
        self.api_key = api_key
        self.workdir = Path(tempfile.mkdtemp(prefix="ml-stack-it-"))
        collections = self.workdir / "collections"
        (collections / "ansible_collections" / "polardb").mkdir(parents=True)
        (collections / "ansible_collections" / "polardb" / "polarsearch").symlink_to(REPO)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("POLARSEARCH_", "ML_STACK_", "DASHSCOPE_", "ANSIBLE_"))}
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(collections),
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "POLARSEARCH_URL": url,
            "ML_STACK_API_KEY": api_key,
        })
        # on the secure profile: the credentials and the CA as well
        self.env.update(connection or {})

    def names(self, entry):
        return self.prefix + entry, self.prefix + entry + "-connector"

    def playbook(self, name, extra_vars=None, check=False, env=None):
        variables = {
            "ml_stack_name_prefix": self.prefix,
            "ml_stack_endpoint": self.endpoint,
            "ml_stack_private_ip_enabled": True,
            "ml_stack_wait_timeout": 120,
        }
        variables.update(extra_vars or {})
        report_path = self.workdir / ("report-%s.json" % uuid.uuid4().hex)
        variables.setdefault("ml_stack_report_path", str(report_path))
        vars_file = self.workdir / ("vars-%s.json" % uuid.uuid4().hex)
        vars_file.write_text(json.dumps(variables))
        playbook = name if name.endswith(".yml") else "polardb.polarsearch.%s" % name
        command = [str(ANSIBLE_PLAYBOOK), playbook, "-e", "@%s" % vars_file]
        if check:
            command.append("--check")
        started = time.monotonic()
        completed = subprocess.run(command, env=dict(self.env, **(env or {})), cwd=self.workdir,
                                   capture_output=True, text=True, timeout=900, check=False)
        return Run(completed, Path(variables["ml_stack_report_path"]), time.monotonic() - started)


def expected_regex(endpoint):
    return "^" + re.escape(endpoint) + "/.*$"


def requests_since(service, seq):
    answer = requests.get("http://%s/admin/requests" % service, timeout=10).json()
    return [r for r in answer["requests"] if r.get("seq", 0) > seq]


def last_seq(service):
    answer = requests.get("http://%s/admin/requests?limit=1" % service, timeout=10).json()
    return max([r.get("seq", 0) for r in answer["requests"]] or [0])


# -- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster(env):
    service = env["endpoint"]
    host, _sep, port = service.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        pytest.skip("MODEL_SERVICE_ENDPOINT %s is not on 127.0.0.1; these tests reach it as localhost" % service)
    return dict(env, service=service, endpoint="http://localhost:%s" % port, connection=connection_env(env))


@pytest.fixture(scope="module")
def stack(cluster, rest):
    """The stack of this session; whatever happens, everything with its prefix is removed at the end."""
    stack = Stack(cluster["url"], cluster["endpoint"], cluster["api_key"], "rt-%s-" % uuid.uuid4().hex[:8],
                  cluster["connection"])
    stack.regex = expected_regex(cluster["endpoint"])
    yield stack
    stack.playbook("teardown")
    leftovers = {kind: rest.with_prefix(kind, stack.prefix) for kind in ("models", "connectors", "model_groups")}
    for name in leftovers["models"]:
        for model in rest.models(name):
            rest.call("POST", "%s/models/%s/_undeploy" % (ML, model["model_id"]), ok=None)
            rest.call("DELETE", "%s/models/%s" % (ML, model["model_id"]), ok=None)
    for name in leftovers["connectors"]:
        for connector in rest.connectors(name):
            rest.call("DELETE", "%s/connectors/%s" % (ML, connector["connector_id"]), ok=None)
    for name in leftovers["model_groups"]:
        for group in rest.groups(name):
            rest.call("DELETE", "%s/model_groups/%s" % (ML, group["model_group_id"]), ok=None)
    if stack.regex in rest.trusted():
        rest.put_trusted([e for e in rest.trusted() if e != stack.regex])


def assert_no_stack_objects(rest, stack):
    for kind in ("connectors", "models", "model_groups"):
        found = rest.with_prefix(kind, stack.prefix)
        assert found == [], "%s with the prefix %s exist: %s" % (kind, stack.prefix, found)


# -- 1. check mode on an empty cluster ------------------------------------------------------------------------
def test_check_mode_lists_everything_and_writes_nothing(stack, rest):
    assert_no_stack_objects(rest, stack)
    assert stack.regex not in rest.trusted()
    private_ip_before = rest.private_ip()

    run = stack.playbook("provision", check=True)

    assert run.rc == 0 and run.failed == 0, run.tail()
    assert run.report["check_mode"] is True and run.report["drift"] is True
    expected = []
    for entry in KINDS:
        name, connector = stack.names(entry)
        expected += [
            (name, "setting", "create", ("trusted_connector_endpoints_regex",)),
            (name, "connector", "create",
             ("actions", "credential", "description", "name", "parameters", "protocol", "version")),
            (name, "model", "create", ("connector", "description", "model_group", "name")),
            (name, "deploy", "deploy", ("model_state",)),
        ]
    changes = run.changes()
    if str(private_ip_before).lower() != "true":
        # a node that starts with private IPs refused (the secure profile's): one setting row also names
        # the private IP setting the run would turn on
        carrying = [c for c in changes if c[1] == "setting" and "connector.private_ip_enabled" in c[3]]
        assert len(carrying) == 1, changes
        changes = sorted((c[0], c[1], c[2], tuple(f for f in c[3] if f != "connector.private_ip_enabled"))
                         for c in changes)
    assert changes == sorted(expected)
    assert [(r["resource"], r["name"]) for r in run.rows() if r["model"] == stack.prefix + "qwen-max"] == [
        ("setting", stack.regex), ("connector", stack.prefix + "qwen-max-connector"),
        ("model", stack.prefix + "qwen-max"), ("deploy", stack.prefix + "qwen-max")]
    # the readable table ends the run
    assert "ML stack drift (check mode): 12 of 12 resources would change" in run.output
    assert re.search(r"%s\s+connector\s+%s\s+create\s+actions, credential" % (
        re.escape(stack.prefix + "qwen3-rerank"), re.escape(stack.prefix + "qwen3-rerank-connector")), run.output)
    assert stack.api_key not in run.output

    # nothing was written
    assert_no_stack_objects(rest, stack)
    assert stack.regex not in rest.trusted()
    assert rest.private_ip() == private_ip_before


# -- 2. provision, verify, idempotence ------------------------------------------------------------------------
def test_provision_creates_deploys_and_verifies(stack, rest, cluster):
    seq = last_seq(cluster["service"])
    run = stack.playbook("provision")
    assert run.rc == 0 and run.failed == 0, run.tail()
    assert run.changed > 0
    assert stack.api_key not in run.output

    assert stack.regex in rest.trusted()
    assert str(rest.private_ip()).lower() == "true"
    host_port = cluster["endpoint"].split("://", 1)[1]
    for entry, kind in KINDS.items():
        name, connector_name = stack.names(entry)
        connector = rest.one_connector(connector_name)
        assert connector["parameters"]["endpoint"] == host_port
        assert connector["parameters"]["model"] == entry
        assert connector["actions"][0]["url"].startswith("http://${parameters.endpoint}/")
        model = rest.one_model(name)
        assert model["model_state"] == "DEPLOYED", model
        assert model["connector_id"] == connector["connector_id"]

    # the verify step predicted on each model, with the key
    calls = [r for r in requests_since(cluster["service"], seq) if r.get("auth", {}).get("matched")]
    paths = {r["path"] for r in calls if "PolarSearch is a search service of PolarDB." in json.dumps(r.get("body"))}
    assert {"/compatible-mode/v1/embeddings", "/api/v1/services/rerank/text-rerank/text-rerank"} <= paths, paths
    assert any(r["path"] == "/compatible-mode/v1/chat/completions" and "Reply with one word" in json.dumps(r["body"])
               for r in calls), "no chat completion call from the verify step"

    # and the models answer through REST as well
    embedding = rest.predict_json(rest.one_model(stack.prefix + "text-embedding-v4")["model_id"], {"input": ["hello"]})
    assert embedding["inference_results"][0]["output"][0]["data"]
    rerank = rest.predict_json(rest.one_model(stack.prefix + "qwen3-rerank")["model_id"],
                               {"query": "capital", "documents": ["Paris is the capital", "apples"]})
    # one similarity tensor per document, in document order, as the rerank search processor reads it
    assert [t["name"] for t in rerank["inference_results"][0]["output"]] == ["similarity", "similarity"]
    chat = rest.predict_json(rest.one_model(stack.prefix + "qwen-max")["model_id"],
                             {"messages": [{"role": "user", "content": "hello"}]})
    assert chat["inference_results"][0]["output"][0]["dataAsMap"]["choices"][0]["message"]["content"]

    again = stack.playbook("provision")
    assert again.rc == 0 and again.changed == 0, again.tail()
    assert again.changes() == []


# -- 3. drift ---------------------------------------------------------------------------------------------------
def test_drift_reports_a_rotated_key_without_applying_it(stack, rest):
    before = {entry: rest.one_connector(stack.names(entry)[1]) for entry in KINDS}

    run = stack.playbook("drift", {"ml_stack_api_key": "rotated-" + uuid.uuid4().hex})

    assert "rotated-" not in run.output
    for entry in KINDS:
        name, connector_name = stack.names(entry)
        after = rest.one_connector(connector_name)
        assert after["connector_id"] == before[entry]["connector_id"]
        assert after["last_updated_time"] == before[entry]["last_updated_time"]
        assert rest.one_model(name)["connector_id"] == after["connector_id"]
    if "ML Commons compares connector IDs as analyzed text" in run.output:
        # Two of the stack's connector IDs share a term, so the server would refuse the old
        # connector's delete that ends a replace, and check mode says so instead of a drift row.
        pytest.skip("two connector IDs of the stack share a term: %s" % run.tail())
    assert run.rc != 0 and "the ML stack drifted" in run.output, run.tail()
    assert run.changes() == sorted((stack.names(entry)[0], "connector", "replace", ("credential",))
                                   for entry in KINDS)


def test_drift_sees_another_fingerprint_key(stack):
    """The fingerprint key reaches the connector module, from the role variable or from the environment."""
    by_variable = stack.playbook("drift", {"ml_stack_fingerprint_key": "another-key-" + uuid.uuid4().hex})
    by_environment = stack.playbook("drift", env={"POLARSEARCH_FINGERPRINT_KEY": "another-key-" + uuid.uuid4().hex})
    for run in (by_variable, by_environment):
        assert "another-key-" not in run.output
        if "ML Commons compares connector IDs as analyzed text" in run.output:
            pytest.skip("two connector IDs of the stack share a term: %s" % run.tail())
        assert run.rc != 0, run.tail()
        assert run.changes() == sorted((stack.names(entry)[0], "connector", "replace", ("credential",))
                                       for entry in KINDS)


def test_drift_names_out_of_band_changes_and_provision_fixes_them(stack, rest):
    rerank, rerank_connector = stack.names("qwen3-rerank")
    llm = stack.names("qwen-max")[0]

    # (b) a connector parameter changes under a model that is first undeployed (the server refuses to update a
    # connector a deployed model uses), which is also a deploy-state drift; (c) the LLM is undeployed.
    rest.undeploy(rest.one_model(rerank)["model_id"])
    connector = rest.one_connector(rerank_connector)
    rest.call("PUT", "%s/connectors/%s" % (ML, connector["connector_id"]), {"parameters": {"model": "other-rerank"}})
    llm_state = rest.undeploy(rest.one_model(llm)["model_id"])
    # a model field changes (allowed while deployed)
    embedding = stack.names("text-embedding-v4")[0]
    rest.call("PUT", "%s/models/%s" % (ML, rest.one_model(embedding)["model_id"]), {"description": "changed by hand"})
    # (a) the trusted endpoint entry is dropped (after (b): the server checks the URL on a connector update)
    rest.put_trusted([e for e in rest.trusted() if e != stack.regex])

    drift = stack.playbook("drift")

    assert drift.rc != 0 and "the ML stack drifted" in drift.output, drift.tail()
    expected = sorted(
        [(stack.names(entry)[0], "setting", "create", ("trusted_connector_endpoints_regex",)) for entry in KINDS]
        + [(embedding, "model", "update", ("description",)),
           (rerank, "connector", "update", ("parameters.model",)),
           (rerank, "deploy", "deploy", ("model_state",)),
           (llm, "deploy", "deploy", ("model_state",))])
    assert drift.changes() == expected
    assert drift.report["check_mode"] is True
    # the table says the same
    assert "ML stack drift (check mode): 7 of 12 resources would change" in drift.output
    assert re.search(r'%s\s+connector\s+%s\s+update\s+parameters\.model"' % (
        re.escape(rerank), re.escape(rerank_connector)), drift.output)
    # nothing was applied
    assert stack.regex not in rest.trusted()
    assert rest.one_connector(rerank_connector)["parameters"]["model"] == "other-rerank"
    assert rest.one_model(llm)["model_state"] == llm_state
    assert rest.one_model(embedding)["description"] == "changed by hand"

    fix = stack.playbook("provision")
    assert fix.rc == 0 and fix.failed == 0, fix.tail()
    assert fix.changes() == expected
    assert stack.regex in rest.trusted()
    assert rest.one_connector(rerank_connector)["parameters"]["model"] == "qwen3-rerank"
    assert rest.one_model(embedding)["description"] == "DashScope embedding model text-embedding-v4"
    for entry in KINDS:
        assert rest.one_model(stack.names(entry)[0])["model_state"] == "DEPLOYED"

    # the connection from the role's variables alone, every option passed through (no POLARSEARCH_* in the env)
    connection = {"polarsearch_host": stack.env["POLARSEARCH_URL"], "polarsearch_scheme": "http",
                  "polarsearch_validate_certs": True, "polarsearch_timeout": 45, "polarsearch_retries": 1}
    cleared = {"POLARSEARCH_URL": ""}
    if "POLARSEARCH_USERNAME" in stack.env:
        connection.update(polarsearch_scheme="https", polarsearch_username=stack.env["POLARSEARCH_USERNAME"],
                          polarsearch_password=stack.env["POLARSEARCH_PASSWORD"],
                          polarsearch_ca_path=stack.env["POLARSEARCH_CA_PATH"])
        cleared.update(POLARSEARCH_USERNAME="", POLARSEARCH_PASSWORD="", POLARSEARCH_CA_PATH="")
    clean = stack.playbook("drift", connection, env=cleared)
    assert clean.rc == 0, clean.tail()
    assert clean.changes() == [] and clean.report["drift"] is False
    assert "ML stack drift (check mode): 0 of 12 resources would change" in clean.output


def test_the_connection_in_play_module_defaults_reaches_the_role(stack):
    """The README's way: the connection in module_defaults for the action group, on the play, and no
    POLARSEARCH_* in the environment. The role passes on only the polarsearch_* variables that are set."""
    defaults = {"host": stack.env["POLARSEARCH_URL"]}
    cleared = {"POLARSEARCH_URL": ""}
    if "POLARSEARCH_USERNAME" in stack.env:
        defaults.update(username=stack.env["POLARSEARCH_USERNAME"], password=stack.env["POLARSEARCH_PASSWORD"],
                        ca_path=stack.env["POLARSEARCH_CA_PATH"])
        cleared.update(POLARSEARCH_USERNAME="", POLARSEARCH_PASSWORD="", POLARSEARCH_CA_PATH="")
    playbook = stack.workdir / "module-defaults.yml"
    playbook.write_text(json.dumps([{
        "name": "Check the stack with the connection in module_defaults", "hosts": "localhost",
        "connection": "local", "gather_facts": False, "check_mode": True,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "module_defaults": {"group/polardb.polarsearch.polarsearch": defaults},
        "roles": [{"role": "polardb.polarsearch.ml_stack"}]}]))
    run = stack.playbook(str(playbook), env=cleared)
    assert run.rc == 0 and run.failed == 0, run.tail()
    assert run.changes() == [] and run.report["drift"] is False


def test_duplicates_made_by_hand_fail_until_keep_one_settles_them(stack, rest):
    llm, llm_connector = stack.names("qwen-max")
    connector, model = rest.one_connector(llm_connector), rest.one_model(llm)
    # A copy of the LLM's connector and one of its model, made by hand (no credential fingerprint).
    body = {k: connector[k] for k in ("name", "description", "version", "protocol", "actions") if k in connector}
    body["parameters"] = {k: v for k, v in connector["parameters"].items() if not k.startswith("polarsearch_")}
    body["credential"] = {"api_key": stack.api_key}
    extra_connector = rest.call("POST", ML + "/connectors/_create", body)["connector_id"]
    extra_model = rest.call("POST", ML + "/models/_register", {
        "name": llm, "function_name": "remote", "connector_id": model["connector_id"],
        "model_group_id": model["model_group_id"]})["model_id"]

    refused = stack.playbook("provision")
    assert refused.rc != 0 and extra_connector in refused.output, refused.tail()
    assert "ml_stack_duplicates" in refused.output

    settle = {"ml_stack_duplicates": "keep_one"}
    expected = [(llm, "connector", "update", ("duplicates",)), (llm, "model", "update", ("duplicates",))]
    check = stack.playbook("provision", settle, check=True)
    assert check.rc == 0, check.tail()
    assert check.changes() == expected
    assert len(rest.connectors(llm_connector)) == 2 and len(rest.models(llm)) == 2, "check mode wrote nothing"

    settled = stack.playbook("provision", settle)
    assert settled.rc == 0 and settled.failed == 0, settled.tail()
    assert settled.changes() == expected
    assert rest.one_connector(llm_connector)["connector_id"] == connector["connector_id"], "the one in use stays"
    kept = rest.one_model(llm)
    assert kept["model_id"] == model["model_id"] and kept["model_state"] == "DEPLOYED", "the oldest stays"
    assert extra_model != model["model_id"]
    assert stack.playbook("drift").rc == 0


# -- 4. teardown ------------------------------------------------------------------------------------------------
def test_teardown_leaves_nothing_behind(stack, rest):
    check = stack.playbook("teardown", check=True)
    assert check.rc == 0, check.tail()
    assert check.changes() == sorted(
        [(stack.names(entry)[0], "setting", "delete", ("trusted_connector_endpoints_regex",)) for entry in KINDS]
        + [(stack.names(entry)[0], "connector", "delete", ()) for entry in KINDS]
        + [(stack.names(entry)[0], "model", "delete", ()) for entry in KINDS]
        + [(stack.names(entry)[0], "deploy", "undeploy", ("model_state",)) for entry in KINDS])
    for entry in KINDS:
        assert rest.one_model(stack.names(entry)[0])["model_state"] == "DEPLOYED", "check mode wrote nothing"

    run = stack.playbook("teardown")
    assert run.rc == 0 and run.failed == 0, run.tail()
    assert_no_stack_objects(rest, stack)
    for entry in KINDS:
        assert rest.groups(stack.names(entry)[0]) == []
    assert stack.regex not in rest.trusted()

    again = stack.playbook("teardown")
    assert again.rc == 0 and again.changed == 0, again.tail()
    assert again.changes() == []


# -- 5. a trusted endpoint entry two stacks share ----------------------------------------------------------------
@pytest.fixture()
def two_stacks(cluster, rest):
    """Two one-model stacks with their own prefixes and the same endpoint; removed whatever happens."""
    prefix = "rt-%s-" % uuid.uuid4().hex[:8]
    stacks = [Stack(cluster["url"], cluster["endpoint"], cluster["api_key"], prefix + side + "-", cluster["connection"]) for side in "ab"]
    yield stacks
    for stack in stacks:
        stack.playbook("teardown", SMALL_STACK)
    for kind in ("models", "connectors"):
        assert rest.with_prefix(kind, prefix) == [], "the stacks left %s behind" % kind


# registered, not deployed: enough for connectors on the cluster, and quick
SMALL_STACK = {"ml_stack_models": [{"name": "text-embedding-v4", "kind": "embedding", "state": "present"}],
               "ml_stack_verify": False}


def test_teardown_keeps_a_trusted_entry_another_stack_still_uses(two_stacks, rest, cluster):
    first, second = two_stacks
    regex = expected_regex(cluster["endpoint"])
    for stack in two_stacks:
        run = stack.playbook("provision", SMALL_STACK)
        assert run.rc == 0 and run.failed == 0, run.tail()
    assert regex in rest.trusted()

    # the first stack goes; the second one's connector still calls the endpoint, so its entry stays
    check = first.playbook("teardown", SMALL_STACK, check=True)
    assert check.rc == 0, check.tail()
    assert [(r["resource"], r["action"]) for r in check.rows()] == [
        ("setting", "none"), ("connector", "delete"), ("model", "delete"), ("deploy", "none")]
    run = first.playbook("teardown", SMALL_STACK)
    assert run.rc == 0 and run.failed == 0, run.tail()
    assert run.changes() == [(first.prefix + "text-embedding-v4", "connector", "delete", ()),
                             (first.prefix + "text-embedding-v4", "model", "delete", ())]
    assert rest.with_prefix("connectors", first.prefix) == []
    assert regex in rest.trusted(), "the entry the second stack needs was removed"
    assert rest.one_connector(second.prefix + "text-embedding-v4-connector")

    # the second stack goes too: nothing calls the endpoint any more, so the entry goes
    check = second.playbook("teardown", SMALL_STACK, check=True)
    assert check.rc == 0, check.tail()
    assert check.rows()[0]["action"] == "delete" and regex in rest.trusted()
    run = second.playbook("teardown", SMALL_STACK)
    assert run.rc == 0 and run.failed == 0, run.tail()
    assert run.rows()[0] == {"model": second.prefix + "text-embedding-v4", "resource": "setting", "name": regex,
                             "action": "delete", "fields": ["trusted_connector_endpoints_regex"]}
    assert regex not in rest.trusted()


# -- 6. search pipelines ---------------------------------------------------------------------------------------
PIPELINES = {"embedding-ingest": ("ingest", "text-embedding-v4"), "rerank-search": ("search", "qwen3-rerank"),
             "rag-search": ("search", "qwen-max")}
WITH_PIPELINES = {"ml_stack_pipelines": True, "ml_stack_verify": False}


def pipeline_path(kind, name):
    return "/_%s/pipeline/%s" % (kind, name)


def stored_pipeline(rest, kind, name):
    answer = rest.call("GET", pipeline_path(kind, name), ok=(200, 404))
    return answer.get(name)


@pytest.fixture()
def search_stack(cluster, rest):
    stack = Stack(cluster["url"], cluster["endpoint"], cluster["api_key"], "rt-%s-" % uuid.uuid4().hex[:8],
                  cluster["connection"])
    yield stack
    stack.playbook("teardown", WITH_PIPELINES)
    for suffix, (kind, _model) in PIPELINES.items():
        rest.call("DELETE", pipeline_path(kind, stack.prefix + suffix), ok=None)
    for kind in ("models", "connectors"):
        assert rest.with_prefix(kind, stack.prefix) == [], "the stack left %s behind" % kind


@pytest.mark.server_feature("neural_search")
def test_pipelines_follow_the_models_and_go_before_them(search_stack, rest):
    stack = search_stack
    pipeline_rows = sorted((stack.prefix + model, "pipeline", "create") for model in
                           (m for _kind, m in PIPELINES.values()))

    check = stack.playbook("provision", WITH_PIPELINES, check=True)
    assert check.rc == 0 and check.failed == 0, check.tail()
    assert sorted((r["model"], r["resource"], r["action"]) for r in check.rows()
                  if r["resource"] == "pipeline") == pipeline_rows
    for suffix, (kind, _model) in PIPELINES.items():
        assert stored_pipeline(rest, kind, stack.prefix + suffix) is None, "check mode wrote a pipeline"

    run = stack.playbook("provision", WITH_PIPELINES)
    assert run.rc == 0 and run.failed == 0, run.tail()
    ids = {model: rest.one_model(stack.prefix + model)["model_id"] for model in KINDS}
    ingest = stored_pipeline(rest, "ingest", stack.prefix + "embedding-ingest")
    assert ingest["processors"][0]["text_embedding"] == {"model_id": ids["text-embedding-v4"],
                                                         "field_map": {"text": "embedding"}}
    rerank = stored_pipeline(rest, "search", stack.prefix + "rerank-search")["response_processors"][0]["rerank"]
    assert rerank["ml_opensearch"]["model_id"] == ids["qwen3-rerank"]
    rag = stored_pipeline(rest, "search", stack.prefix + "rag-search")["response_processors"]
    assert rag[1]["retrieval_augmented_generation"]["model_id"] == ids["qwen-max"]

    # a document through the ingest pipeline gets a vector of the model's dimension
    dimension = len(rest.predict_json(ids["text-embedding-v4"], {"input": ["probe"]})[
        "inference_results"][0]["output"][0]["data"])
    simulated = rest.call("POST", pipeline_path("ingest", stack.prefix + "embedding-ingest") + "/_simulate",
                          {"docs": [{"_source": {"text": "PolarSearch is a search service."}}]})
    assert len(simulated["docs"][0]["doc"]["_source"]["embedding"]) == dimension > 0

    # a pipeline restored from elsewhere points at another model's ID: drift names it, provision re-points it
    rest.call("PUT", pipeline_path("ingest", stack.prefix + "embedding-ingest"),
              dict(ingest, processors=[{"text_embedding": {"model_id": ids["qwen3-rerank"],
                                                           "field_map": {"text": "embedding"}}}]))
    drift = stack.playbook("drift", WITH_PIPELINES)
    assert drift.rc != 0 and "the ML stack drifted" in drift.output, drift.tail()
    assert [(r[0], r[1], r[2]) for r in drift.changes()] == [
        (stack.prefix + "text-embedding-v4", "pipeline", "update")]
    assert [r["name"] for r in drift.rows() if r["action"] != "none"] == [stack.prefix + "embedding-ingest"]
    fix = stack.playbook("provision", WITH_PIPELINES)
    assert fix.rc == 0, fix.tail()
    assert stored_pipeline(rest, "ingest", stack.prefix + "embedding-ingest")["processors"][0][
        "text_embedding"]["model_id"] == ids["text-embedding-v4"]
    clean = stack.playbook("drift", WITH_PIPELINES)
    assert clean.rc == 0 and clean.changes() == [], clean.tail()

    # teardown: the pipelines first (check mode says so and writes nothing), then the models
    check = stack.playbook("teardown", WITH_PIPELINES, check=True)
    assert check.rc == 0, check.tail()
    assert sorted((r["name"], r["action"]) for r in check.rows() if r["resource"] == "pipeline") == sorted(
        (stack.prefix + suffix, "delete") for suffix in PIPELINES)
    assert stored_pipeline(rest, "ingest", stack.prefix + "embedding-ingest") is not None
    run = stack.playbook("teardown", WITH_PIPELINES)
    assert run.rc == 0 and run.failed == 0, run.tail()
    # polarsearch_model refuses to delete a model a pipeline still uses (force_delete_referenced is off), so
    # a teardown that deleted the models went through the pipelines first (the plan order is unit tested)
    for suffix, (kind, _model) in PIPELINES.items():
        assert stored_pipeline(rest, kind, stack.prefix + suffix) is None
    assert_no_stack_objects(rest, stack)
    again = stack.playbook("teardown", WITH_PIPELINES)
    assert again.rc == 0 and again.changed == 0, again.tail()


# -- 7. bad input -----------------------------------------------------------------------------------------------
BAD_INPUT = [
    ([{"name": "x", "kind": "foo"}], "ml_stack_models[0] (x): kind must be one of embedding, rerank, llm, not foo"),
    ([{"kind": "llm"}], "ml_stack_models[0] (no name): name is required"),
    ([{"name": "x", "kind": "llm", "preset": "nope"}], "unknown preset nope"),
    ([{"name": "x", "kind": "llm", "endpoint": "ftp://example.com"}], "the endpoint ftp://example.com is not"),
    ([{"name": "x", "kind": "llm"}, {"name": "x", "kind": "rerank"}], "names must be unique"),
]


@pytest.mark.parametrize("models, message", BAD_INPUT, ids=["kind", "name", "preset", "endpoint", "duplicate"])
def test_bad_input_fails_before_anything_runs(models, message):
    # No cluster is needed: nothing may reach the server. The URL points at a closed port, so a task that
    # tried would fail with a connection error instead of the expected message.
    stack = Stack("http://127.0.0.1:9", "http://localhost:9", "some-key", "rt-bad-%s-" % uuid.uuid4().hex[:6])
    run = stack.playbook("provision", {"ml_stack_models": models})
    assert run.rc != 0 and run.failed == 1, run.tail()
    assert message in run.output, run.tail()
    assert "Connection refused" not in run.output
    assert '"resources"' not in run.output, "the stack module ran"
    assert run.report is None, "the role stopped before the report"
    # one short message, never the role's whole argument specification
    assert "argument_spec_data" not in run.output
