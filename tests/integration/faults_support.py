"""The fault matrix's machinery: playbook runs, the fault proxy's rules, the convergence check and the table.

Runs are real ``ansible-playbook`` processes (each in its own process group, so that a SIGKILL takes the
module with it). The faulted runs talk to the cluster through :class:`fault_proxy.FaultProxy` with a short
client timeout; the normal runs, and every check, talk to the cluster directly.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from conftest import ML, REPO

sys.path.insert(0, str(REPO / "tests" / "tools"))

from fault_proxy import FaultProxy  # noqa: E402 pylint: disable=wrong-import-position,unused-import

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
# The modules' timeout in a faulted run: a held answer outlasts it.
CLIENT_TIMEOUT = 3
HOLD_SECONDS = CLIENT_TIMEOUT + 2
RUN_TIMEOUT = 300
WAIT_TIMEOUT = 90

# Where a fault is injected: method and path (as the modules send it) of each request kind.
SITES = {
    "create": ("POST", r"^/_plugins/_ml/connectors/_create$"),
    "register": ("POST", r"^/_plugins/_ml/models/_register$"),
    "deploy": ("POST", r"^/_plugins/_ml/models/[^/?]+/_deploy$"),
    "undeploy": ("POST", r"^/_plugins/_ml/models/[^/?]+/_undeploy$"),
    "PUT model": ("PUT", r"^/_plugins/_ml/models/[^/?]+$"),
    "DELETE model": ("DELETE", r"^/_plugins/_ml/models/[^/?]+$"),
    "DELETE model group": ("DELETE", r"^/_plugins/_ml/model_groups/[^/?]+$"),
    "DELETE connector": ("DELETE", r"^/_plugins/_ml/connectors/[^/?]+$"),
}
# The writes of each step, in the order a run sends them.
STEP_SITES = {
    "provision": ("create", "register", "deploy"),
    "replace": ("create", "PUT model", "DELETE connector"),
    "teardown": ("undeploy", "DELETE model", "DELETE model group", "DELETE connector"),
}
# The fault kinds: the proxy rules (without method, path and count) that answer the first, second, ... request
# to a site, and how the table names them. A run retries each request up to 3 times (the default), so a site
# sees every fault of its sequence before its request goes through.
KINDS = {
    "429": ([{"action": "status", "status": 429}, {"action": "status", "status": 429, "retry_after": 1}],
            "429 without, then with Retry-After: 1"),
    "5xx": ([{"action": "status", "status": status} for status in (502, 503, 504)],
            "502, then 503, then 504, not forwarded"),
    "reset": ([{"action": "reset"}], "connection reset before forwarding"),
    "lost-5xx": ([{"action": "forward_status", "status": status} for status in (502, 504)],
                 "502, then 504, after the server acted"),
    "lost-reset": ([{"action": "forward_reset"}], "connection reset after the server acted"),
    "read-timeout": ([{"action": "hold", "hold_seconds": HOLD_SECONDS}],
                     "answer held past the %d s read timeout" % CLIENT_TIMEOUT),
    "slow": ([{"action": "delay", "delay_ms": 250}], "every answer 250 ms late"),
}
FATAL = re.compile(r"^(?:fatal: \[localhost\]: FAILED!|failed: \[localhost\] \(item=.*?\)) => (\{.*\})\s*$", re.M)
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


# -- runs -------------------------------------------------------------------------------------------------------
class Run:
    """One finished (or killed) ansible-playbook run."""

    def __init__(self, label, rc, output, seconds, killed=False):
        self.label = label
        self.rc = rc
        self.output = output
        self.seconds = seconds
        self.killed = killed
        self.errors = []
        for match in FATAL.finditer(output):
            try:
                self.errors.append(str(json.loads(match.group(1)).get("msg")))
            except ValueError:
                self.errors.append(match.group(1)[:300])
        recap = RECAP.search(output)
        self.changed = int(recap.group(2)) if recap else None

    def warnings(self):
        """The text of the run's warnings, unwrapped (Ansible wraps long ones at spaces and hyphens)."""
        continued = r"(?:\n(?!\[|TASK|PLAY|ok:|changed:|fatal:|failed:).*)*"
        text = "\n".join(re.findall(r"^\[WARNING\]: (.*%s)" % continued, self.output, re.M))
        return re.sub(r"-\s+", "-", " ".join(text.split()))

    @property
    def ok(self):
        return self.rc == 0 and not self.killed

    def summary(self):
        if self.killed:
            return "%s: killed" % self.label
        if self.ok:
            return "%s: ok" % self.label
        return "%s: failed (%s)" % (self.label, short(self.errors[0] if self.errors else "rc %s" % self.rc))

    def tail(self):
        return self.output[-5000:]


def short(text, limit=160):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Runner:
    """Starts ``ansible-playbook`` the way AWX would: the cluster and the key from the environment."""

    def __init__(self, collections_path, api_key, connection=None):
        self.workdir = Path(tempfile.mkdtemp(prefix="polarsearch-faults-"))
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("POLARSEARCH_", "ML_STACK_", "DASHSCOPE_", "ANSIBLE_"))}
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_PIPELINING": "1",
            "ML_STACK_API_KEY": api_key,
        })
        # the connection besides the URL (each run's own): credentials and CA on the secure profile
        self.env.update(connection or {})

    def _write(self, kind, data):
        path = self.workdir / ("%s-%s.json" % (kind, uuid.uuid4().hex))
        path.write_text(json.dumps(data))
        return path

    def start(self, playbook, url, extra_vars=None):
        """Start a run in its own process group; ``playbook`` is a play list or a collection playbook name."""
        if isinstance(playbook, str):
            command = [str(ANSIBLE_PLAYBOOK), playbook]
        else:
            command = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(self._write("play", playbook))]
        if extra_vars:
            command += ["-e", "@%s" % self._write("vars", extra_vars)]
        log = self.workdir / ("run-%s.log" % uuid.uuid4().hex)
        with open(log, "wb") as out:
            process = subprocess.Popen(command, env=dict(self.env, POLARSEARCH_URL=url), cwd=self.workdir,
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        process.log = log
        process.started = time.monotonic()
        return process

    @staticmethod
    def finish(process, label, timeout=RUN_TIMEOUT, kill=False):
        """Wait for a run (or SIGKILL its whole process group first) and return its :class:`Run`."""
        if kill:
            _kill_group(process)
        try:
            rc = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            rc = process.wait(30)
        return Run(label, rc, Path(process.log).read_text(errors="replace"), time.monotonic() - process.started,
                   killed=kill)

    def run(self, playbook, url, label, extra_vars=None):
        return self.finish(self.start(playbook, url, extra_vars), label)


def _kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- the stack of a case ------------------------------------------------------------------------------------------
class Stack:
    """One embedding connector and one remote model using it, deployed; names start with ``prefix``."""

    def __init__(self, prefix, endpoint, api_key):
        self.prefix = prefix
        self.model = prefix + "embed"
        self.connector = prefix + "embed-connector"
        self.endpoint = endpoint.split("://", 1)[-1].rstrip("/")
        self.api_key = api_key

    def connector_args(self, revision):
        return {
            "name": self.connector,
            "description": "Local text-embedding-v4",
            "version": "1",
            "protocol": "http",
            "parameters": {"endpoint": self.endpoint, "model": "text-embedding-v4", "revision": str(revision)},
            "credential": {"api_key": self.api_key},
            "actions": [{
                "action_type": "predict",
                "method": "POST",
                "url": "http://${parameters.endpoint}/compatible-mode/v1/embeddings",
                "headers": {"Authorization": "Bearer ${credential.api_key}", "Content-Type": "application/json"},
                "request_body": '{ "model": "${parameters.model}", "input": ${parameters.input} }',
                "pre_process_function": "connector.pre_process.openai.embedding",
                "post_process_function": "connector.post_process.openai.embedding",
            }],
            "wait_timeout": WAIT_TIMEOUT,
        }

    def playbook(self, step, timeout=None):
        """The play of a step: ``provision`` (revision 1), ``replace`` (revision 2 under the deployed model:
        a connector replace) or ``teardown``."""
        model = {"name": self.model, "wait_timeout": WAIT_TIMEOUT}
        if step == "teardown":
            tasks = [("polarsearch_model", dict(model, state="absent")),
                     ("polarsearch_connector", {"name": self.connector, "state": "absent",
                                                "wait_timeout": WAIT_TIMEOUT})]
        else:
            revision = 2 if step == "replace" else 1
            tasks = [("polarsearch_connector", self.connector_args(revision)),
                     ("polarsearch_model", dict(model, connector=self.connector, state="deployed",
                                                description="Local embedding model"))]
        play = {
            "name": "%s %s" % (step, self.prefix),
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [{"name": "%s %s" % (module, args["name"]), "polardb.polarsearch." + module: args}
                      for module, args in tasks],
        }
        if timeout:
            play["module_defaults"] = {"group/polardb.polarsearch.polarsearch": {"timeout": timeout}}
        return [play]

    def expected(self, step):
        """What the cluster holds once ``step`` converged: {connector name: revision} and {model: connector}."""
        if step == "teardown":
            return {}, {}
        return {self.connector: "2" if step == "replace" else "1"}, {self.model: self.connector}


class RoleStack:
    """The role's one-model stack (``polardb.polarsearch.provision``/``teardown`` with extra vars)."""

    def __init__(self, prefix, endpoint):
        self.prefix = prefix
        self.model = prefix + "text-embedding-v4"
        self.connector = self.model + "-connector"
        self.vars = {
            "ml_stack_name_prefix": prefix,
            "ml_stack_endpoint": "http://" + endpoint.split("://", 1)[-1].rstrip("/"),
            "ml_stack_private_ip_enabled": True,
            "ml_stack_keep_trusted_endpoints": True,
            "ml_stack_wait_timeout": WAIT_TIMEOUT,
            "ml_stack_models": [{"name": "text-embedding-v4", "kind": "embedding"}],
        }

    def expected(self, step):
        if step == "teardown":
            return {}, {}
        return {self.connector: None}, {self.model: self.connector}


# -- the convergence check ----------------------------------------------------------------------------------------
class Finding:
    """What a check found: duplicates, lost objects, orphans and other differences (all lists of text)."""

    def __init__(self):
        self.duplicates = []
        self.lost = []
        self.orphans = []
        self.other = []
        # connectors a run renamed to the pending-delete name because the server's in-use check counted a model of
        # another connector (IDs sharing an analyzed term): unused, clearly named, deleted by a later run
        self.set_aside = []

    @property
    def converged(self):
        return not (self.duplicates or self.lost or self.orphans or self.other)

    def describe(self):
        parts = []
        for title, items in (("duplicates", self.duplicates), ("lost", self.lost), ("orphans", self.orphans),
                             ("differences", self.other)):
            if items:
                parts.append("%s: %s" % (title, "; ".join(items)))
        text = " | ".join(parts) or "converged"
        if self.set_aside:
            text += " (set aside for a later run: %s)" % "; ".join(self.set_aside)
        return text


# ``names.PENDING_DELETE_NAME``: a connector the server would not delete yet because of look-alike IDs
PENDING_SUFFIX = " (unused, deleted once the server allows)"


def refresh(rest):
    rest.call("POST", "/.plugins-ml-connector,.plugins-ml-model,.plugins-ml-model-group/_refresh",
              ok=(200, 404))


def with_prefix(rest, kind, prefix, extra=None):
    query = {"prefix": {"name.keyword": prefix}}
    if extra:
        query = {"bool": {"filter": [query] + extra}}
    return [dict(h["_source"], _id=h["_id"]) for h in rest.search(kind, query, size=1000)]


def inspect(rest, prefix, connectors, models):
    """Compare everything named ``prefix...`` on the cluster with what should be there.

    ``connectors``: {name: expected ``revision`` parameter, or None}; ``models``: {name: connector name};
    every expected model is to be DEPLOYED. Counted as a duplicate: each object beyond the first of a name.
    Lost: an expected object that is missing, or one a model refers to that does not exist. Orphan: a
    connector no model uses that is not expected, a model group without models, any other object.
    """
    refresh(rest)
    found = Finding()
    conns = with_prefix(rest, "connectors", prefix)
    mods = with_prefix(rest, "models", prefix, [{"term": {"algorithm": "REMOTE"}}])
    groups = with_prefix(rest, "model_groups", prefix)
    by_id = {c["_id"]: c for c in conns}
    # Set aside, not duplicates or orphans: connectors no model uses that the server would not delete yet because a
    # model of another connector shares a term of the ID (another stack's, beside this one): renamed to the
    # pending-delete name, or left as the replaced half of a replace (the new connector names it in
    # polarsearch_replaces). A later run deletes them once the server allows.
    in_use = set(m.get("connector_id") for m in mods)
    replacing = {(c.get("parameters") or {}).get("polarsearch_replaces"): c for c in conns}
    aside = set()
    for connector in conns:
        cid, name = connector["_id"], connector.get("name")
        if cid in in_use:
            continue
        if str(name).endswith(PENDING_SUFFIX) or (cid in replacing and replacing[cid].get("name") == name):
            aside.add(cid)
            found.set_aside.append("connector %s (%s)" % (name, cid))
    conns = [c for c in conns if c["_id"] not in aside]

    for kind, objects in (("connectors", conns), ("models", mods), ("model groups", groups)):
        names = {}
        for obj in objects:
            names.setdefault(obj.get("name"), []).append(obj["_id"])
        for name, ids in sorted(names.items()):
            if len(ids) > 1:
                found.duplicates.append("%d %s named %s (%s)" % (len(ids), kind, name, ", ".join(sorted(ids))))

    for name, revision in sorted(connectors.items()):
        same = [c for c in conns if c.get("name") == name]
        if not same:
            found.lost.append("connector %s" % name)
        elif revision is not None and not any((c.get("parameters") or {}).get("revision") == revision for c in same):
            found.other.append("connector %s has revision %s, not %s" % (
                name, sorted((c.get("parameters") or {}).get("revision") for c in same), revision))
    used = set()
    for name, connector_name in sorted(models.items()):
        same = [m for m in mods if m.get("name") == name]
        if not same:
            found.lost.append("model %s" % name)
            continue
        for model in same:
            cid = model.get("connector_id")
            used.add(cid)
            if cid not in by_id:
                found.lost.append("the connector %s that model %s (%s) uses" % (cid, name, model["_id"]))
            elif by_id[cid].get("name") != connector_name:
                found.other.append("model %s uses connector %s named %r" % (name, cid, by_id[cid].get("name")))
            if model.get("model_state") != "DEPLOYED":
                found.other.append("model %s (%s) is %s, not DEPLOYED" % (name, model["_id"], model.get("model_state")))
            group = model.get("model_group_id")
            if group and rest.call("GET", "%s/model_groups/%s" % (ML, group), ok=(200, 404)).get("name") is None:
                found.lost.append("the model group %s of model %s" % (group, name))
    for model in mods:
        if model.get("name") not in models:
            found.orphans.append("model %s (%s, %s)" % (model.get("name"), model["_id"], model.get("model_state")))
            used.add(model.get("connector_id"))
    for connector in conns:
        if connector["_id"] not in used and connector.get("name") not in connectors:
            found.orphans.append("connector %s (%s) that no model uses" % (connector.get("name"), connector["_id"]))
        elif connector["_id"] not in used and models and connector.get("name") in connectors:
            found.orphans.append("connector %s (%s) that no model uses" % (connector.get("name"), connector["_id"]))
    for group in groups:
        members = rest.search("models", {"term": {"model_group_id": group["_id"]}})
        if not members:
            found.orphans.append("empty model group %s (%s)" % (group.get("name"), group["_id"]))
    return found


def remove_everything(rest, prefix):
    """Delete, by REST, whatever a case left with its prefix (after its row is recorded)."""
    refresh(rest)
    for model in with_prefix(rest, "models", prefix):
        rest.call("POST", "%s/models/%s/_undeploy" % (ML, model["_id"]), ok=None)
        rest.call("DELETE", "%s/models/%s" % (ML, model["_id"]), ok=None)
    for connector in with_prefix(rest, "connectors", prefix):
        rest.call("DELETE", "%s/connectors/%s" % (ML, connector["_id"]), ok=None)
    for group in with_prefix(rest, "model_groups", prefix):
        rest.call("DELETE", "%s/model_groups/%s" % (ML, group["_id"]), ok=None)


# -- the table ----------------------------------------------------------------------------------------------------
class Matrix:
    """Collects one row per case and writes the table once every case of the matrix has a row."""

    HEADER = ("Case", "Runs", "Outcome", "Duplicates found", "Objects lost")

    def __init__(self, cases):
        self.cases = list(cases)
        self.rows = {}
        self.started = time.monotonic()

    def skip(self, case, reason):
        self.rows[case] = (case, "not run", reason, "-", "-")

    def add(self, case, runs, finding, first_ok, outcome=None):
        """Record a case's row; ``outcome`` (else one made of the finding) is returned."""
        if outcome is None and finding.converged:
            outcome = "converged" if first_ok else "converged after a normal run"
        elif outcome is None:
            outcome = "NOT CONVERGED: " + short(finding.describe(), 400)
        self.rows[case] = (case, "; ".join(r.summary() for r in runs), outcome,
                           str(len(finding.duplicates)), str(len(finding.lost)))
        return outcome

    def complete(self):
        return all(case in self.rows for case in self.cases)

    def render(self, version, seconds):
        lines = [
            "# Fault matrix",
            "",
            "Written by `tests/integration/test_faults.py` at the end of an integration run that ran every case",
            "(`scripts/test --only integration`, or `pytest tests/integration/test_faults.py` with the cluster up);",
            "do not edit it by hand.",
            "",
            "Each case runs real `ansible-playbook` processes against the local cluster (OpenSearch %s). Faulted" % version,
            "runs go through the fault proxy (`tests/tools/fault_proxy.py`) with a %d s client timeout; each fault" % CLIENT_TIMEOUT,
            "hits the first matching request of each write the step sends. A faulted or killed run that fails is",
            "followed by a normal run. Then the cluster is read by REST: one connector, one model and one model",
            "group of each name, the model deployed and using the connector, no orphan (a connector no model uses",
            "that the stack does not name, an empty model group), nothing left after a teardown.",
            "",
            "Runs started together go through the proxy too, with a CPU-bound process beside them; the proxy",
            "keeps each new connector, model and model group out of searches for 0, 1 or 3 s after its create",
            "answered (a GET by ID finds it at once), and the objects of each name are counted by GET by ID.",
            "",
            "Steps: *provision* creates the connector, registers and deploys the model; *replace* changes a",
            "connector parameter under the deployed model (a new connector, the model re-pointed, the old one",
            "deleted); *teardown* undeploys and deletes the model (and its model group) and the connector.",
            "",
            "| %s |" % " | ".join(self.HEADER),
            "|" + "---|" * len(self.HEADER),
        ]
        for case in self.cases:
            lines.append("| %s |" % " | ".join(cell.replace("|", "\\|") for cell in self.rows[case]))
        lines += ["", "%d cases in %.0f s." % (len(self.cases), seconds), ""]
        return "\n".join(lines)

    def write(self, path, version):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(self.render(version, time.monotonic() - self.started))


# -- runs started together, with searches behind creates (issue 22) -----------------------------------------------
# How many seconds the proxy keeps each new connector, model and model group out of searches, per case.
SEARCH_LAGS = (0, 1, 3)
# The CPU-bound process beside the runs: a bounded busy loop (it ends by itself after BUSY_SECONDS).
BUSY_SECONDS = 300
DEFAULT_MODELS = ("text-embedding-v4", "qwen3-rerank", "qwen-max")


class DefaultStack:
    """The role's default stack (its three models) under a prefix, without the verify predicts."""

    def __init__(self, prefix, endpoint):
        self.prefix = prefix
        self.vars = {
            "ml_stack_name_prefix": prefix,
            "ml_stack_endpoint": "http://" + endpoint.split("://", 1)[-1].rstrip("/"),
            "ml_stack_private_ip_enabled": True,
            "ml_stack_keep_trusted_endpoints": True,
            "ml_stack_wait_timeout": WAIT_TIMEOUT,
            "ml_stack_verify": False,
        }

    def expected(self, step="provision"):
        if step == "teardown":
            return {}, {}
        models = {self.prefix + name: self.prefix + name + "-connector" for name in DEFAULT_MODELS}
        return {connector: None for connector in models.values()}, models


def busy_loop(seconds=BUSY_SECONDS):
    """Start a CPU-bound process (a busy loop that ends by itself after ``seconds``); kill it when done."""
    loop = "import time\nend = time.monotonic() + %d\nwhile time.monotonic() < end:\n    pass\n" % seconds
    return subprocess.Popen([sys.executable, "-c", loop], stdin=subprocess.DEVNULL)


def counts_by_get(rest, prefix):
    """{kind: {name: count}} of the connectors, models and model groups named ``prefix...`` that a GET by ID
    still finds (a search lists the candidates, after a refresh of the indices)."""
    refresh(rest)
    counts = {}
    for kind in ("connectors", "models", "model_groups"):
        for hit in rest.search(kind, {"prefix": {"name.keyword": prefix}}, size=1000):
            found = rest.call("GET", "%s/%s/%s" % (ML, kind, hit["_id"]), ok=(200, 404))
            if found and found.get("name"):
                names = counts.setdefault(kind, {})
                names[found["name"]] = names.get(found["name"], 0) + 1
    return counts


def count_problems(counts, connectors, models):
    """What differs from exactly one connector and one model of each expected name and one group per model."""
    problems = []
    for kind, wanted in (("connectors", connectors), ("models", models)):
        got = {name: count for name, count in counts.get(kind, {}).items()
               if not (kind == "connectors" and name.endswith(PENDING_SUFFIX))}
        if got != {name: 1 for name in wanted}:
            problems.append("%s by GET: %s, not one of each of %s" % (kind, got, sorted(wanted)))
    groups = counts.get("model_groups", {})
    if sorted(groups.values()) != [1] * len(models):
        problems.append("model groups by GET: %s, not one for each of the %d models" % (groups, len(models)))
    return problems


def describe_counts(counts):
    """``3 connectors, 3 models, 3 model groups`` (and the most of one name when above one)."""
    parts = []
    for kind in ("connectors", "models", "model_groups"):
        names = counts.get(kind, {})
        most = max(names.values()) if names else 0
        parts.append("%d %s%s" % (sum(names.values()), kind.replace("_", " "),
                                  " (%d of one name)" % most if most > 1 else ""))
    return ", ".join(parts)
