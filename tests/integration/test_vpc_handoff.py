# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hand-off from the network step: docs/vpc-handoff.yml reads the cluster address and the model endpoint
from a ``terraform output -json`` file, and the trusted endpoint entry follows the endpoint (docs/vpc-handoff.md).

* With a PrivateLink domain as the endpoint, in check mode (nothing is sent to that domain, nothing is written):
  the plan creates the trusted entry of that domain and the connectors that call it.
* With a loopback stand-in of the endpoint (the local model service), for real: provision; the endpoint moves
  (the outputs name the same service as ``localhost``, as a re-made endpoint gets another domain): check mode
  shows the new trusted entry and the connectors following it, the run applies it and the verify predicts go
  through the new address; teardown with the same outputs removes the stack and the new entry.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from conftest import ML, REPO, TRUSTED, connection_env

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
PLAY = REPO / "docs" / "vpc-handoff.yml"


def outputs(address, endpoint):
    """What `terraform output -json` prints for the two outputs."""
    return {"polarsearch_address": {"sensitive": False, "type": "string", "value": address},
            "model_endpoint": {"sensitive": False, "type": "string", "value": endpoint},
            "vpc_id": {"sensitive": False, "type": "string", "value": "vpc-0123456789"}}


class Handoff:
    def __init__(self, env, prefix):
        self.env_info = env
        self.prefix = prefix + "-"
        self.workdir = Path(tempfile.mkdtemp(prefix="vpc-handoff-it-"))
        collections = self.workdir / "collections" / "ansible_collections" / "polardb"
        collections.mkdir(parents=True)
        (collections / "polarsearch").symlink_to(REPO, target_is_directory=True)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("POLARSEARCH_", "ML_STACK_", "DASHSCOPE_", "ANSIBLE_", "MODEL_SERVICE_"))}
        self.env.update({"ANSIBLE_COLLECTIONS_PATH": str(self.workdir / "collections"),
                         "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1",
                         "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_RETRY_FILES_ENABLED": "0",
                         "ML_STACK_API_KEY": env["api_key"]})
        # the secure profile's credentials and CA (the address itself comes from the outputs file)
        self.env.update({k: v for k, v in connection_env(env).items() if k != "POLARSEARCH_URL"})

    def run(self, network, check=False, **extra):
        path = self.workdir / ("network-%s.json" % uuid.uuid4().hex[:6])
        path.write_text(json.dumps(network))
        report = self.workdir / "report.json"
        report.unlink(missing_ok=True)
        variables = {"network_outputs": str(path), "ml_stack_name_prefix": self.prefix,
                     "ml_stack_private_ip_enabled": True, "ml_stack_wait_timeout": 120,
                     "ml_stack_report_path": str(report)}
        variables.update(extra)
        vars_file = self.workdir / "vars.json"
        vars_file.write_text(json.dumps(variables))
        command = [str(ANSIBLE_PLAYBOOK), str(PLAY), "-e", "@%s" % vars_file] + (["--check"] if check else [])
        done = subprocess.run(command, env=self.env, cwd=self.workdir, capture_output=True, text=True, timeout=900,
                              check=False)
        rows = json.loads(report.read_text())["resources"] if report.exists() else None
        return done.returncode, done.stdout + done.stderr, rows


def settings_rows(rows):
    return sorted({(r["name"], r["action"]) for r in rows if r["resource"] == "setting"})


def connectors(rest, prefix):
    hits = rest.call("POST", "%s/connectors/_search" % ML, {"query": {"match_all": {}}, "size": 1000},
                     ok=(200, 404)).get("hits", {}).get("hits", [])
    return {h["_source"]["name"]: h["_source"] for h in hits if h["_source"].get("name", "").startswith(prefix)}


def trusted(rest):
    settings = rest.call("GET", "/_cluster/settings?flat_settings=true")
    return settings.get("persistent", {}).get(TRUSTED, [])


def test_a_privatelink_endpoint_from_the_outputs_plans_its_trusted_entry(env, rest, prefix):
    handoff = Handoff(env, prefix)
    domain = "ep-%s.dashscope.cn-beijing.privatelink.aliyuncs.com" % uuid.uuid4().hex[:12]
    before = trusted(rest)

    rc, output, rows = handoff.run(outputs(env["url"], domain), check=True)

    assert rc == 0, output[-6000:]
    regex = "^https://%s/.*$" % re.escape(domain)
    assert settings_rows(rows) == [(regex, "create")], rows
    assert sorted(r["name"] for r in rows if r["resource"] == "connector" and r["action"] == "create") == sorted(
        handoff.prefix + m + "-connector" for m in ("text-embedding-v4", "qwen3-rerank", "qwen-max"))
    # check mode: nothing written
    assert trusted(rest) == before and connectors(rest, handoff.prefix) == {}


def test_a_missing_output_is_named(env, prefix):
    handoff = Handoff(env, prefix)
    network = outputs(env["url"], "x")
    del network["model_endpoint"]

    rc, output, _rows = handoff.run(network, check=True)

    assert rc != 0 and "must hold the outputs polarsearch_address and model_endpoint" in output, output[-3000:]
    assert "it has polarsearch_address, vpc_id" in output, output[-3000:]


def test_the_trusted_entry_follows_the_endpoint(env, rest, prefix):
    handoff = Handoff(env, prefix)
    port = env["endpoint"].rsplit(":", 1)[1]
    first, moved = "127.0.0.1:%s" % port, "localhost:%s" % port
    moved_regex = "^http://localhost:%s/.*$" % port
    try:
        rc, output, _rows = handoff.run(outputs(env["url"], first), ml_stack_scheme="http")
        assert rc == 0, output[-6000:]
        assert {c["parameters"]["endpoint"] for c in connectors(rest, handoff.prefix).values()} == {first}

        rc, output, rows = handoff.run(outputs(env["url"], moved), check=True, ml_stack_scheme="http")
        assert rc == 0, output[-6000:]
        assert (moved_regex, "create") in settings_rows(rows), rows
        assert {r["name"] for r in rows if r["resource"] == "connector" and r["action"] != "none"} == {
            handoff.prefix + m + "-connector" for m in ("text-embedding-v4", "qwen3-rerank", "qwen-max")}, rows
        assert moved_regex not in trusted(rest)

        rc, output, rows = handoff.run(outputs(env["url"], moved), ml_stack_scheme="http")
        assert rc == 0, output[-6000:]
        assert moved_regex in trusted(rest)
        assert {c["parameters"]["endpoint"] for c in connectors(rest, handoff.prefix).values()} == {moved}
        rc, output, rows = handoff.run(outputs(env["url"], moved), check=True, ml_stack_scheme="http")
        assert rc == 0 and all(r["action"] == "none" for r in rows), rows
    finally:
        rc, output, _rows = handoff.run(outputs(env["url"], moved), ml_stack_scheme="http", ml_stack_state="absent")
    assert rc == 0, output[-6000:]
    assert connectors(rest, handoff.prefix) == {}
