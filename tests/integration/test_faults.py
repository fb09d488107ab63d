"""The fault matrix: lost answers, throttling, parallel runs and killed runs against the real cluster.

For each fault kind, one stack goes through provision, a connector replace under its deployed model and teardown,
each step run through the fault proxy with the fault at every write of the step. Other stacks are killed (SIGKILL
of the whole process group) while the proxy holds the answer to a chosen request, after the server acted on it.
After each step the cluster is read by REST: it must have converged, at once or after one normal run. Then 2 and 3
runs of the ``provision`` playbook (the default stack), and 3 plays of a connector and a model task, start together
beside a CPU-bound process, with the proxy keeping each new connector, model and model group out of searches for
0, 1 or 3 s: every run must succeed and leave one object of each name (counted by GET by ID). The rows go to
build/measured/fault-matrix.md (fault-matrix-secure.md on the secure profile) when every case ran
(scripts/publish-measurements copies it to docs/).

Environment: what ``scripts/polarsearch-local up`` (or ``up --secure``) prints: ``POLARSEARCH_URL`` (a node on
127.0.0.1; on the secure profile https, reached with the admin and the node's CA), ``MODEL_SERVICE_ENDPOINT``,
``MODEL_SERVICE_API_KEY``; ``FAULT_PROXY_PORT`` is where the first proxy listens (default: a free port, so
that the profiles' suites can run side by side). The runs reach the node
through the proxy over plain HTTP on loopback, with their basic auth; the proxy reaches an https node over TLS with
its CA.
"""

from __future__ import annotations

import os
import queue
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from conftest import REPO, connection_env, rest_for
from faults_support import (
    KINDS,
    RUN_TIMEOUT,
    SITES,
    STEP_SITES,
    CLIENT_TIMEOUT,
    FaultProxy,
    Matrix,
    SEARCH_LAGS,
    DefaultStack,
    Runner,
    Stack,
    busy_loop,
    count_problems,
    counts_by_get,
    describe_counts,
    inspect,
    remove_everything,
    short,
)

STEPS = ("provision", "replace", "teardown")
# Chains run two at a time, each stack against its own proxy. The server's in-use check before a connector
# delete matches connector IDs as analyzed text, so another stack's model whose connector ID shares a term can
# block this stack's delete: the collection then sets the connector aside (unused, deleted by a later run), which
# the check counts as set aside, not as a duplicate (faults_support.inspect).
WORKERS = max(1, int(os.environ.get("FAULT_MATRIX_WORKERS", "2")))
PARALLEL = (2, 3)
# Plays of single module tasks (a connector, then a model, which creates its model group) started together.
MODULE_PARALLEL = 3
# What a case of runs started together may take (the runs together, the checks included).
PARALLEL_BUDGET = 120

# The request each step of a chain is killed at (the server has acted on it, the answer is held).
KILL_CHAINS = (
    ("create", "PUT model", "DELETE model"),
    ("register", "create", "undeploy"),
    ("deploy",),
)


def fault_case(step, kind):
    return "%s: %s at %s" % (step, KINDS[kind][1], "every request" if kind == "slow" else ", ".join(STEP_SITES[step]))


def parallel_case(count, lag):
    return "provision playbook (default stack): %d runs started together, searches %d s behind creates, CPU busy" % (
        count, lag)


def module_parallel_case(lag):
    return "connector and model tasks: %d plays started together, searches %d s behind creates, CPU busy" % (
        MODULE_PARALLEL, lag)


def kill_case(step, site):
    return "%s: SIGKILL at %s" % (step, site)


CASES = ([fault_case(step, kind) for kind in KINDS for step in STEPS]
         + [parallel_case(count, lag) for count in PARALLEL for lag in SEARCH_LAGS]
         + [module_parallel_case(lag) for lag in SEARCH_LAGS]
         + [kill_case(step, site) for chain in KILL_CHAINS for step, site in zip(STEPS, chain)])


# -- chains: one stack through its steps, in a worker thread with a proxy of its own -------------------------------
class Chain:
    """The steps of one stack (each ``(case, step, "fault", kind)`` or ``(case, step, "kill", site)``) and what
    went wrong in them."""

    def __init__(self, key, steps):
        self.key = key
        self.steps = steps
        self.problems = []


def fault_chain(kind):
    return Chain(("fault", kind), [(fault_case(step, kind), step, "fault", kind) for step in STEPS])


def kill_chain(chain):
    return Chain(("kill", chain), [(kill_case(step, site), step, "kill", site) for step, site in zip(STEPS, chain)])


def converge(env, rest, runner, stack, step, runs, label="normal run"):
    """After a run that failed (or was killed), one normal run straight to the cluster; then the check."""
    if not runs[-1].ok:
        runs.append(runner.run(stack.playbook(step), env["url"], label))
    return inspect(rest, stack.prefix, *stack.expected(step))


def faulted_step(env, rest, proxy, runner, stack, step, kind):
    """Run ``step`` with the fault sequence of ``kind`` at each of its writes; (runs, finding, problems)."""
    sequence, _label = KINDS[kind]
    proxy.clear_rules()
    if kind == "slow":
        rules = [("every request", proxy.add_rule(**sequence[0]))]
    else:
        # the n-th rule of a site answers its n-th request (each rule counts them all; the first due decides)
        rules = [(site, proxy.add_rule(method=SITES[site][0], path=SITES[site][1], times=count, **options))
                 for site in STEP_SITES[step] for count, options in enumerate(sequence, 1)]
    mark = proxy.mark()
    runs = [runner.run(stack.playbook(step, timeout=CLIENT_TIMEOUT), proxy.url, "faulted run")]
    proxy.clear_rules()
    faults = len([r for r in proxy.records(since=mark) if r.rule])
    runs[0].label = "faulted run (%d fault%s)" % (faults, "" if faults == 1 else "s")
    # a later fault of a sequence comes only if the request is sent again (a lost create is looked up instead)
    missed = sorted(set(site for site, rule in rules if rule.times == 1 and not rule.fired))
    problems = ["no fault was injected at %s: the run never sent it" % ", ".join(missed)] if missed else []
    if kind != "slow":
        # every retry (or lookup of a lost create) is a warning naming the request
        warnings = runs[0].warnings()
        unnamed = sorted(set(site for site, rule in rules if rule.fired and not re.search(
            r"%s %s:" % (SITES[site][0], SITES[site][1][2:-1]), warnings)))
        if unnamed:
            problems.append("no warning named the faulted request at %s" % ", ".join(unnamed))
    return runs, converge(env, rest, runner, stack, step, runs), problems


def killed_step(env, rest, proxy, runner, stack, step, site):
    """Start ``step``, SIGKILL it once the server has acted on the first ``site`` request (its answer held),
    then a normal run; (runs, finding, problems)."""
    method, path = SITES[site]
    proxy.clear_rules()
    rule = proxy.add_rule("hold", method=method, path=path, times=1, hold_seconds=RUN_TIMEOUT)
    process = runner.start(stack.playbook(step), proxy.url)
    reached = False
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        if rule.wait_fired(0.1):
            reached = True
            break
    killed = runner.finish(process, "run killed at %s" % site if reached else "run (ended before %s)" % site,
                           kill=reached)
    proxy.clear_rules()
    runs = [killed]
    problems = [] if reached else ["the run never sent %s %s" % (method, path)]
    return runs, converge(env, rest, runner, stack, step, runs), problems


def run_chain(chain, env, runner, proxies, matrix):
    """Run a chain's steps in order; a step that does not converge ends the chain. Everything the chain
    made is removed at the end (after its rows are recorded)."""
    rest = rest_for(env)
    stack = Stack("fx-%s-" % uuid.uuid4().hex[:8], env["endpoint"], env["api_key"])
    proxy = proxies.get(timeout=RUN_TIMEOUT)
    try:
        for case, step, how, what in chain.steps:
            if chain.problems:
                matrix.skip(case, "not run: an earlier step did not converge")
                continue
            do = faulted_step if how == "fault" else killed_step
            runs, finding, problems = do(env, rest, proxy, runner, stack, step, what)
            outcome = matrix.add(case, runs, finding, runs[0].ok)
            if not finding.converged:
                problems.append("%s (runs: %s)\n%s" % (outcome, "; ".join(r.summary() for r in runs),
                                                       runs[-1].tail()))
            chain.problems += ["%s: %s" % (case, p) for p in problems]
    except Exception as exc:  # pylint: disable=broad-except
        chain.problems.append("%s: %r" % (chain.key, exc))
        raise
    finally:
        proxy.clear_rules()
        proxies.put(proxy)
        remove_everything(rest, stack.prefix)


# -- fixtures -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runner(collections_path, env):
    # on the secure profile the runs authenticate as the admin, and trust the node's CA when they go straight to it
    return Runner(collections_path, env["api_key"],
                  {k: v for k, v in connection_env(env).items() if k != "POLARSEARCH_URL"})


@pytest.fixture(scope="module")
def matrix(rest, env):
    table = Matrix(CASES)
    yield table
    if table.complete():
        version = rest.call("GET", "/").get("version", {}).get("number", "?")
        # one page per profile: the two profiles' suites run side by side and would overwrite each other's
        page = "fault-matrix.md" if env["profile"] == "plain" else "fault-matrix-%s.md" % env["profile"]
        table.write(REPO / "build" / "measured" / page, version)


@pytest.fixture(scope="module")
def chains(request, env, trusted, runner, matrix):
    """Every selected chain, run by WORKERS threads, each with a fault proxy of its own (the first on
    FAULT_PROXY_PORT when it is set, the others on free ports)."""
    parts = urlsplit(env["url"])
    if parts.hostname not in ("127.0.0.1", "localhost"):
        pytest.skip("the fault proxy forwards to a node on 127.0.0.1, not to %s" % env["url"])
    selected = {tuple(item.callspec.params.items())[0] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")}
    todo = [fault_chain(kind) for kind in KINDS if ("kind", kind) in selected]
    todo += [kill_chain(chain) for chain in KILL_CHAINS if ("chain", chain) in selected]
    proxies = queue.Queue()
    started = []
    try:
        for index in range(WORKERS):
            port = int(os.environ.get("FAULT_PROXY_PORT", "0")) if index == 0 else 0
            started.append(FaultProxy(env["url"], port=port, lifetime=3600, ca_path=env["ca_path"]).start())
            proxies.put(started[-1])
        with ThreadPoolExecutor(WORKERS) as pool:
            for future in [pool.submit(run_chain, chain, env, runner, proxies, matrix) for chain in todo]:
                try:
                    future.result()
                except Exception:  # pylint: disable=broad-except
                    pass  # in the chain's problems
    finally:
        for proxy in started:
            proxy.stop()
    return {chain.key: chain for chain in todo}


@pytest.fixture()
def case_prefix(rest):
    prefix = "fx-%s-" % uuid.uuid4().hex[:8]
    yield prefix
    remove_everything(rest, prefix)


# -- the matrix ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(KINDS))
def test_fault_kind_through_provision_replace_and_teardown(kind, chains):
    assert not chains[("fault", kind)].problems, "\n".join(chains[("fault", kind)].problems)


@pytest.mark.parametrize("chain", KILL_CHAINS, ids=["-".join(c).replace(" ", "_") for c in KILL_CHAINS])
def test_killed_runs_converge_on_the_next_run(chain, chains):
    assert not chains[("kill", chain)].problems, "\n".join(chains[("kill", chain)].problems)


@pytest.fixture(scope="module")
def lag_proxy(env):
    """The proxy the runs started together go through; each case sets how far searches lag behind creates."""
    parts = urlsplit(env["url"])
    if parts.hostname not in ("127.0.0.1", "localhost"):
        pytest.skip("the fault proxy forwards to a node on 127.0.0.1, not to %s" % env["url"])
    proxy = FaultProxy(env["url"], port=0, lifetime=3600, ca_path=env["ca_path"]).start()
    yield proxy
    proxy.stop()


@pytest.fixture()
def busy_cpu():
    """A CPU-bound process beside the runs (a bounded busy loop), stopped after the case."""
    process = busy_loop()
    yield process
    process.kill()
    process.wait(10)


def runs_started_together(case, playbooks, expected, lag, extra_vars, rest, runner, proxy, matrix, prefix):
    """Start the plays together through the proxy with searches ``lag`` seconds behind creates. Every run
    must succeed and leave the stack converged at once, with one object of each name by GET by ID: no run
    may leave work half-done (or a duplicate) for a later run to settle."""
    started = time.monotonic()
    hidden = proxy.hidden_hits
    proxy.set_search_lag(lag)
    try:
        processes = [runner.start(playbook, proxy.url, extra_vars) for playbook in playbooks]
        runs = [runner.finish(process, "run %d" % (index + 1)) for index, process in enumerate(processes)]
    finally:
        proxy.set_search_lag(0)
    seconds = time.monotonic() - started
    finding = inspect(rest, prefix, *expected)
    counts = counts_by_get(rest, prefix)
    problems = count_problems(counts, *expected)
    failed = [run for run in runs if not run.ok]
    outcome = "converged; by GET: %s; %.0f s" % (describe_counts(counts), seconds)
    if finding.set_aside:
        outcome += "; set aside for a later run (look-alike IDs): %s" % "; ".join(finding.set_aside)
    if not finding.converged or problems:
        outcome = "NOT CONVERGED: %s; by GET: %s" % (short("; ".join([finding.describe()] + problems), 300),
                                                     describe_counts(counts))
    elif failed:
        outcome = "converged; %d of %d runs failed; %.0f s" % (len(failed), len(runs), seconds)
    outcome = matrix.add(case, runs, finding, not failed, outcome)
    print("\n%s: %s (%d search hits hidden)" % (case, outcome, proxy.hidden_hits - hidden))
    assert finding.converged and not problems and not failed, "%s (runs: %s)\n%s" % (
        outcome, "; ".join(r.summary() for r in runs), "\n".join(r.tail() for r in runs if not r.ok))
    assert seconds < PARALLEL_BUDGET, outcome


@pytest.mark.parametrize("lag", SEARCH_LAGS)
@pytest.mark.parametrize("count", PARALLEL)
def test_parallel_provision_runs_converge(count, lag, env, rest, trusted, runner, matrix, lag_proxy, busy_cpu,
                                          case_prefix):
    """2 and 3 runs of the provision playbook (the default stack) start together, with a CPU-bound process
    beside them and searches 0, 1 or 3 s behind creates (issue 22)."""
    stack = DefaultStack(case_prefix, env["endpoint"])
    runs_started_together(parallel_case(count, lag), ["polardb.polarsearch.provision"] * count, stack.expected(),
                          lag, stack.vars, rest, runner, lag_proxy, matrix, case_prefix)


@pytest.mark.parametrize("lag", SEARCH_LAGS)
def test_parallel_module_creates_converge(lag, env, rest, trusted, runner, matrix, lag_proxy, busy_cpu, case_prefix):
    """Plays of a polarsearch_connector task and a polarsearch_model task (which creates the model group named
    after the model) start together: the connector, the model group and the model are each created at once."""
    stack = Stack(case_prefix, env["endpoint"], env["api_key"])
    runs_started_together(module_parallel_case(lag), [stack.playbook("provision")] * MODULE_PARALLEL,
                          stack.expected("provision"), lag, None, rest, runner, lag_proxy, matrix, case_prefix)
