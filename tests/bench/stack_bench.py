# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ml_stack role costs against a real cluster, next to one bare module call.

A benchmark, not a test: it prints what it measured and fails only when a playbook fails.
Every request of the role goes through a counting loopback proxy (tests/tools/fault_proxy.py,
no rules), so each run has its request count per kind of object and the time the server took.

Runs, all in one process and one cluster, so the ratios compare like with like; create, no-op, drift
and teardown run in ``--repeat`` cycles, and each is the median of its runs:

* ``one call``: a playbook with one ``ansible.builtin.ping`` task, run ``--repeat`` times first and once
  at the start of each cycle (the machine's load changes over a run); the base of the ratios is the median;
* ``create``: provision of the default three-model stack on a cluster without it;
* ``no-op``: provision of the converged stack;
* ``drift``: ``playbooks/drift.yml`` of the converged stack;
* ``teardown``: teardown of the stack;
* the same create, no-op and teardown with ``--foreign`` unrelated connectors and models on the cluster.

Every run has ``ml_stack_verify: false`` (no predicts). ``overhead`` is the wall time minus the time of
the requests at the proxy (what is not spent waiting on the server).

Environment: ``POLARSEARCH_URL`` (a plain ``http://127.0.0.1:<port>`` node), ``MODEL_SERVICE_ENDPOINT``,
``MODEL_SERVICE_API_KEY`` (printed by ``scripts/polarsearch-local up``), and ``ANSIBLE_COLLECTIONS_PATH``
that finds this collection. ``--json PATH`` writes the figures as JSON, ``--markdown PATH`` as a table.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from fault_proxy import FaultProxy, object_kind  # noqa: E402  pylint: disable=wrong-import-position

ML = "_plugins/_ml"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
ONE_CALL = """\
- name: One bare module call
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


class Measure:
    """One playbook run: wall time, the requests the proxy saw and the time the server took."""

    def __init__(self, name, seconds, records):
        self.name = name
        self.seconds = seconds
        self.requests = len(records)
        self.server_seconds = sum(r.seconds or 0.0 for r in records)
        self.per_kind = {}
        for record in records:
            kind = object_kind(record.path)
            self.per_kind[kind] = self.per_kind.get(kind, 0) + 1

    @property
    def overhead(self):
        return self.seconds - self.server_seconds

    def as_dict(self):
        return {"seconds": round(self.seconds, 3), "requests": self.requests,
                "server_seconds": round(self.server_seconds, 3), "overhead_seconds": round(self.overhead, 3),
                "per_kind": dict(sorted(self.per_kind.items()))}


class Bench:
    def __init__(self, url, endpoint, api_key, repeat):
        self.url = url.rstrip("/")
        self.endpoint = endpoint if "://" in endpoint else "http://" + endpoint
        self.api_key = api_key
        self.repeat = repeat
        self.prefix = "bench-%s-" % uuid.uuid4().hex[:6]
        self.workdir = Path(tempfile.mkdtemp(prefix="stack-bench-"))
        self.proxy = FaultProxy(self.url, lifetime=3600.0).start()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("POLARSEARCH_", "ML_STACK_"))}
        self.env.update({
            "POLARSEARCH_URL": self.proxy.url,
            "ML_STACK_API_KEY": api_key,
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
        })
        self.session = requests.Session()
        self.session.trust_env = False
        self.one_calls = []  # every run of the one-call playbook: the base of the ratios is their median

    # -- runs --------------------------------------------------------------------------------------
    def run(self, name, command, ok_codes=(0,)):
        mark = self.proxy.mark()
        started = time.monotonic()
        completed = subprocess.run(command, env=self.env, cwd=self.workdir, capture_output=True, text=True,
                                   timeout=1200, check=False)
        seconds = time.monotonic() - started
        if completed.returncode not in ok_codes:
            raise SystemExit("bench: %s failed (exit %d):\n%s" % (
                name, completed.returncode, (completed.stdout + completed.stderr)[-6000:]))
        return Measure(name, seconds, self.proxy.records(since=mark))

    def one_call(self):
        path = self.workdir / "one-call.yml"
        path.write_text(ONE_CALL)
        measured = self.run("one call", [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(path)])
        self.one_calls.append(measured)
        return measured

    def playbook(self, name, check=False):
        variables = {
            "ml_stack_name_prefix": self.prefix,
            "ml_stack_endpoint": self.endpoint,
            "ml_stack_private_ip_enabled": True,
            "ml_stack_verify": False,
            "ml_stack_wait_timeout": 120,
        }
        vars_file = self.workdir / "vars.json"
        vars_file.write_text(json.dumps(variables))
        command = [str(ANSIBLE_PLAYBOOK), "polardb.polarsearch.%s" % name, "-e", "@%s" % vars_file]
        if check:
            command.append("--check")
        return self.run(name, command)

    def cycles(self, prefix=""):
        """``repeat`` cycles of create, no-op, drift and teardown; each run's median over the cycles (by
        wall time for the no-op and drift, by overhead for create and teardown, whose ratio is of it)."""
        runs = {"create": [], "noop": [], "drift": [], "teardown": []}
        for _index in range(self.repeat):
            self.one_call()
            for name, playbook in (("create", "provision"), ("noop", "provision"), ("drift", "drift"),
                                   ("teardown", "teardown")):
                runs[name].append(self.playbook(playbook))
        return {prefix + name: median(measured, by_overhead=name in ("create", "teardown")).as_dict()
                for name, measured in runs.items()}

    def server_version(self):
        return self.call("GET", "")["version"]["number"]

    # -- foreign objects ---------------------------------------------------------------------------
    def call(self, method, path, body=None):
        answer = self.session.request(method, "%s/%s" % (self.url, path), json=body, timeout=60)
        answer.raise_for_status()
        return answer.json() if answer.content else {}

    def add_foreign(self, count, prefix):
        """``count`` objects named ``prefix...``, none of the stack's names: half connectors, half remote models,
        each with a connector of its own inside it (``connector`` in the register, no ``connector_id``).

        Foreign models that used the foreign connectors could block the stack's teardown: ML Commons counts a
        model as a user of a connector when their connector IDs share an analyzed term, and IDs made in the same
        minute often do (``rgmoNKIBn-...`` and ``RgmoNKIBn-...``: docs/local-cluster.md, "Missing resources"). A teardown then fails, as
        it must, naming them; that is a fault of the server, not a cost to measure."""
        connector = {"version": "1", "protocol": "http", "parameters": {"endpoint": self.endpoint},
                     "credential": {"api_key": "unused"},
                     "actions": [{"action_type": "predict", "method": "POST", "url": "%s/v1/embeddings" % self.endpoint,
                                  "request_body": "{ \"input\": ${parameters.input} }"}]}

        def one(index):
            self.call("POST", "%s/connectors/_create" % ML, dict(connector, name="%sconnector-%04d" % (prefix, index)))
            self.call("POST", "%s/models/_register" % ML, {
                "name": "%smodel-%04d" % (prefix, index), "function_name": "remote",
                "connector": dict(connector, name="%sinternal-%04d" % (prefix, index)),
            })

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(one, range((count + 1) // 2)))

    def remove_foreign(self, prefix):
        """Delete what ``add_foreign`` made: the models, the model groups their registers made, and the
        connectors. A connector delete answered 409 is sent again for a few seconds: a model deleted just
        before (the last teardown's) stays in the searches of the models index until it refreshes, and the
        server counts it as a user of every connector whose ID shares an analyzed term with its own."""

        def delete(kind, oid):
            for _attempt in range(20):
                answer = self.session.request("DELETE", "%s/%s/%s/%s" % (self.url, ML, kind, oid), timeout=60)
                if answer.status_code != 409:
                    answer.raise_for_status()
                    return
                time.sleep(0.5)
            answer.raise_for_status()

        for kind in ("models", "model_groups", "connectors"):
            hits = self.call("POST", "%s/%s/_search" % (ML, kind), {
                "query": {"prefix": {"name.keyword": prefix}}, "size": 10000, "_source": False})
            ids = [hit["_id"] for hit in hits.get("hits", {}).get("hits", [])]
            with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda oid, k=kind: delete(k, oid), ids))

    def trust_endpoint(self):
        """The foreign connectors' endpoint must be trusted before they can be created."""
        regex = "^" + re.escape(self.endpoint) + "/.*$"
        settings = self.call("GET", "_cluster/settings?flat_settings=true")
        key = "plugins.ml_commons.trusted_connector_endpoints_regex"
        current = settings.get("persistent", {}).get(key) or []
        if regex not in current:
            self.call("PUT", "_cluster/settings", {"persistent": {key: current + [regex]}})


def document(text, figures, version):
    meta = figures["meta"]
    return "\n".join([
        "# What the ml_stack role costs",
        "",
        "Written by `tests/bench/stack_bench.py`, which the test command (`scripts/test`, integration phase) runs",
        "against a local plain node of its own (OpenSearch %s) while the integration suites run beside it on the"
        " two other nodes (a busy machine, as a CI host or an AWX node is). Measured on %s;"
        % (version, time.strftime("%Y-%m-%d")),
        "the median of %d runs of each playbook (%d cycles of create, no-op, drift and teardown; create and"
        % (meta["repeat"], meta["repeat"]),
        "teardown by overhead, the others by wall time); %d unrelated objects" % meta["foreign"],
        "(half connectors, half remote models, each with a connector inside it) for the last four rows. Every run",
        "has `ml_stack_verify: false`.",
        "Requests are counted at a loopback proxy between the modules and the node; *server s* is the time of",
        "those requests, *overhead* the wall time minus that. The ratios divide by the wall time of a playbook",
        "that makes one bare module call (`ansible.builtin.ping`), measured in the same run: the median of its",
        "runs before the cycles and at the start of each cycle.",
        "",
        text,
        "",
    ])


def median(runs, by_overhead=False):
    """The middle run of ``runs`` by wall time (or by overhead)."""
    return sorted(runs, key=lambda m: m.overhead if by_overhead else m.seconds)[len(runs) // 2]


def ratio(value, base):
    return round(value / base, 2) if base else None


def table(figures):
    base = figures["one_call"]["seconds"]
    lines = [
        "| run | wall s | requests | per kind | server s | overhead s | wall / one call | overhead / one call |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for name, label in (("one_call", "one bare module call (ping)"), ("create", "create from empty"),
                        ("noop", "no-op provision"), ("drift", "drift check"), ("teardown", "teardown"),
                        ("foreign_create", "create, with foreign objects"),
                        ("foreign_noop", "no-op provision, with foreign objects"),
                        ("foreign_drift", "drift check, with foreign objects"),
                        ("foreign_teardown", "teardown, with foreign objects")):
        if name not in figures:
            continue
        f = figures[name]
        kinds = ", ".join("%s %d" % item for item in sorted(f["per_kind"].items())) or "-"
        lines.append("| %s | %.2f | %d | %s | %.2f | %.2f | %s | %s |" % (
            label, f["seconds"], f["requests"], kinds, f["server_seconds"], f["overhead_seconds"],
            ratio(f["seconds"], base), ratio(f["overhead_seconds"], base)))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of one call, and cycles of create, no-op, drift and teardown (median)")
    parser.add_argument("--foreign", type=int, default=1000,
                        help="unrelated connectors and models to add for the flat-cost runs (0: none)")
    parser.add_argument("--json", help="write the figures as JSON to this file")
    parser.add_argument("--markdown", help="write the table, with how it was made, as Markdown to this file")
    args = parser.parse_args(argv)

    url = os.environ.get("POLARSEARCH_URL", "")
    endpoint = os.environ.get("MODEL_SERVICE_ENDPOINT", "")
    api_key = os.environ.get("MODEL_SERVICE_API_KEY", "")
    if not url.startswith("http://127.0.0.1:") or not endpoint or not api_key:
        raise SystemExit("bench: needs POLARSEARCH_URL=http://127.0.0.1:<port>, MODEL_SERVICE_ENDPOINT and "
                         "MODEL_SERVICE_API_KEY (scripts/polarsearch-local up prints them)")
    bench = Bench(url, endpoint, api_key, args.repeat)
    started = time.monotonic()
    figures = {}
    foreign = None
    try:
        for _index in range(args.repeat):
            bench.one_call()
        figures.update(bench.cycles())
        if args.foreign:
            bench.trust_endpoint()
            added = time.monotonic()
            foreign = "foreign-%s-" % uuid.uuid4().hex[:6]
            bench.add_foreign(args.foreign, foreign)
            print("bench: %d foreign connectors and models added in %.0fs" % (args.foreign, time.monotonic() - added),
                  flush=True)
            figures.update(bench.cycles("foreign_"))
        figures["one_call"] = median(bench.one_calls).as_dict()
    finally:
        bench.proxy.stop()
        if foreign:
            removed = time.monotonic()
            bench.remove_foreign(foreign)
            print("bench: the foreign connectors and models removed in %.0fs" % (time.monotonic() - removed),
                  flush=True)
    figures["meta"] = {"repeat": args.repeat, "foreign": args.foreign, "seconds": round(time.monotonic() - started)}
    text = table(figures)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(document(text, figures, bench.server_version()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
