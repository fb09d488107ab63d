# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many clusters in one run: the playbooks over an inventory of three clusters (docs/fleet.md).

Each inventory host is one cluster, reached through its own counting loopback proxy (tests/tools/fault_proxy.py,
no rules), so every cluster has its own address and its own request count. The clusters are:

* with ``POLARSEARCH_FLEET_NODES=2``: the plain node given (``POLARSEARCH_URL``) and two more plain nodes that the
  module starts with ``scripts/polarsearch-local up`` (their own ports and ``POLARSEARCH_LOCAL_HOME`` under
  build/fleet-nodes) and stops afterwards: three servers;
* without it: the plain node given, three times, each host with its own name prefix: three stacks that share
  one server (a second node costs a JVM and about a minute to start on this machine).

In one run each: provision converges the three; drift, with one cluster changed by hand, fails once naming that
cluster only; provision repairs it; teardown removes the three. A cluster that is down (its proxy stopped: its
port closed) fails its host only, and the other two converge. The figures of a no-op provision and a drift
check over one cluster and over three (``POLARSEARCH_FLEET_REPEAT`` runs each, median) are written to
build/measured/fleet-bench.md.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import ML, REPO

sys.path.insert(0, str(REPO / "tests" / "tools"))
from fault_proxy import FaultProxy, object_kind  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.plain_only("the fleet runs plain nodes (scripts/polarsearch-local up starts more of them)")

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
CLUSTERS = ("c1", "c2", "c3")
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
BENCH = REPO / "build" / "measured" / "fleet-bench.md"
LOCAL = REPO / "scripts" / "polarsearch-local"


# -- the nodes --------------------------------------------------------------------------------------------------
def node_env(index):
    """The environment of scripts/polarsearch-local for one more plain node (and its model service) on ports and
    under a home of its own (build/fleet-nodes/nINDEX)."""
    home = REPO / "build" / "fleet-nodes" / ("n%d" % index)
    home.mkdir(parents=True, exist_ok=True)
    out = {k: v for k, v in os.environ.items() if not k.startswith(("POLARSEARCH_", "MODEL_SERVICE_"))}
    out.update({"POLARSEARCH_LOCAL_HOME": str(home), "POLARSEARCH_LOCAL_PORT": str(9270 + index),
                "POLARSEARCH_LOCAL_TRANSPORT_PORT": str(9370 + index), "MODEL_SERVICE_PORT": str(18170 + index)})
    return out


def start_node(environment):
    """``up``, and the URL it prints."""
    up = subprocess.run([str(LOCAL), "up"], env=environment, capture_output=True, text=True, timeout=900,
                        check=False)
    assert up.returncode == 0, "scripts/polarsearch-local up failed:\n%s" % up.stderr[-4000:]
    lines = dict(line.split("=", 1) for line in up.stdout.splitlines() if "=" in line)
    return lines["POLARSEARCH_URL"]


@pytest.fixture(scope="module")
def nodes(env):
    """The URL of each cluster's server: the node given, and the nodes started here when asked for."""
    wanted = int(os.environ.get("POLARSEARCH_FLEET_NODES") or 0)
    if wanted not in (0, 2):
        raise pytest.UsageError("POLARSEARCH_FLEET_NODES must be 2 (start two more nodes) or unset")
    environments = [node_env(index) for index in range(1, wanted + 1)]
    try:
        # side by side: each start waits mostly on its JVM
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            urls = [env["url"]] + list(pool.map(start_node, environments))
        yield (urls * 3)[:3]
    finally:
        for environment in environments:
            subprocess.run([str(LOCAL), "down"], env=environment, capture_output=True, text=True, timeout=300,
                           check=False)


# -- the fleet ----------------------------------------------------------------------------------------------------
class Run:
    """One ansible-playbook run over the fleet: return code, output, PLAY RECAP per host, time."""

    def __init__(self, completed, seconds):
        self.rc = completed.returncode
        self.output = completed.stdout + completed.stderr
        self.seconds = seconds
        self.recap = {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(5))}
                      for m in RECAP.finditer(completed.stdout)}

    def changed(self, host):
        return self.recap[host]["changed"]

    def failed(self, host):
        return self.recap[host]["failed"]

    def message(self):
        found = re.findall(r'"msg": "((?:[^"\\]|\\.)*)"', self.output)
        return found[-1] if found else ""

    def tail(self):
        return self.output[-6000:]


class Fleet:
    def __init__(self, env, urls):
        self.env_info = env
        self.run_id = uuid.uuid4().hex[:6]
        self.prefixes = {name: "fl-%s-%s-" % (self.run_id, name) for name in CLUSTERS}
        self.upstreams = dict(zip(CLUSTERS, urls))
        self.proxies = {name: FaultProxy(url, lifetime=3600.0).start() for name, url in self.upstreams.items()}
        self.workdir = Path(tempfile.mkdtemp(prefix="fleet-it-"))
        collections = self.workdir / "collections" / "ansible_collections" / "polardb"
        collections.mkdir(parents=True)
        (collections / "polarsearch").symlink_to(REPO, target_is_directory=True)
        self.inventory = self.workdir / "inventory.yml"
        self.write_inventory()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("POLARSEARCH_", "ML_STACK_", "DASHSCOPE_", "ANSIBLE_", "MODEL_SERVICE_"))}
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(self.workdir / "collections"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ML_STACK_API_KEY": env["api_key"],
        })
        self.session = requests.Session()
        self.session.trust_env = False

    def write_inventory(self):
        hosts = {name: {"polarsearch_host": self.proxies[name].url, "ml_stack_name_prefix": self.prefixes[name]}
                 for name in CLUSTERS}
        inventory = {"fleet": {"hosts": hosts, "vars": {
            "ml_stack_endpoint": self.env_info["endpoint_url"],
            "ml_stack_private_ip_enabled": True,
            "ml_stack_wait_timeout": 120,
            "polarsearch_retries": 1,
            "ml_stack_report_path": str(self.workdir / "{{ inventory_hostname }}-report.json"),
        }}}
        self.inventory.write_text(json.dumps(inventory))

    def report(self, name):
        path = self.workdir / ("%s-report.json" % name)
        return json.loads(path.read_text()) if path.exists() else None

    def clear_reports(self):
        for name in CLUSTERS:
            (self.workdir / ("%s-report.json" % name)).unlink(missing_ok=True)

    def playbook(self, name, clusters="fleet", extra=None):
        self.clear_reports()
        command = [str(ANSIBLE_PLAYBOOK), "-i", str(self.inventory), "polardb.polarsearch.%s" % name,
                   "-e", "polarsearch_clusters=%s" % clusters]
        for key, value in (extra or {}).items():
            command += ["-e", "%s=%s" % (key, value)]
        started = time.monotonic()
        completed = subprocess.run(command, env=self.env, cwd=self.workdir, capture_output=True, text=True,
                                   timeout=900, check=False)
        return Run(completed, time.monotonic() - started)

    def marks(self):
        return {name: proxy.mark() for name, proxy in self.proxies.items()}

    def requests_since(self, marks):
        """Per cluster: the number of requests its proxy saw since ``marks``, by kind of object."""
        out = {}
        for name, mark in marks.items():
            per_kind = {}
            for record in self.proxies[name].records(since=mark):
                kind = object_kind(record.path)
                per_kind[kind] = per_kind.get(kind, 0) + 1
            out[name] = per_kind
        return out

    def stop_proxy(self, name):
        port = self.proxies[name].port
        self.proxies[name].stop()
        return port

    def restart_proxy(self, name, port):
        self.proxies[name] = FaultProxy(self.upstreams[name], port=port, lifetime=3600.0).start()

    # -- the servers, read directly ----------------------------------------------------------------------------
    def search(self, name, kind, prefix):
        body = {"query": {"prefix": {"name.keyword": prefix}}, "size": 100}
        answer = self.session.post("%s%s/%s/_search" % (self.upstreams[name], ML, kind), json=body, timeout=30)
        if answer.status_code == 404:
            return []
        answer.raise_for_status()
        return [hit for hit in answer.json()["hits"]["hits"] if hit["_source"].get("name", "").startswith(prefix)]

    def objects(self, name):
        prefix = self.prefixes[name]
        return {kind: sorted(h["_source"]["name"] for h in self.search(name, kind, prefix))
                for kind in ("connectors", "models")}

    def change_by_hand(self, name, model="qwen-max", description="changed by hand"):
        hit = self.search(name, "models", self.prefixes[name] + model)[0]
        answer = self.session.put("%s%s/models/%s" % (self.upstreams[name], ML, hit["_id"]),
                                  json={"description": description}, timeout=30)
        answer.raise_for_status()

    def close(self):
        for proxy in self.proxies.values():
            proxy.stop()


@pytest.fixture(scope="module")
def fleet(env, nodes):
    fleet = Fleet(env, nodes)
    try:
        yield fleet
    finally:
        if any(any(fleet.objects(name).values()) for name in CLUSTERS):
            fleet.playbook("teardown")
        fleet.close()


def drifted_rows(report):
    return [(r["resource"], r["name"], r["action"], r["fields"]) for r in report["resources"] if r["action"] != "none"]


# -- the cases ----------------------------------------------------------------------------------------------------
def test_provision_converges_every_cluster(fleet):
    run = fleet.playbook("provision")

    assert run.rc == 0, run.tail()
    for name in CLUSTERS:
        assert run.changed(name) == 1 and run.failed(name) == 0, (name, run.recap)
        prefix = fleet.prefixes[name]
        objects = fleet.objects(name)
        assert objects["models"] == sorted(prefix + m for m in ("text-embedding-v4", "qwen3-rerank", "qwen-max"))
        assert len(objects["connectors"]) == 3
        # each cluster its own report, named by the host
        report = fleet.report(name)
        assert report and report["check_mode"] is False
        assert {row["model"] for row in report["resources"]} == {prefix + m for m in
                                                                 ("text-embedding-v4", "qwen3-rerank", "qwen-max")}


def median_run(fleet, name, clusters, repeat):
    runs, counts = [], []
    for _round in range(repeat):
        marks = fleet.marks()
        run = fleet.playbook(name, clusters)
        assert run.rc == 0, run.tail()
        runs.append(run)
        counts.append({k: v for k, v in fleet.requests_since(marks).items() if v})
    return statistics.median(r.seconds for r in runs), runs, counts


def test_noop_provision_and_drift_cost_per_cluster(fleet):
    """A no-op provision and a drift check over one cluster and over three; the figures go to
    build/measured/fleet-bench.md. Each cluster costs the requests one cluster costs: one read per kind of object."""
    repeat = int(os.environ.get("POLARSEARCH_FLEET_REPEAT") or 3)
    figures = {}
    for playbook in ("provision", "drift"):
        one, one_runs, one_counts = median_run(fleet, playbook, "c1", repeat)
        three, three_runs, three_counts = median_run(fleet, playbook, "fleet", repeat)
        for run in one_runs + three_runs:
            assert all(run.changed(name) == 0 for name in run.recap if name in CLUSTERS), run.recap
        if playbook == "drift":
            assert "the ML stack is in sync on 3 cluster(s)" in three_runs[-1].output, three_runs[-1].tail()
        # one cluster alone and the same cluster beside two others: the same requests, kind by kind
        for counts in one_counts:
            assert list(counts) == ["c1"], counts
        for counts in three_counts:
            assert sorted(counts) == list(CLUSTERS), counts
            assert counts["c1"] == one_counts[0]["c1"], (counts, one_counts)
            assert counts["c2"] == counts["c3"] == counts["c1"], counts
        figures[playbook] = {"one": one, "three": three, "ratio": three / one, "per_cluster": one_counts[0]["c1"]}
    write_bench(fleet, figures, repeat)


def write_bench(fleet, figures, repeat):
    servers = len(set(fleet.upstreams.values()))
    lines = [
        "# The fleet: one cluster and three in one run",
        "",
        "Written by tests/integration/test_fleet.py (%s, %d server(s) for the three clusters, %s). Wall time of "
        "`ansible-playbook -i INVENTORY polardb.polarsearch.PLAYBOOK -e polarsearch_clusters=...`, the median of %d "
        "runs; the requests are those each cluster's proxy saw in one run." % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), servers,
            "POLARSEARCH_FLEET_NODES=2" if servers == 3 else "POLARSEARCH_FLEET_NODES unset", repeat),
        "",
        "| run | one cluster s | three clusters s | three / one | requests per cluster | per kind |",
        "|---|---|---|---|---|---|",
    ]
    for playbook, label in (("provision", "no-op provision"), ("drift", "drift check")):
        f = figures[playbook]
        kinds = ", ".join("%s %d" % item for item in sorted(f["per_cluster"].items()))
        row = (label, f["one"], f["three"], f["ratio"], sum(f["per_cluster"].values()), kinds)
        lines.append("| %s | %.2f | %.2f | %.2f | %d | %s |" % row)
    lines += ["", "Command: `set -a; . /tmp/cl/plain.env; set +a; POLARSEARCH_PROFILE=plain "
              "[POLARSEARCH_FLEET_NODES=2] .venv/bin/python -m pytest -p no:cacheprovider tests/integration/test_fleet.py`",
              ""]
    BENCH.parent.mkdir(parents=True, exist_ok=True)
    BENCH.write_text("\n".join(lines))


def test_drift_names_the_cluster_changed_by_hand_only(fleet):
    fleet.change_by_hand("c2")

    run = fleet.playbook("drift")

    assert run.rc != 0, run.tail()
    message = run.message()
    model = fleet.prefixes["c2"] + "qwen-max"
    assert message.startswith("the ML stack drifted on 1 of 3 cluster(s): c2: model %s update (description);"
                              % model), message
    # no model of the other clusters is named (their prefixes hold the cluster's name; the random run ID in them can
    # hold "c1" or "c3" too, so the names alone say nothing)
    assert fleet.prefixes["c1"] not in message and fleet.prefixes["c3"] not in message, message
    # checked everywhere, failed once: at the end, on localhost
    assert all(run.failed(name) == 0 for name in CLUSTERS) and run.failed("localhost") == 1, run.recap
    assert drifted_rows(fleet.report("c2")) == [("model", model, "update", ["description"])]
    assert drifted_rows(fleet.report("c1")) == drifted_rows(fleet.report("c3")) == []


def test_provision_repairs_that_cluster_only(fleet):
    run = fleet.playbook("provision")

    assert run.rc == 0, run.tail()
    assert (run.changed("c1"), run.changed("c2"), run.changed("c3")) == (0, 1, 0), run.recap
    drift = fleet.playbook("drift")
    assert drift.rc == 0 and "the ML stack is in sync on 3 cluster(s)" in drift.output, drift.tail()


def test_a_cluster_that_is_down_fails_its_host_only(fleet):
    fleet.change_by_hand("c1", description="changed while c3 is down")
    port = fleet.stop_proxy("c3")
    try:
        run = fleet.playbook("provision")
        assert run.rc != 0, run.tail()
        assert run.failed("c3") == 1 and "127.0.0.1:%d" % port in run.output, run.tail()
        assert (run.changed("c1"), run.failed("c1"), run.changed("c2"), run.failed("c2")) == (1, 0, 0, 0), run.recap

        drift = fleet.playbook("drift")
        assert drift.rc != 0 and drift.failed("c3") == 1, drift.tail()
        assert "the ML stack is in sync on 2 cluster(s); not checked: c3" in drift.output, drift.tail()
    finally:
        fleet.restart_proxy("c3", port)


def test_teardown_removes_every_stack(fleet):
    run = fleet.playbook("teardown")

    assert run.rc == 0, run.tail()
    for name in CLUSTERS:
        assert run.changed(name) == 1, run.recap
        assert fleet.objects(name) == {"connectors": [], "models": []}
