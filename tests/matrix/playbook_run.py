# Copyright: polardb.polarsearch maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provision, check for drift and tear down the ML stack with a given ansible-core, against a running cluster.

    python tests/matrix/playbook_run.py --bin build/venvs/core-2.16/bin

Runs the collection's playbooks (provision, drift, teardown) with the ``ansible-playbook`` in ``--bin``,
so with that venv's ansible-core and Python (the playbooks run the modules with ``ansible_playbook_python``),
the way a user runs them: the cluster and the API key come from the environment, the rest as extra vars.
The cluster is the one ``scripts/polarsearch-local up`` starts; its output gives ``POLARSEARCH_URL``,
``MODEL_SERVICE_ENDPOINT`` and ``MODEL_SERVICE_API_KEY``.

Each step must succeed: provision changes something and fails nothing, the drift check right after it
reports every row in sync, teardown changes something, and afterwards the cluster holds no connector,
model or model group with the run's name prefix. Exits 1 naming the step that failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
ML = "/_plugins/_ml"
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class StepFailed(Exception):
    """A playbook step that did not do what it should."""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bin", required=True, help="directory holding the ansible-playbook to run")
    parser.add_argument("--timeout", type=int, default=900, help="seconds each playbook may take")
    return parser.parse_args(argv)


def cluster_from_env():
    """The cluster URL, the model service endpoint (with its scheme) and the API key."""
    url = os.environ.get("POLARSEARCH_URL", "").rstrip("/")
    endpoint = os.environ.get("MODEL_SERVICE_ENDPOINT", "")
    api_key = os.environ.get("MODEL_SERVICE_API_KEY", "")
    missing = [name for name, value in (("POLARSEARCH_URL", url), ("MODEL_SERVICE_ENDPOINT", endpoint),
                                        ("MODEL_SERVICE_API_KEY", api_key)) if not value]
    if missing:
        raise SystemExit("playbook_run: %s not set: start the cluster with scripts/polarsearch-local up and "
                         "export the lines it prints" % ", ".join(missing))
    if "://" not in endpoint:
        # the local model service speaks plain HTTP; a bare host:port would be read as https by the role
        endpoint = "http://" + endpoint
    return url, endpoint, api_key


class Runner:
    """Runs the collection's playbooks with one ansible-core."""

    def __init__(self, bindir, url, endpoint, api_key, timeout):
        self.playbook_cmd = str(Path(bindir) / "ansible-playbook")
        self.url = url
        self.timeout = timeout
        self.prefix = "mx-%s-" % uuid.uuid4().hex[:8]
        self.workdir = Path(tempfile.mkdtemp(prefix="core-matrix-"))
        collections = self.workdir / "collections" / "ansible_collections" / "polardb"
        collections.mkdir(parents=True)
        (collections / "polarsearch").symlink_to(REPO, target_is_directory=True)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("POLARSEARCH_", "ML_STACK_", "DASHSCOPE_", "ANSIBLE_", "MODEL_SERVICE_"))}
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(self.workdir / "collections"),
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "POLARSEARCH_URL": url,
            "ML_STACK_API_KEY": api_key,
        })
        self.variables = {
            "ml_stack_name_prefix": self.prefix,
            "ml_stack_endpoint": endpoint,
            "ml_stack_private_ip_enabled": True,
            "ml_stack_wait_timeout": 120,
        }

    def version(self):
        """The ansible-core release and the Python that runs it, as ansible-playbook --version says."""
        done = subprocess.run([self.playbook_cmd, "--version"], env=self.env, capture_output=True, text=True,
                              check=True)
        lines = done.stdout.splitlines()
        python = [line.split("=", 1)[1].strip() for line in lines if line.strip().startswith("python version")]
        return "%s, Python %s" % (lines[0].strip(), python[0].split()[0] if python else "?")

    def playbook(self, name):
        """Run one playbook; return (return code, recap counts, report rows, output)."""
        report = self.workdir / ("report-%s.json" % name)
        variables = dict(self.variables, ml_stack_report_path=str(report))
        vars_file = self.workdir / ("vars-%s.json" % name)
        vars_file.write_text(json.dumps(variables))
        started = time.monotonic()
        done = subprocess.run([self.playbook_cmd, "polardb.polarsearch.%s" % name, "-e", "@%s" % vars_file],
                              env=self.env, cwd=self.workdir, capture_output=True, text=True,
                              timeout=self.timeout, check=False)
        seconds = time.monotonic() - started
        output = done.stdout + done.stderr
        match = RECAP.search(done.stdout)
        recap = dict(zip(("ok", "changed", "unreachable", "failed"), (int(n) for n in match.groups()))) if match else {}
        rows = json.loads(report.read_text())["resources"] if report.exists() else None
        print("playbook_run: %s: exit %d in %.1f s, %s" % (name, done.returncode, seconds, recap or "no PLAY RECAP"))
        return done.returncode, recap, rows, output

    def leftovers(self):
        """Names of the connectors, models and model groups with this run's prefix still on the cluster."""
        found = []
        for kind in ("connectors", "models", "model_groups"):
            answer = requests.post(self.url + ML + "/%s/_search" % kind, timeout=30,
                                   json={"size": 100, "query": {"prefix": {"name.keyword": self.prefix}}})
            if answer.status_code == 404:
                continue  # the index does not exist (yet): nothing of this kind
            answer.raise_for_status()
            found += ["%s %s" % (kind, hit["_source"].get("name")) for hit in answer.json()["hits"]["hits"]]
        return found

    def cleanup(self):
        shutil.rmtree(self.workdir, ignore_errors=True)


def expect(condition, step, what, output):
    if not condition:
        raise StepFailed("%s: %s\n%s" % (step, what, output[-6000:]))


def run_steps(runner):
    """provision, drift, teardown, and the cluster left clean."""
    rc, recap, _rows, out = runner.playbook("provision")
    expect(rc == 0 and recap.get("failed") == 0, "provision", "the playbook failed", out)
    expect(recap.get("changed", 0) > 0, "provision", "nothing changed on an empty stack", out)

    rc, recap, rows, out = runner.playbook("drift")
    expect(rows, "drift", "no drift report was written", out)
    drifted = [row for row in rows if row.get("action") != "none"]
    expect(not drifted, "drift", "rows out of sync right after provision: %s" % drifted, out)
    expect(rc == 0 and recap.get("failed") == 0, "drift", "the playbook failed", out)
    print("playbook_run: drift: %d rows, all in sync" % len(rows))

    rc, recap, _rows, out = runner.playbook("teardown")
    expect(rc == 0 and recap.get("failed") == 0, "teardown", "the playbook failed", out)
    expect(recap.get("changed", 0) > 0, "teardown", "nothing was removed", out)
    left = runner.leftovers()
    expect(not left, "teardown", "left on the cluster: %s" % ", ".join(left), out)
    print("playbook_run: teardown left nothing with the prefix %s" % runner.prefix)


def main(argv=None):
    args = parse_args(argv)
    url, endpoint, api_key = cluster_from_env()
    runner = Runner(args.bin, url, endpoint, api_key, args.timeout)
    print("playbook_run: %s, prefix %s" % (runner.version(), runner.prefix))
    try:
        run_steps(runner)
    except StepFailed as exc:
        print("playbook_run: FAILED: %s" % exc)
        print("playbook_run: removing what the run made")
        runner.playbook("teardown")
        return 1
    finally:
        runner.cleanup()
    print("playbook_run: provision, drift and teardown passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
