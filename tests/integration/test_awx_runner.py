# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An AWX job, run by the engine AWX uses: provision, drift and teardown through ``ansible_runner.run``.

The job's private data directory is laid out the way AWX lays it out: ``project/`` (a project whose playbooks
import the collection's, with the collection in ``project/collections``), ``inventory/hosts``, ``env/envvars``
(the environment the custom credential type injects) and ``env/extravars``. The credential type is the one
documented in docs/connection.md: its inputs and injectors are read from docs/awx-credential-type.yml and the
injectors are rendered the way AWX renders them (Jinja, with ``tower.filename.<name>`` for each file injector).

Each job: its status, its changed count (from the runner's stats), and no secret of the credential anywhere in
the runner's artifacts: stdout and every job event JSON.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import jinja2
import pytest
import yaml

from conftest import ML, REPO

ansible_runner = pytest.importorskip("ansible_runner",
                                     reason="ansible-runner is a test dependency (requirements-dev.txt)")

CREDENTIAL_TYPE = REPO / "docs" / "awx-credential-type.yml"
KINDS = ("text-embedding-v4", "qwen3-rerank", "qwen-max")


def credential_type():
    document = yaml.safe_load(CREDENTIAL_TYPE.read_text())
    assert set(document) >= {"name", "kind", "inputs", "injectors"}
    return document


def inject(document, inputs, job_dir):
    """The environment AWX gives a job for a credential of this type with these inputs: each file injector
    written to a file of its own, each env injector rendered (jinja2, undefined inputs empty)."""
    fields = {field["id"]: field for field in document["inputs"]["fields"]}
    missing = [name for name in document["inputs"].get("required", []) if not inputs.get(name)]
    assert not missing, "the credential type requires %s" % missing
    unknown = set(inputs) - set(fields)
    assert not unknown, "the credential type has no field %s" % sorted(unknown)
    values = {name: inputs.get(name, field.get("default", "")) for name, field in fields.items()}
    environment = jinja2.Environment(undefined=jinja2.ChainableUndefined)
    filenames = {}
    for key, template in (document["injectors"].get("file") or {}).items():
        name = key.split(".", 1)[1] if "." in key else key
        path = job_dir / ("credential-%s" % name)
        path.write_text(environment.from_string(template).render(values))
        filenames[name] = str(path)
    tower = {"filename": filenames}
    return {name: environment.from_string(str(template)).render(dict(values, tower=tower))
            for name, template in document["injectors"]["env"].items()}


def test_the_documented_credential_type_is_the_file():
    text = (REPO / "docs" / "connection.md").read_text()
    assert "awx-credential-type.yml" in text
    document = credential_type()
    secrets = sorted(f["id"] for f in document["inputs"]["fields"] if f.get("secret"))
    assert secrets == ["fingerprint_key", "model_api_key", "password"]
    assert set(document["injectors"]["env"]) >= {"POLARSEARCH_HOST_PORT", "POLARSEARCH_USERNAME",
                                                 "POLARSEARCH_PASSWORD", "ML_STACK_API_KEY"}


class Job:
    """One private data directory and the jobs run in it."""

    def __init__(self, root, environment, extravars):
        self.root = root
        project = root / "project"
        (project / "collections" / "ansible_collections" / "polardb").mkdir(parents=True)
        (project / "collections" / "ansible_collections" / "polardb" / "polarsearch").symlink_to(
            REPO, target_is_directory=True)
        for name in ("provision", "drift", "teardown"):
            (project / ("%s.yml" % name)).write_text(
                "---\n- name: The collection's %s playbook\n  ansible.builtin.import_playbook: "
                "polardb.polarsearch.%s\n" % (name, name))
        (root / "inventory").mkdir()
        (root / "inventory" / "hosts").write_text(
            "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
        (root / "env").mkdir()
        (root / "env" / "envvars").write_text(yaml.safe_dump(environment))
        (root / "env" / "extravars").write_text(yaml.safe_dump(extravars))
        (root / "env" / "settings").write_text(yaml.safe_dump({"suppress_ansible_output": True,
                                                               "job_timeout": 900}))

    def run(self, playbook):
        ident = "%s-%s" % (playbook, uuid.uuid4().hex[:6])
        runner = ansible_runner.run(private_data_dir=str(self.root), playbook="%s.yml" % playbook, ident=ident,
                                    quiet=True)
        return runner, self.root / "artifacts" / ident

    @staticmethod
    def texts(artifacts):
        """The runner's stdout and stderr and every job event JSON of one job. (Its ``command`` file holds the
        job's environment, secrets included, as the runner was given it: AWX keeps that environment with the
        secret values masked; it is the input of the job, not its output.)"""
        out = {"stdout": (artifacts / "stdout").read_text(), "stderr": (artifacts / "stderr").read_text()}
        for path in sorted((artifacts / "job_events").glob("*.json")):
            out[path.name] = path.read_text()
        return out


def changed(runner):
    return sum((runner.stats or {}).get("changed", {}).values())


@pytest.fixture
def awx_job(env, prefix, tmp_path, rest):
    """A job directory with the credential of the current profile's cluster: the admin on the secure node; on
    the plain node (no security plugin: it ignores credentials) a username and a random password."""
    secure = env["profile"] == "secure"
    ca_pem = Path(env["ca_path"]).read_text() if secure else ""
    inputs = {
        "host": env["url"],
        "username": env["username"] if secure else "awx-job-user",
        "password": env["password"] if secure else "pw-%s" % uuid.uuid4().hex,
        "model_api_key": env["api_key"],
        "fingerprint_key": "fp-%s" % uuid.uuid4().hex,
        "validate_certs": True,
    }
    if ca_pem:
        inputs["ca_cert"] = ca_pem
    document = credential_type()
    environment = inject(document, inputs, tmp_path)
    # what the job must never show: every secret input (the demo admin's password is its username, which a
    # run may print as the user it acts as, so it is not looked for there)
    secrets = [inputs[f["id"]] for f in document["inputs"]["fields"]
               if f.get("secret") and inputs.get(f["id"]) and inputs[f["id"]] != inputs["username"]]
    # the ansible-playbook next to this Python first on PATH, as an execution environment has its own
    environment.update({"ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0",
                        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])})
    extravars = {"ml_stack_name_prefix": prefix + "-", "ml_stack_endpoint": env["endpoint_url"],
                 "ml_stack_private_ip_enabled": True, "ml_stack_wait_timeout": 120}
    job = Job(tmp_path / "job", environment, extravars)
    job.secrets = secrets
    job.prefix = prefix + "-"
    yield job
    leftover = [hit["_id"] for kind in ("models", "connectors")
                for hit in rest.call("POST", "%s/%s/_search" % (ML, kind),
                                     {"query": {"prefix": {"name.keyword": job.prefix}}, "size": 50},
                                     ok=(200, 404)).get("hits", {}).get("hits", [])]
    if leftover:
        job.run("teardown")


def test_provision_drift_and_teardown_as_an_awx_job(awx_job, rest):
    results = {}
    for playbook, status, rc in (("provision", "successful", 0), ("provision", "successful", 0),
                                 ("drift", "successful", 0), ("teardown", "successful", 0)):
        runner, artifacts = awx_job.run(playbook)
        stdout = (artifacts / "stdout").read_text()
        assert (runner.status, runner.rc) == (status, rc), stdout[-6000:]
        for name, text in awx_job.texts(artifacts).items():
            for secret in awx_job.secrets:
                assert secret not in text, "a secret of the credential is in the job's %s" % name
        assert len(list((artifacts / "job_events").glob("*.json"))) > 5
        results.setdefault(playbook, []).append((changed(runner), stdout))

    assert [count for count, _stdout in results["provision"]] == [1, 0], results["provision"]
    drift_changed, drift_out = results["drift"][0]
    assert drift_changed == 0 and "the ML stack is in sync on 1 cluster(s)" in drift_out
    assert results["teardown"][0][0] == 1
    for kind in ("models", "connectors"):
        hits = rest.call("POST", "%s/%s/_search" % (ML, kind),
                         {"query": {"prefix": {"name.keyword": awx_job.prefix}}, "size": 50},
                         ok=(200, 404)).get("hits", {}).get("hits", [])
        assert [h for h in hits if h["_source"]["name"].startswith(awx_job.prefix)] == []


def test_a_drifted_cluster_fails_the_awx_job(awx_job, rest):
    runner, _artifacts = awx_job.run("provision")
    assert runner.status == "successful"
    model = next(h for h in rest.call("POST", "%s/models/_search" % ML,
                                      {"query": {"term": {"name.keyword": awx_job.prefix + "qwen-max"}}})["hits"]["hits"])
    rest.call("PUT", "%s/models/%s" % (ML, model["_id"]), {"description": "changed by hand"})

    runner, artifacts = awx_job.run("drift")

    assert (runner.status, runner.rc) == ("failed", 2)
    failed = [json.loads(text) for name, text in awx_job.texts(artifacts).items()
              if name != "stdout" and '"runner_on_failed"' in text]
    messages = [event["event_data"]["res"].get("msg", "") for event in failed]
    assert any("drifted on 1 of 1 cluster(s): localhost: model %sqwen-max update (description)" % awx_job.prefix
               in m for m in messages), messages
    for text in awx_job.texts(artifacts).values():
        assert not any(secret in text for secret in awx_job.secrets)
    runner, _artifacts = awx_job.run("teardown")
    assert runner.status == "successful"


def test_environment_variables_of_the_job_are_the_injected_ones(env, tmp_path):
    """The injectors give the variables the modules read, with the CA written to a file on the secure profile."""
    document = credential_type()
    inputs = {"host": env["url"], "username": "u", "password": "p", "ca_cert": "-----BEGIN CERTIFICATE-----\n"}
    environment = inject(document, inputs, tmp_path)
    assert environment["POLARSEARCH_HOST_PORT"] == env["url"]
    assert Path(environment["POLARSEARCH_CA_PATH"]).read_text() == inputs["ca_cert"]
    assert environment["POLARSEARCH_VALIDATE_CERTS"] == "True"
    assert environment["ML_STACK_API_KEY"] == environment["NO_PROXY"] == ""
    without_ca = inject(document, {"host": "h:1", "username": "u", "password": "p"}, tmp_path)
    assert without_ca["POLARSEARCH_CA_PATH"] == ""
    assert os.path.basename(environment["POLARSEARCH_CA_PATH"]) == "credential-ca_cert"
