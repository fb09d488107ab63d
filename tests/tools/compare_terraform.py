# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the default three-model ML stack through OpenTofu and through this collection, side by side.

The same stack (embedding, rerank and LLM connectors, their model groups and remote models,
deployed; the trusted connector endpoint) goes through

* OpenTofu with the opensearch-project provider (``tests/tools/terraform/main.tf``), and
* the collection's playbooks ``provision``, ``drift`` and ``teardown`` (the role ``ml_stack``),

on the local cluster (``scripts/polarsearch-local``), and the script writes a Markdown table of
what it measured: create from empty, the no-op run, four drift cases (an undeployed model, an
edited description, a rotated key, a deleted model: is it seen, does the next apply or provision
fix it), a connector change under a deployed model while a predict loop runs, teardown, and a lost
state file. Each tool talks to the cluster through a loopback counting proxy
(``tests/tools/fault_proxy.py``), which gives the request counts and the time spent waiting on
the server. Out-of-band changes and checks go straight to the cluster and are not counted.

What it needs:

* the ``.venv`` of ``scripts/dev-env`` (ansible-core; this script runs the playbooks with it);
* an OpenTofu binary: ``--tofu PATH`` (env ``TOFU``), else it is built once with ``go`` from the
  Go module proxy (``github.com/opentofu/opentofu`` at ``--tofu-version``) into
  ``~/.cache/polarsearch-tofu/<version>/tofu``;
* the opensearch-project provider binary ``terraform-provider-opensearch``, built or downloaded by
  you: ``--provider PATH`` (env ``TF_OPENSEARCH_PROVIDER``). It is used through a ``dev_overrides``
  CLI configuration, so no provider registry is asked and no ``tofu init`` runs.

The API key reaches OpenTofu only as ``TF_VAR_api_key`` and the playbooks only as
``ML_STACK_API_KEY``; it is never printed. Everything runs on 127.0.0.1.

    scripts/compare-terraform --provider /path/to/terraform-provider-opensearch
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "tools"))

from fault_proxy import FaultProxy  # noqa: E402  pylint: disable=wrong-import-position

TF_DIR = ROOT / "tests" / "tools" / "terraform"
DEFAULT_TOFU_VERSION = "v1.12.6"
# OpenTofu's default registry host, and Terraform's (the script also runs with a terraform binary)
PROVIDER_ADDRESSES = ("registry.opentofu.org/opensearch-project/opensearch",
                      "registry.terraform.io/opensearch-project/opensearch")
MODELS = ("text-embedding-v4", "qwen3-rerank", "qwen-max")
LLM = "qwen-max"
CHANGED_LLM_MODEL = "qwen-plus"
PREDICT_BODIES = {
    "text-embedding-v4": {"parameters": {"input": ["PolarSearch is a search service of PolarDB."]}},
    "qwen3-rerank": {"parameters": {"query": "What is PolarSearch?",
                                    "documents": ["PolarSearch is a search service of PolarDB.",
                                                  "Paris is the capital of France."]}},
    "qwen-max": {"parameters": {"messages": [{"role": "user", "content": "Reply with one word - ready?"}]}},
}
TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"
PRIVATE_IP = "plugins.ml_commons.connector.private_ip_enabled"


class Failure(Exception):
    """A step of the comparison could not run."""


def log(message):
    print("compare-terraform: %s" % message, file=sys.stderr, flush=True)


# --- the cluster, straight (not counted) -------------------------------------------------------
class Rest:
    """Direct calls to the cluster for out-of-band changes and checks."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def call(self, method, path, body=None, ok=(200, 201)):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # nosec - loopback only
                status, text = answer.status, answer.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        if ok and status not in ok:
            raise Failure("%s %s: %s %s" % (method, path, status, text[:300]))
        return status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)

    def search(self, kind, name_prefix):
        """The connectors, models or model groups whose name starts with name_prefix."""
        path = {"connectors": "/_plugins/_ml/connectors/_search", "models": "/_plugins/_ml/models/_search",
                "model_groups": "/_plugins/_ml/model_groups/_search"}[kind]
        query = {"size": 1000, "query": {"bool": {"must": [{"prefix": {"name.keyword": name_prefix}}]}}}
        if kind == "models":
            query["query"]["bool"]["must_not"] = [{"exists": {"field": "chunk_number"}}]
        status, answer = self.call("POST", path, query, ok=(200, 404))
        if status == 404:
            return []
        return [dict(hit["_source"], _id=hit["_id"]) for hit in answer.get("hits", {}).get("hits", [])]

    def model(self, name):
        found = [m for m in self.search("models", name) if m.get("name") == name]
        if len(found) != 1:
            return None if not found else found
        return found[0]

    def model_by_id(self, model_id):
        status, answer = self.call("GET", "/_plugins/_ml/models/%s" % model_id, ok=(200, 404))
        return answer if status == 200 else None

    def connector_by_id(self, connector_id):
        status, answer = self.call("GET", "/_plugins/_ml/connectors/%s" % connector_id, ok=(200, 404))
        return answer if status == 200 else None

    def predict(self, model_id, model_name):
        return self.call("POST", "/_plugins/_ml/models/%s/_predict" % model_id,
                         PREDICT_BODIES[model_name], ok=None)

    def settings(self):
        _status, answer = self.call("GET", "/_cluster/settings?include_defaults=true&flat_settings=true")
        merged = {}
        for part in ("defaults", "persistent", "transient"):
            merged.update(answer.get(part, {}))
        return merged

    def trusted(self):
        value = self.settings().get(TRUSTED, [])
        return value if isinstance(value, list) else [value]

    def count(self, prefix):
        return {kind: len(self.search(kind, prefix)) for kind in ("connectors", "models", "model_groups")}

    def remove_prefix(self, prefix):
        """Delete every model, model group and connector named prefix...; returns how many."""
        removed = 0
        for model in self.search("models", prefix):
            self.call("POST", "/_plugins/_ml/models/%s/_undeploy" % model["_id"], ok=None)
            self.call("DELETE", "/_plugins/_ml/models/%s" % model["_id"], ok=None)
            removed += 1
        for group in self.search("model_groups", prefix):
            self.call("DELETE", "/_plugins/_ml/model_groups/%s" % group["_id"], ok=None)
            removed += 1
        for connector in self.search("connectors", prefix):
            self.call("DELETE", "/_plugins/_ml/connectors/%s" % connector["_id"], ok=None)
            removed += 1
        return removed


# --- measuring ---------------------------------------------------------------------------------
class Measure:
    """One tool run: wall time, requests through the proxy, seconds spent waiting on the server."""

    def __init__(self, proxy, label):
        self.proxy = proxy
        self.label = label
        self.mark = proxy.mark()
        self.started = time.monotonic()
        self.wall = None
        self.records = []

    def stop(self):
        self.wall = time.monotonic() - self.started
        self.records = self.proxy.records(since=self.mark)
        return self

    @property
    def requests(self):
        return len(self.records)

    @property
    def server_seconds(self):
        return sum(r.seconds or 0.0 for r in self.records)

    def figures(self):
        return "%.1f s, %d req (%.2f s on the server)" % (self.wall, self.requests, self.server_seconds)


class PredictLoop:
    """Predict on one model, straight at the cluster, until stopped; count what failed."""

    def __init__(self, rest, model_id, model_name, interval=0.1):
        self.rest, self.model_id, self.model_name, self.interval = rest, model_id, model_name, interval
        self.ok = 0
        self.failed = 0
        self.first_error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        deadline = time.monotonic() + 900
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                status, answer = self.rest.predict(self.model_id, self.model_name)
            except (OSError, ValueError) as exc:
                status, answer = None, str(exc)
            if status == 200:
                self.ok += 1
            else:
                self.failed += 1
                if self.first_error is None:
                    self.first_error = "%s %s" % (status, json.dumps(answer)[:160] if not isinstance(answer, str)
                                                  else answer[:160])
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        time.sleep(1.0)
        self._stop.set()
        self._thread.join(60)


# --- the two tools -----------------------------------------------------------------------------
class Tofu:
    """OpenTofu in a work directory of its own, the provider through dev_overrides."""

    def __init__(self, binary, provider, work, env):
        self.binary = binary
        self.dir = work / "tofu"
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        shutil.copy(TF_DIR / "main.tf", self.dir / "main.tf")
        plugin_dir = work / "provider"
        plugin_dir.mkdir(exist_ok=True)
        link = plugin_dir / "terraform-provider-opensearch"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(provider.resolve())
        rc_file = work / "tofu.rc"
        overrides = "".join('    "%s" = "%s"\n' % (address, plugin_dir) for address in PROVIDER_ADDRESSES)
        rc_file.write_text("provider_installation {\n  dev_overrides {\n%s  }\n  direct {}\n}\n" % overrides)
        self.env = dict(env, TF_CLI_CONFIG_FILE=str(rc_file), TF_IN_AUTOMATION="1", TF_INPUT="0",
                        CHECKPOINT_DISABLE="1")
        self.state = self.dir / "terraform.tfstate"
        self.runs = 0

    def run(self, *args, variables=None):
        env = dict(self.env)
        for key, value in (variables or {}).items():
            env["TF_VAR_%s" % key] = value
        completed = subprocess.run([str(self.binary), *args, "-no-color", "-input=false"], cwd=self.dir, env=env,
                                   capture_output=True, text=True, timeout=900, check=False)
        self.runs += 1
        (self.dir.parent / ("tofu-%02d-%s.log" % (self.runs, args[0]))).write_text(completed.stdout + completed.stderr)
        return completed

    def version(self):
        out = subprocess.run([str(self.binary), "version"], capture_output=True, text=True, env=self.env,
                             check=False).stdout
        found = re.search(r"^(OpenTofu|Terraform) v\S+", out, re.M)
        return found.group(0) if found else out.strip()[:60]


class Ansible:
    """The collection's playbooks, run from this checkout."""

    def __init__(self, work, env, variables):
        self.dir = work / "ansible"
        self.dir.mkdir(parents=True, exist_ok=True)
        links = ROOT / "build" / "dev_collections" / "ansible_collections" / "polardb"
        links.mkdir(parents=True, exist_ok=True)
        link = links / "polarsearch"
        if not link.is_symlink():
            link.symlink_to(ROOT)
        playbook = Path(sys.executable).parent / "ansible-playbook"
        self.playbook_bin = playbook if playbook.exists() else Path(shutil.which("ansible-playbook") or "ansible-playbook")
        self.env = dict(env, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "dev_collections"),
                        ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        self.variables = variables
        self.runs = 0

    def run(self, name, extra=None, env=None):
        self.runs += 1
        variables = dict(self.variables, **(extra or {}))
        report = self.dir / ("report-%d.json" % self.runs)
        variables["ml_stack_report_path"] = str(report)
        vars_file = self.dir / ("vars-%d.json" % self.runs)
        vars_file.write_text(json.dumps(variables))
        completed = subprocess.run([str(self.playbook_bin), "polardb.polarsearch.%s" % name, "-e", "@%s" % vars_file],
                                   cwd=self.dir, env=dict(self.env, **(env or {})), capture_output=True, text=True,
                                   timeout=900, check=False)
        (self.dir / ("%s-%d.log" % (name, self.runs))).write_text(completed.stdout + completed.stderr)
        completed.report = json.loads(report.read_text()) if report.exists() else None
        return completed

    def version(self):
        out = subprocess.run([str(self.playbook_bin), "--version"], capture_output=True, text=True,
                             check=False).stdout.splitlines()
        return "%s, Python %s" % (out[0] if out else "?", platform.python_version())


def plan_summary(completed):
    """What a `tofu plan` found: 'no changes', the plan line and the resources, or the error."""
    out = completed.stdout + completed.stderr
    if completed.returncode == 0:
        return "no changes"
    if completed.returncode != 2:
        return "error: " + first_error(out)
    changes = re.findall(r'# opensearch_ml_(\w+)\.stack\["([^"]+)"\] (?:will be|must be) ([a-z -]+?)(?:\n| \()', out)
    line = re.search(r"Plan: .*", out)
    return "%s (%s)" % (line.group(0) if line else "changes",
                        ", ".join("%s %s %s" % (kind, name, what.strip()) for kind, name, what in changes))


def first_error(text):
    match = re.search(r"Error: (.*)", text)
    if match:
        rest = text[match.end():match.end() + 400]
        detail = " ".join(line.strip() for line in rest.splitlines() if line.strip())[:220]
        return "%s %s" % (match.group(1).strip(), detail)
    match = re.search(r"(fatal|FAILED)[^\n]*\n?[^\n]*", text)
    return match.group(0)[:300] if match else text.strip()[-300:]


def drift_summary(completed):
    report = completed.report or {}
    rows = [r for r in report.get("resources", []) if r.get("action") not in ("none", None)]
    if completed.returncode == 0 and not rows:
        return "no changes"
    if not rows:
        return "error: " + first_error(completed.stdout + completed.stderr)
    return "%d row(s): %s" % (len(rows), ", ".join(
        "%s %s %s%s" % (r["resource"], r["name"], r["action"],
                        " (%s)" % ",".join(r.get("fields") or []) if r.get("fields") else "") for r in rows))


def recap(completed):
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", completed.stdout)
    if not match:
        return "rc=%d" % completed.returncode
    return "ok=%s changed=%s failed=%s" % match.groups()


def apply_summary(completed):
    out = completed.stdout + completed.stderr
    if completed.returncode != 0:
        return "failed: " + first_error(out)
    line = re.search(r"(Apply complete! Resources: .*?\.|Destroy complete! Resources: .*?\.)", out)
    return line.group(1) if line else "rc=0"


# --- the scenario ------------------------------------------------------------------------------
class Comparison:
    def __init__(self, args, cluster):
        self.args = args
        self.url = cluster["POLARSEARCH_URL"]
        self.rest = Rest(self.url)
        self.endpoint_url = cluster["MODEL_SERVICE_ENDPOINT"]
        if "://" not in self.endpoint_url:
            self.endpoint_url = "http://" + self.endpoint_url
        self.endpoint = self.endpoint_url.split("://", 1)[1].rstrip("/")
        self.api_key = cluster.get("MODEL_SERVICE_API_KEY") or os.environ.get("MODEL_SERVICE_API_KEY", "")
        self.trusted_regex = "^%s/.*$" % re.escape(self.endpoint_url.rstrip("/")).replace("\\:", ":")
        self.work = Path(args.work).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.proxy = FaultProxy(self.url, lifetime=7200.0).start()
        self.rows = []      # (case, tofu cell, ansible cell)
        self.notes = {"tofu": [], "ansible": []}
        self.results = {}   # case -> tool -> cell
        self.timings = {}

    # one cell per case and tool
    def put(self, case, tool, text):
        self.results.setdefault(case, {})[tool] = text
        log("%-34s %-8s %s" % (case, tool, text))

    def note(self, tool, text):
        self.notes[tool].append(text)
        log("note %-8s %s" % (tool, text))

    def measured(self, tool, label, function):
        measure = Measure(self.proxy, label)
        result = function()
        measure.stop()
        self.timings.setdefault(label, {})[tool] = measure
        return result, measure

    def model_of(self, prefix, name):
        found = self.rest.model(prefix + name)
        if isinstance(found, list):
            raise Failure("%d models named %s" % (len(found), prefix + name))
        return found

    def deployed(self, prefix):
        states = {}
        for name in MODELS:
            model = self.model_of(prefix, name)
            states[name] = model.get("model_state") if model else "missing"
        return states

    # -- the trusted endpoint for OpenTofu, which has no resource for it -------------------
    def tofu_settings(self, present):
        trusted = self.rest.trusted()
        if present and self.trusted_regex not in trusted:
            wanted = {TRUSTED: trusted + [self.trusted_regex], PRIVATE_IP: True}
            self.rest.call("PUT", "/_cluster/settings", {"persistent": wanted})
        elif not present and self.trusted_regex in trusted:
            self.rest.call("PUT", "/_cluster/settings",
                           {"persistent": {TRUSTED: [t for t in trusted if t != self.trusted_regex]}})

    # -- OpenTofu ------------------------------------------------------------------------------
    def run_tofu(self, tofu):
        prefix = "tofu-"
        base = {"opensearch_url": self.proxy.url, "endpoint": self.endpoint, "scheme": "http",
                "api_key": self.api_key, "prefix": prefix}
        self.rest.remove_prefix(prefix)

        def plan(**over):
            return tofu.run("plan", "-detailed-exitcode", variables=dict(base, **over))

        def apply(**over):
            return tofu.run("apply", "-auto-approve", variables=dict(base, **over))

        self.tofu_settings(True)
        done, m = self.measured("tofu", "create", apply)
        self.put("create", "tofu", "%s; %s; models %s" % (apply_summary(done), m.figures(), self.deployed(prefix)))
        if done.returncode != 0:
            raise Failure("tofu apply failed: " + first_error(done.stdout + done.stderr))
        key_in_state = self.api_key and self.api_key in tofu.state.read_text()
        self.note("tofu", "the API key is stored in clear text in terraform.tfstate: %s"
                          % ("yes" if key_in_state else "no"))
        done, m = self.measured("tofu", "noop-check", plan)
        self.put("no-op check", "tofu", "%s; %s" % (plan_summary(done), m.figures()))
        done, m = self.measured("tofu", "noop-apply", apply)
        self.put("no-op apply", "tofu", "%s; %s" % (apply_summary(done), m.figures()))
        self.drift_cases("tofu", prefix, plan, plan_summary, apply, apply_summary,
                         lambda c: c.returncode == 2, lambda c: c.returncode == 0, rotate=lambda key: {"api_key": key},
                         change=lambda: {"llm_model": CHANGED_LLM_MODEL})
        done, m = self.measured("tofu", "teardown", lambda: tofu.run("destroy", "-auto-approve", variables=base))
        self.put("teardown", "tofu", "%s; %s; left: %s" % (apply_summary(done), m.figures(), self.rest.count(prefix)))
        # a lost state file
        done = apply()
        if done.returncode != 0:
            raise Failure("tofu apply failed: " + first_error(done.stdout + done.stderr))
        for name in ("terraform.tfstate", "terraform.tfstate.backup"):
            (tofu.dir / name).unlink(missing_ok=True)
        done, m = self.measured("tofu", "lost-plan", plan)
        self.put("lost state: check", "tofu", "%s; %s" % (plan_summary(done), m.figures()))
        done, m = self.measured("tofu", "lost-apply", apply)
        self.put("lost state: apply", "tofu", "%s; %s; on the cluster now: %s"
                 % (apply_summary(done), m.figures(), self.rest.count(prefix)))
        removed = self.rest.remove_prefix(prefix)
        self.note("tofu", "after the lost-state run the script deleted %d objects named tofu-* by hand"
                          % removed)
        self.tofu_settings(False)

    # -- the collection -----------------------------------------------------------------------
    def run_ansible(self, ansible):
        prefix = "ans-"
        self.rest.remove_prefix(prefix)

        def drift(**over):
            return ansible.run("drift", dict({"ml_stack_verify": False}, **over.pop("extra", {})), env=over.get("env"))

        def provision(**over):
            return ansible.run("provision", over.pop("extra", {}), env=over.get("env"))

        done, m = self.measured("ansible", "create", provision)
        self.put("create", "ansible", "%s; %s; models %s" % (recap(done), m.figures(), self.deployed(prefix)))
        if done.returncode != 0:
            raise Failure("provision failed: " + first_error(done.stdout + done.stderr))
        done, m = self.measured("ansible", "noop-check", drift)
        self.put("no-op check", "ansible", "%s; %s" % (drift_summary(done), m.figures()))
        done, m = self.measured("ansible", "noop-apply", lambda: provision(extra={"ml_stack_verify": False}))
        self.put("no-op apply", "ansible", "%s (verify off); %s" % (recap(done), m.figures()))
        done, m = self.measured("ansible", "noop-apply-verify", provision)
        self.put("no-op apply, verify on", "ansible", "%s; %s" % (recap(done), m.figures()))
        llm = [{"name": "text-embedding-v4", "kind": "embedding"}, {"name": "qwen3-rerank", "kind": "rerank"},
               {"name": "qwen-max", "kind": "llm", "model": CHANGED_LLM_MODEL}]
        self.drift_cases("ansible", prefix,
                         lambda **o: drift(extra=o.get("extra", {}), env=o.get("env")), drift_summary,
                         lambda **o: provision(extra=dict({"ml_stack_verify": False}, **o.get("extra", {})),
                                               env=o.get("env")),
                         recap, lambda c: c.returncode != 0, lambda c: c.returncode == 0,
                         rotate=lambda key: {"env": {"ML_STACK_API_KEY": key}},
                         change=lambda: {"extra": {"ml_stack_models": llm}})
        done, m = self.measured("ansible", "teardown", lambda: ansible.run("teardown"))
        self.put("teardown", "ansible", "%s; %s; left: %s; trusted entry left: %s"
                 % (recap(done), m.figures(), self.rest.count(prefix), self.trusted_regex in self.rest.trusted()))
        # a lost state file: the collection keeps none, so a fresh controller is the case
        provision()
        shutil.rmtree(ansible.dir)
        ansible.dir.mkdir()
        done, m = self.measured("ansible", "lost-plan", drift)
        self.put("lost state: check", "ansible", "%s; %s" % (drift_summary(done), m.figures()))
        done, m = self.measured("ansible", "lost-apply", lambda: provision(extra={"ml_stack_verify": False}))
        self.put("lost state: apply", "ansible", "%s; %s; on the cluster now: %s"
                 % (recap(done), m.figures(), self.rest.count(prefix)))
        ansible.run("teardown")
        self.rest.remove_prefix(prefix)

    # -- the drift cases, the same for both tools ----------------------------------------------
    def drift_cases(self, tool, prefix, check, check_text, fix, fix_text, seen, clean, rotate, change):
        def case(label, breaker, verify, **over):
            breaker()
            found, m = self.measured(tool, label + "-check", functools.partial(check, **over))
            self.put("%s: seen" % label, tool, "%s; %s" % (check_text(found), m.figures()))
            done, m = self.measured(tool, label + "-fix", functools.partial(fix, **over))
            after = check(**over)
            self.put("%s: fixed" % label, tool, "%s; %s; on the cluster: %s; next check: %s"
                     % (fix_text(done), m.figures(), verify(), check_text(after)))
            return found, done

        embedding = prefix + "text-embedding-v4"

        def undeploy():
            self.rest.call("POST", "/_plugins/_ml/models/%s/_undeploy" % self.model_of(prefix, "text-embedding-v4")["_id"])

        case("undeployed model", undeploy, lambda: "embedding %s" % self.deployed(prefix)["text-embedding-v4"])

        def edit():
            self.rest.call("PUT", "/_plugins/_ml/models/%s" % self.model_of(prefix, "text-embedding-v4")["_id"],
                           {"description": "edited by hand"})

        case("edited description", edit,
             lambda: "description %r" % (self.model_of(prefix, "text-embedding-v4") or {}).get("description"))

        def delete():
            model_id = self.model_of(prefix, "text-embedding-v4")["_id"]
            self.rest.call("POST", "/_plugins/_ml/models/%s/_undeploy" % model_id)
            self.rest.call("DELETE", "/_plugins/_ml/models/%s" % model_id)

        case("deleted model", delete, lambda: "embedding %s" % self.deployed(prefix)["text-embedding-v4"])

        # a rotated key: the new key is in the input; the local model service accepts only the old one,
        # so a predict that answers 401 after the run shows the new key reached the connector
        def key_in_use():
            model = self.model_of(prefix, LLM)
            status, _answer = self.rest.predict(model["_id"], LLM)
            return "predict %s (%s)" % (status, "new key in use" if status != 200 else "old key in use")

        case("rotated key", lambda: None, key_in_use, **rotate("rotated-" + os.urandom(8).hex()))
        restored = fix()
        self.note(tool, "back to the old key after the rotated-key case: %s; %s"
                        % (fix_text(restored), key_in_use()))

        # a connector change under a deployed model, with a predict loop on that model
        before = self.model_of(prefix, LLM)
        with PredictLoop(self.rest, before["_id"], LLM) as loop:
            found, m = self.measured(tool, "change-check", functools.partial(check, **change()))
            done, m2 = self.measured(tool, "change-fix", functools.partial(fix, **change()))
        after = self.model_of(prefix, LLM) or {}
        connector = self.rest.connector_by_id(after.get("connector_id", "")) or {}
        applied = connector.get("parameters", {}).get("model")
        self.put("connector change: seen", tool, "%s; %s" % (check_text(found), m.figures()))
        self.put("connector change: applied", tool,
                 "%s; %s; connector model now %r; predictions %d ok, %d failed%s; model ID %s"
                 % (fix_text(done), m2.figures(), applied, loop.ok, loop.failed,
                    " (first: %s)" % loop.first_error if loop.first_error else "",
                    "kept" if after.get("_id") == before["_id"] else "changed"))
        restored = fix()
        self.note(tool, "back to the old LLM model name after the connector case: %s" % fix_text(restored))


# --- setup -------------------------------------------------------------------------------------
def local_cluster(args):
    """The KEY=VALUE lines of `scripts/polarsearch-local status`, after `up` when it is not running."""
    script = ROOT / "scripts" / "polarsearch-local"
    status = subprocess.run([str(script), "status"], capture_output=True, text=True, check=False)
    started = False
    if status.returncode != 0:
        if args.no_up:
            raise Failure("the local cluster is not running (scripts/polarsearch-local status: rc %d)"
                          % status.returncode)
        log("starting the local cluster: scripts/polarsearch-local up")
        status = subprocess.run([str(script), "up"], capture_output=True, text=True, check=False)
        if status.returncode != 0:
            raise Failure("scripts/polarsearch-local up failed:\n" + status.stderr[-2000:])
        started = True
    lines = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", status.stdout, re.M))
    if "POLARSEARCH_URL" not in lines or lines.get("POLARSEARCH_PROFILE", "plain") != "plain":
        raise Failure("the plain profile's POLARSEARCH_URL is missing from scripts/polarsearch-local's output")
    return lines, started


def build_tofu(version):
    """Build OpenTofu from the Go module proxy once, into ~/.cache/polarsearch-tofu/<version>/."""
    target = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "polarsearch-tofu" / version / "tofu"
    if target.exists():
        return target
    go = shutil.which("go")
    if not go:
        raise Failure("no tofu binary given (--tofu) and no `go` to build one")
    log("building OpenTofu %s with go (once; a few minutes on 2 cores)" % version)
    env = dict(os.environ, GOFLAGS="-p=1 -buildvcs=false")
    module = "github.com/opentofu/opentofu@%s" % version
    download = subprocess.run([go, "mod", "download", "-json", module], capture_output=True, text=True, env=env,
                              check=False)
    if download.returncode != 0:
        raise Failure("go mod download %s failed: %s" % (module, download.stdout[-500:] + download.stderr[-500:]))
    source = Path(json.loads(download.stdout)["Dir"])
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "opentofu"
        shutil.copytree(source, tree)
        for path in tree.rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)
        target.parent.mkdir(parents=True, exist_ok=True)
        # go.mod has a replace directive, so `go install module@version` refuses it: build in the tree
        # dev=no drops the "-dev" suffix from `tofu version`, as in OpenTofu's release builds
        built = subprocess.run([go, "build", "-ldflags", "-X github.com/opentofu/opentofu/version.dev=no",
                                "-o", str(target), "./cmd/tofu"], cwd=tree, env=env,
                               capture_output=True, text=True, check=False)
    if built.returncode != 0:
        raise Failure("building OpenTofu failed: %s" % built.stderr[-1500:])
    return target


# --- the report --------------------------------------------------------------------------------
CASES = [
    ("create", "Create from empty (apply / provision)"),
    ("no-op check", "No-op check (`tofu plan` / `drift` playbook, verify off)"),
    ("no-op apply", "No-op apply (`tofu apply` / `provision`, verify off)"),
    ("no-op apply, verify on", "No-op provision with the verify predicts"),
    ("undeployed model: seen", "Undeployed model: seen?"),
    ("undeployed model: fixed", "Undeployed model: fixed by the next run?"),
    ("edited description: seen", "Edited description: seen?"),
    ("edited description: fixed", "Edited description: fixed by the next run?"),
    ("deleted model: seen", "Deleted model: seen?"),
    ("deleted model: fixed", "Deleted model: fixed by the next run?"),
    ("rotated key: seen", "Rotated key (new key in the input): seen?"),
    ("rotated key: fixed", "Rotated key: applied by the next run?"),
    ("connector change: seen", "Connector change under a deployed model: seen?"),
    ("connector change: applied", "Connector change: applied, with a predict loop running"),
    ("teardown", "Teardown (`tofu destroy` / `teardown`)"),
    ("lost state: check", "Lost state file: next check"),
    ("lost state: apply", "Lost state file: next apply / provision"),
]


def cell(text):
    text = text or "not run"
    # tofu's error context: keep the resource address, drop the source excerpt and repeated errors
    text = re.sub(r' with (opensearch_ml_\w+\.stack\["[^"]+"\]), on main\.tf line \d+, in resource "[^"]+" "[^"]+": '
                  r'\d+: resource "[^"]+" "[^"]+" \{( Error: [^;]*)?', r" (\1)", text)
    return text.replace("|", "\\|").replace("\n", " ")


def seconds(text):
    match = re.search(r"; (\d+(?:\.\d+)?) s, \d+ req", text or "")
    return float(match.group(1)) if match else None


def speed_finding(tofu, ansible):
    """Which tool was faster, case by case, from the wall times in the cells of this page; a case where either
    tool failed is not compared."""
    faster, other = [], []
    for key, title in CASES:
        cells = ansible.get("results", {}).get(key), tofu.get("results", {}).get(key)
        ours, theirs = seconds(cells[0]), seconds(cells[1])
        if ours is None or theirs is None or any(str(c).startswith("failed") for c in cells):
            continue
        (faster if theirs < ours else other).append((title, theirs, ours))
    if not faster and not other:
        return "- Speed: not measured in this run."
    ratios = sorted(ours / theirs for _title, theirs, ours in faster if theirs > 0)
    text = "- Speed: of the %d cases both tools carried out, Terraform was faster in %d" % (
        len(faster) + len(other), len(faster))
    if ratios:
        text += " (the playbook took %.1f-%.1fx its time)" % (ratios[0], ratios[-1])
    if other:
        text += "; the collection was as fast or faster in %s" % ", ".join(
            "%s (%.1f s against %.1f s)" % (title.rstrip("?"), ours, theirs) for title, theirs, ours in other)
    return text + (". `plan` is one process and one provider plugin that reads each object by ID (9 requests, "
                   "one per object); each playbook run starts Ansible, which runs the role's two tasks and one "
                   "module process for the whole stack. Where a run deploys models, the provider spends more of its "
                   "time waiting on the server (the seconds in each cell), which makes up for that start.")


def write_report(parts, out, meta):
    """The Markdown page; parts maps each tool to what its run found (this run's or a saved one)."""
    tofu, ansible = parts.get("tofu", {}), parts.get("ansible", {})
    lines = [
        "# The ML stack through Terraform (OpenTofu) and through this collection",
        "",
        "Generated by `%s`. Terraform side: %s; collection side: %s."
        % (meta["command"], tofu.get("when", "not run"), ansible.get("when", "not run")),
        "",
        "- Cluster: the local plain profile (`scripts/polarsearch-local`, OpenSearch %s, ML Commons), "
        "model service on loopback." % meta["opensearch"],
        "- %s with the opensearch-project/opensearch provider %s, built by hand from its source and used "
        "through `dev_overrides`." % (tofu.get("version", "(not run)"), tofu.get("provider", "(not run)")),
        "- The collection: this checkout, %s." % ansible.get("version", "not run"),
        "- The stack: three connectors, three model groups and three remote models (embedding, rerank, LLM; "
        "the `dashscope` preset pointed at the local model service), deployed. OpenTofu uses "
        "`tests/tools/terraform/main.tf`; the collection, the role's defaults with "
        "`ml_stack_private_ip_enabled: true`.",
        "- Each cell: what the tool did, wall time, requests through a loopback counting proxy and the "
        "seconds spent waiting on them. Out-of-band changes and checks went straight to the cluster, "
        "uncounted. Figures of one run on a 2-core machine shared with other jobs: compare within a run.",
        "",
        "| Case | %s + opensearch provider | polardb.polarsearch playbooks |"
        % tofu.get("version", "OpenTofu").split(" ")[0],
        "|---|---|---|",
    ]
    for key, title in CASES:
        tofu_cell = tofu.get("results", {}).get(key, "n/a" if key == "no-op apply, verify on" else None)
        lines.append("| %s | %s | %s |" % (title, cell(tofu_cell), cell(ansible.get("results", {}).get(key))))
    lines += ["", "## Notes from the run", ""]
    for part, title in ((tofu, "OpenTofu"), (ansible, "The collection")):
        for note in part.get("notes", []):
            lines.append("- %s: %s" % (title, note))
    lines += ["", "## What each tool cannot do, as found", ""] + meta["findings"] + [speed_finding(tofu, ansible), ""]
    out.write_text("\n".join(lines))


FINDINGS = [
    "- The provider has no resource for ML Commons cluster settings: `opensearch_cluster_settings` "
    "accepts only a fixed list of core settings, so `plugins.ml_commons.trusted_connector_endpoints_regex` "
    "(and `connector.private_ip_enabled`) are set by this script with a direct `PUT _cluster/settings` "
    "before the first `apply` and the entry removed at the end (not counted). The role appends and removes "
    "its own entry and counts those requests.",
    "- `opensearch_ml_model` reads no `model_state`: an undeployed model is invisible to `plan` and stays "
    "undeployed after `apply`. `deploy_after_registering` acts at create only.",
    "- `opensearch_ml_connector` updates in place with `PUT /connectors/<id>`, which ML Commons 3.6 refuses "
    "(400) while a deployed model uses the connector. So a rotated key or any connector change under a "
    "deployed model fails to apply; the provider has no replace or redeploy path. No prediction failed, "
    "because nothing changed. The collection replaces the connector under the deployed model and moves "
    "the model to it, with predictions answering throughout.",
    "- The provider never reads a credential back (ML Commons does not return it); the state file's copy is "
    "what a key is compared with. After the refused key update, the state held the new key: the next "
    "`plan` said no changes while the connectors still used the old key. A key changed on the cluster by "
    "hand is not seen either. The collection compares a keyed fingerprint stored on the connector.",
    "- The state file holds the API key in clear text (checked: it contains the key). The collection "
    "keeps no state; the fingerprint does not reveal the key.",
    "- Without ML access control the server answers `access_mode: public` for a model group and refuses "
    "the field on create, so `tests/tools/terraform/main.tf` needs `ignore_changes = [access_mode]`; "
    "without it every `plan` shows the three groups as changed.",
    "- Without its state file Terraform knows nothing of the objects it made: the next `apply` created "
    "three more connectors, then failed on the model group names (already used); the duplicates stayed. "
    "The collection finds its objects by name on every run: a fresh controller has nothing to lose.",
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--provider", default=os.environ.get("TF_OPENSEARCH_PROVIDER"),
                        help="the terraform-provider-opensearch binary (env TF_OPENSEARCH_PROVIDER)")
    parser.add_argument("--provider-version", default=os.environ.get("TF_OPENSEARCH_PROVIDER_VERSION", "(unknown)"),
                        help="what the report says of the provider's version")
    parser.add_argument("--tofu", default=os.environ.get("TOFU"), help="a tofu binary (env TOFU); else built")
    parser.add_argument("--tofu-version", default=DEFAULT_TOFU_VERSION)
    parser.add_argument("--out", default=str(ROOT / "docs" / "terraform-comparison.md"))
    parser.add_argument("--work", default=str(ROOT / "build" / "terraform-comparison"),
                        help="work directory (state files, vars files, reports)")
    parser.add_argument("--no-up", action="store_true", help="use a running local cluster, never start one")
    parser.add_argument("--down", action="store_true", help="stop the local cluster at the end, also if it ran before")
    parser.add_argument("--tools", default="tofu,ansible",
                        help="which tools to run (tofu, ansible; default both; empty: none); the page shows "
                             "a tool not run with its results saved in --work by its last run")
    args = parser.parse_args(argv)
    tools = set(filter(None, args.tools.split(",")))
    if tools - {"tofu", "ansible"}:
        parser.error("--tools takes tofu, ansible or both, not %r" % args.tools)
    if "tofu" in tools and (not args.provider or not Path(args.provider).is_file()):
        parser.error("--provider (or TF_OPENSEARCH_PROVIDER) must name the terraform-provider-opensearch binary: "
                     "build or download it yourself (github.com/opensearch-project/terraform-provider-opensearch)")
    started_at = time.monotonic()
    tofu_bin = None
    if "tofu" in tools:
        tofu_bin = Path(args.tofu) if args.tofu else build_tofu(args.tofu_version)
    cluster, started = local_cluster(args)
    comparison = Comparison(args, cluster)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_VAR_", "POLARSEARCH_", "ML_STACK_"))}
    env_ansible = dict(env, POLARSEARCH_URL=comparison.proxy.url, ML_STACK_API_KEY=comparison.api_key)
    variables = {"ml_stack_name_prefix": "ans-", "ml_stack_endpoint": comparison.endpoint_url,
                 "ml_stack_private_ip_enabled": True, "ml_stack_wait_timeout": 120}
    tofu = Tofu(tofu_bin, Path(args.provider), comparison.work, env) if "tofu" in tools else None
    ansible = Ansible(comparison.work, env_ansible, variables) if "ansible" in tools else None
    try:
        errors = []
        parts = {}
        for key, name, function, tool in (("tofu", "OpenTofu", comparison.run_tofu, tofu),
                                          ("ansible", "the collection", comparison.run_ansible, ansible)):
            saved = comparison.work / ("part-%s.json" % key)
            if tool is None:
                if saved.exists():
                    parts[key] = json.loads(saved.read_text())
                    log("%s not run: its results of %s are used" % (name, parts[key]["when"]))
                continue
            log("running the stack through %s" % name)
            began, load = time.monotonic(), os.getloadavg()[0]
            try:
                function(tool)
            except Failure as exc:
                errors.append("%s: %s" % (name, exc))
                log("%s stopped: %s" % (name, exc))
            parts[key] = {
                "when": "%s, %d s, load average %.1f at the start and %.1f at the end"
                        % (datetime.datetime.now().strftime("%Y-%m-%d %H:%M %Z").strip(), time.monotonic() - began,
                           load, os.getloadavg()[0]),
                "version": tool.version(),
                "provider": args.provider_version,
                "results": {case: row[key] for case, row in comparison.results.items() if key in row},
                "notes": comparison.notes[key] + ["stopped early: %s" % e for e in errors if e.startswith(name)],
            }
            saved.write_text(json.dumps(parts[key], indent=1))
        _status, root = comparison.rest.call("GET", "/")
        meta = {
            "command": "scripts/compare-terraform --provider PROVIDER%s" % (" --tofu TOFU" if args.tofu else ""),
            "opensearch": root.get("version", {}).get("number", "?"),
            "findings": FINDINGS,
        }
        write_report(parts, Path(args.out), meta)
        log("wrote %s; the whole run took %d s" % (args.out, time.monotonic() - started_at))
        return 1 if errors else 0
    finally:
        comparison.proxy.stop()
        if started or args.down:
            subprocess.run([str(ROOT / "scripts" / "polarsearch-local"), "down"], check=False)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as exc:
        log("failed: %s" % exc)
        sys.exit(1)
