"""Export: a stack made by hand with the REST requests of the PolarSearch guide becomes a playbook of the
collection's modules, and that playbook then owns the stack without changing it.

One round trip, on either profile (on the secure one as the non-admin ML user, with the settings and the
pipelines made by the admin, as the ML user may not write them):

1. by hand: the trusted endpoint, a text-embedding connector and an LLM connector with the guide's request
   bodies, the models registered without a model group, the embedding model deployed (the LLM model only
   registered), an ingest and a search pipeline that use the embedding model by ID, and an index whose default
   pipeline is the ingest pipeline (exported on the plain profile; the secure profile's ML user may not read it);
2. ``ansible-playbook polardb.polarsearch.export`` twice: the same files; no secret in them;
3. the exported playbook with the credentials filled in: check mode predicts one change, the credential (and its
   fingerprint) of the connector no deployed model uses, written in place; the real run makes exactly it; check
   mode and a real run again change nothing; every ID is the one the guide's requests made;
4. a new API key (one run with ``polarsearch_credential_update=always``, as docs/export.md says for connectors
   under deployed models that have no fingerprint yet), then a new connector parameter in the exported
   playbook: each is made, and check mode then predicts nothing.

A thread predicts with the embedding model every 100 ms from the first run of the exported playbook to the end:
no prediction may fail. The connectors call a model service of their own (tests/tools/model_service.py on a free
port), so that faults other tests inject into the shared one cannot fail a prediction here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import ML, PRIVATE_IP, REPO, TRUSTED, connection_env, rest_for
from specs import EMBED_INPUT, embedding_connector, endpoint_regex, llm_connector

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
TASK = re.compile(r"^TASK \[(.*)\] \*+$")
STATUS = re.compile(r"^(ok|changed|fatal|failed|skipping): \[localhost\]")


class Predictor(threading.Thread):
    """Predicts with one model every 100 ms and keeps (time, error or None) of each answer."""

    def __init__(self, rest, model_id):
        super().__init__(daemon=True)
        self.rest, self.model_id = rest, model_id
        self.stop = threading.Event()
        self.answers = []

    def run(self):
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                response = self.rest.predict(self.model_id, EMBED_INPUT)
                error = None if response.status_code == 200 else "%s %s" % (response.status_code, response.text[:200])
            except Exception as exc:  # pylint: disable=broad-except
                error = repr(exc)
            self.answers.append((started, error))
            self.stop.wait(max(0.0, 0.1 - (time.monotonic() - started)))

    def failures(self):
        return [a for a in self.answers if a[1] is not None]


class Runner:
    """ansible-playbook with the collection, the connection from the POLARSEARCH_* environment."""

    def __init__(self, ansible, connection):
        self.env = {k: v for k, v in ansible.env.items() if not k.startswith("POLARSEARCH_")}
        self.env.update(connection)
        self.env["ANSIBLE_RETRY_FILES_ENABLED"] = "0"

    def run(self, playbook, *args):
        command = [str(ANSIBLE_PLAYBOOK), str(playbook)] + list(args)
        completed = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=900, check=False)
        return completed.returncode, completed.stdout + completed.stderr


def task_statuses(output):
    """{task name: ok | changed | fatal} of one play."""
    statuses, current = {}, None
    for line in output.splitlines():
        header = TASK.match(line)
        if header:
            current = header.group(1)
            continue
        status = STATUS.match(line)
        if status and current:
            statuses[current] = status.group(1)
    return statuses


def changed_tasks(output):
    return sorted(name for name, status in task_statuses(output).items() if status == "changed")


@pytest.fixture()
def service(env):
    """``env`` with the endpoint of a model service of this test's own, on a free port of 127.0.0.1."""
    sys.path.insert(0, str(REPO / "tests" / "tools"))
    import model_service  # pylint: disable=import-outside-toplevel,import-error
    server = model_service.make_server("127.0.0.1", 0, env["api_key"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield dict(env, endpoint="127.0.0.1:%d" % server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture()
def actor(env, request):
    """Who makes and owns the stack: anonymous on the plain profile, the first ML user on the secure one."""
    if env["profile"] == "secure":
        user = request.getfixturevalue("ml_user")
        return {"rest": user["rest"], "connection": connection_env(env, user)}
    return {"rest": rest_for(env), "connection": connection_env(env)}


def deployed(rest, model_id):
    rest.call("POST", "%s/models/%s/_deploy" % (ML, model_id))
    rest.wait_state(model_id, "DEPLOYED")


def make_by_hand(rest, admin, env, prefix):
    """The guide's requests: the trusted endpoint, connectors, models without a group, a deploy, pipelines."""
    current = admin.settings()
    trusted = current["persistent"].get(TRUSTED) or current["defaults"].get(TRUSTED) or []
    regex = endpoint_regex(env["endpoint"])
    if regex not in trusted:
        admin.call("PUT", "/_cluster/settings", {"persistent": {TRUSTED: list(trusted) + [regex]}})
    admin.call("PUT", "/_cluster/settings", {"persistent": {PRIVATE_IP: True}})
    made = {"connectors": {}, "models": {}}
    for kind, spec in (("embedding", embedding_connector(prefix + " text-embedding connector", env)),
                       ("llm", llm_connector(prefix + " llm connector", env))):
        made["connectors"][kind] = rest.call("POST", ML + "/connectors/_create", spec)["connector_id"]
        body = {"name": "%s %s model" % (prefix, kind), "function_name": "remote",
                "description": "the %s model of the guide" % kind, "connector_id": made["connectors"][kind]}
        answer = rest.call("POST", ML + "/models/_register", body)
        model_id = answer.get("model_id") or rest.call("GET", "%s/tasks/%s" % (ML, answer["task_id"]))["model_id"]
        made["models"][kind] = model_id
    deployed(rest, made["models"]["embedding"])
    embedding = made["models"]["embedding"]
    admin.call("PUT", "/_ingest/pipeline/%s-ingest" % prefix, {"description": "embeds the text", "processors": [
        {"ml_inference": {"model_id": embedding, "input_map": [{"input": "text"}],
                          "output_map": [{"embedding": "data"}]}}]})
    admin.call("PUT", "/_search/pipeline/%s-search" % prefix, {"response_processors": [
        {"ml_inference": {"model_id": embedding, "input_map": [{"input": "text"}],
                          "output_map": [{"text_embedding": "data"}]}}]})
    index = {"settings": {"index.default_pipeline": "%s-ingest" % prefix, "index.number_of_replicas": 0},
             "mappings": {"properties": {"text": {"type": "text"}}}}
    admin.call("PUT", "/%s-docs" % prefix, index)
    return made


def ids_now(rest, prefix):
    found = {}
    for kind in ("embedding", "llm"):
        model = rest.one_model("%s %s model" % (prefix, kind))
        found[kind] = (model["model_id"], model["connector_id"])
    return found


def remove(rest, admin, prefix, env):
    for path in ("/%s-docs" % prefix, "/_ingest/pipeline/%s-ingest" % prefix, "/_search/pipeline/%s-search" % prefix):
        admin.request("DELETE", path)
    for kind in ("embedding", "llm"):
        for model in rest.models("%s %s model" % (prefix, kind)):
            rest.request("POST", "%s/models/%s/_undeploy" % (ML, model["model_id"]))
            rest.request("DELETE", "%s/models/%s" % (ML, model["model_id"]))
            if model.get("model_group_id"):
                rest.request("DELETE", "%s/model_groups/%s" % (ML, model["model_group_id"]))
        for name in ("text-embedding connector", "llm connector"):
            for connector in rest.connectors("%s %s" % (prefix, name)):
                rest.request("DELETE", "%s/connectors/%s" % (ML, connector["connector_id"]))
    regex = endpoint_regex(env["endpoint"])
    if regex in admin.trusted():
        admin.put_trusted([e for e in admin.trusted() if e != regex])


def test_a_stack_made_by_hand_is_exported_and_adopted_without_a_change(service, rest, ansible, actor, prefix):
    env = service
    owner = actor["rest"]
    workdir = Path(tempfile.mkdtemp(prefix="polarsearch-export-"))
    made = make_by_hand(owner, rest, env, prefix)
    runner = Runner(ansible, actor["connection"])
    predictor = None
    try:
        # -- 2. export, twice: the same files, no secret
        export_dir = workdir / "stack"
        rc, output = runner.run("polardb.polarsearch.export", "-e", "export_dir=%s" % export_dir,
                                "-e", "export_name_prefix=%s" % prefix, "-e", "export_include_indexes=true")
        assert rc == 0, output[-4000:]
        first = {name: (export_dir / name).read_text() for name in ("playbook.yml", "credentials.yml")}
        shutil.rmtree(export_dir)
        rc, output = runner.run("polardb.polarsearch.export", "-e", "export_dir=%s" % export_dir,
                                "-e", "export_name_prefix=%s" % prefix, "-e", "export_include_indexes=true")
        assert rc == 0, output[-4000:]
        assert {name: (export_dir / name).read_text() for name in first} == first, "the export is not stable"
        assert env["api_key"] not in "".join(first.values())
        play = yaml.safe_load(first["playbook.yml"])[0]
        modules = [next(k for k in t if k != "name").rsplit(".", 1)[1] for t in play["tasks"]]
        # the index of the ingest pipeline, except for the ML user of the secure profile, who may not read indexes
        index = [] if env["profile"] == "secure" else ["polarsearch_index"]
        assert modules == ["polarsearch_cluster_settings"] + ["polarsearch_connector"] * 2 + [
            "polarsearch_model_group"] * 2 + ["polarsearch_model"] * 2 + ["polarsearch_pipeline"] * 2 + index, modules
        pipelines = [t["polardb.polarsearch.polarsearch_pipeline"] for t in play["tasks"] if modules[
            play["tasks"].index(t)] == "polarsearch_pipeline"]
        for pipeline in pipelines:
            processors = pipeline["definition"].get("processors") or pipeline["definition"]["response_processors"]
            assert processors[0]["ml_inference"]["model_id"] == {"model": "%s embedding model" % prefix}
        credentials = yaml.safe_load(first["credentials.yml"])
        assert sorted(credentials) == sorted("%s_%s_connector_api_key" % (re.sub(r"[^a-z0-9]+", "_", prefix), name)
                                             for name in ("text_embedding", "llm"))
        assert set(credentials.values()) == {""}
        print("exported playbook.yml:\n" + first["playbook.yml"])

        # -- 3. the credentials filled in: check, real, check, real
        (export_dir / "credentials.yml").write_text(yaml.safe_dump({k: env["api_key"] for k in credentials}))
        predictor = Predictor(owner, made["models"]["embedding"])
        predictor.start()
        playbook = export_dir / "playbook.yml"
        only_credential = ["Connector %s llm connector" % prefix]
        rc, output = runner.run(playbook, "--check", "--diff")
        assert rc == 0, output[-4000:]
        assert changed_tasks(output) == only_credential, output[-6000:]
        assert env["api_key"] not in output
        rc, output = runner.run(playbook, "--diff")
        assert rc == 0, output[-4000:]
        assert changed_tasks(output) == only_credential, output[-6000:]
        for args in (("--check", "--diff"), ()):
            rc, output = runner.run(playbook, *args)
            assert rc == 0 and changed_tasks(output) == [], output[-6000:]
        assert ids_now(owner, prefix) == {k: (made["models"][k], made["connectors"][k]) for k in made["models"]}
        assert owner.one_model("%s embedding model" % prefix)["model_state"] == "DEPLOYED"

        # -- 4. a new API key (the model service takes the key without surrounding spaces), then a new parameter
        (export_dir / "credentials.yml").write_text(yaml.safe_dump({k: env["api_key"] + " " for k in credentials}))
        rc, output = runner.run(playbook, "-e", "polarsearch_credential_update=always")
        assert rc == 0, output[-4000:]
        assert changed_tasks(output) == sorted("Connector %s %s" % (prefix, n)
                                               for n in ("llm connector", "text-embedding connector")), output[-6000:]
        rc, output = runner.run(playbook, "--check")
        assert rc == 0 and changed_tasks(output) == [], output[-6000:]
        document = yaml.safe_load(playbook.read_text())
        for item in document[0]["tasks"]:
            options = item.get("polardb.polarsearch.polarsearch_connector")
            if options and options["name"].endswith("text-embedding connector"):
                options["parameters"]["region"] = "local"
        playbook.write_text(yaml.safe_dump(document, sort_keys=False))
        rc, output = runner.run(playbook, "--check")
        assert rc == 0 and changed_tasks(output) == ["Connector %s text-embedding connector" % prefix], output[-6000:]
        rc, output = runner.run(playbook)
        assert rc == 0 and changed_tasks(output) == ["Connector %s text-embedding connector" % prefix], output[-6000:]
        rc, output = runner.run(playbook, "--check")
        assert rc == 0 and changed_tasks(output) == [], output[-6000:]
        connector = owner.call("GET", "%s/connectors/%s" % (ML, owner.one_model(
            "%s embedding model" % prefix)["connector_id"]))
        assert connector["parameters"]["region"] == "local"
        now = ids_now(owner, prefix)
        assert {k: v[0] for k, v in now.items()} == made["models"], "the models kept their IDs"
        time.sleep(0.5)
    finally:
        if predictor is not None:
            predictor.stop.set()
            predictor.join(timeout=60)
        remove(owner, rest, prefix, env)
    print("predictions: %d, failed: %d" % (len(predictor.answers), len(predictor.failures())))
    assert predictor.answers and predictor.failures() == [], predictor.failures()[:5]
