"""Fixtures for the integration tests: a real OpenSearch + ML Commons and the local model service.

The cluster is started by ``scripts/polarsearch-local up`` (``scripts/test`` does that and exports
``POLARSEARCH_URL``, ``MODEL_SERVICE_ENDPOINT`` and ``MODEL_SERVICE_API_KEY``). Modules run through the
real ``ansible`` command line, so what is tested is what a user runs.

Two profiles (``POLARSEARCH_PROFILE``): ``plain`` (OpenSearch 3.6, HTTP, no security plugin; the default)
and ``secure`` (``scripts/polarsearch-local up --secure``: OpenSearch 2.19.1 over HTTPS with the security
plugin and ML Commons access control). On the secure profile the modules authenticate as the admin
through ``POLARSEARCH_USERNAME``/``POLARSEARCH_PASSWORD`` and trust ``POLARSEARCH_CA_PATH``; the fixtures
``ml_user`` and ``ml_user2`` are the two non-admin ML users with different backend roles.

A test that needs a server feature the secure profile's node lacks (an ML Commons 3.x feature, or a plugin or
module its minimal 2.19.1 distribution leaves out) says so with ``@pytest.mark.server_feature("<name>")`` (see
``FEATURES_MISSING_ON_SECURE``); on the secure profile it is skipped with the reason.
``@pytest.mark.secure_only`` marks a test that needs the security plugin; ``@pytest.mark.plain_only(reason)``
one that runs on the plain profile only.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path

import pytest
import requests

from specs import endpoint_regex

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The states of a model that is not deployed. An undeploy usually leaves UNDEPLOYED, but ML Commons' sync-up job
# (MLSyncUpCron, every 10 s) writes DEPLOY_FAILED into a model no node serves whose document still reads DEPLOYED:
# when it polls the nodes after the undeploy took the model off them and reads the document before the undeploy
# wrote UNDEPLOYED, its DEPLOY_FAILED lands last, and the job changes a DEPLOY_FAILED model no further (seen in
# whole runs on 3.6.0, docs/local-cluster.md).
NOT_DEPLOYED = ("UNDEPLOYED", "REGISTERED", "DEPLOY_FAILED")
ML = "/_plugins/_ml"
TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"
# a REST write that changes or deletes one ML object in place: (kind, ID)
OBJECT_WRITE = re.compile(r"^/?_plugins/_ml/(connectors|models|model_groups)/([A-Za-z0-9_-]+)$")
PRIVATE_IP = "plugins.ml_commons.connector.private_ip_enabled"

# Server features that the secure profile's node does not have: ML Commons 3.x features 2.19.1 lacks, and what
# that node's minimal distribution leaves out (docs/local-cluster.md, "The secure profile"): name -> why a test
# that needs one is skipped there.
FEATURES_MISSING_ON_SECURE = {
    "action_name": "ML Commons 2.19 connectors have no action `name` field (3.x)",
    "safe_characters": "ML Commons 2.19 does not validate names and descriptions for safe characters (3.x)",
    "structured_output": "ML Commons 2.19 has no `supports_structured_output` (3.x)",
    "mcp_connector": "ML Commons 2.19 has no MCP connectors (`protocol: mcp_sse`, 3.x)",
    "neural_search": "the secure profile's 2.19.1 node has no k-NN and neural-search plugins (text_embedding "
                     "ingest processor, neural query, rerank search processor)",
}

SECURE_ENV = ("POLARSEARCH_USERNAME", "POLARSEARCH_PASSWORD", "POLARSEARCH_USER_PASSWORD", "POLARSEARCH_CA_PATH")


def pytest_configure(config):
    config.addinivalue_line("markers", "server_feature(name): the test needs a server feature that the secure "
                            "profile's 2.19.1 node lacks; skipped there with the reason")
    config.addinivalue_line("markers", "secure_only: the test needs the secure profile (security plugin)")
    config.addinivalue_line("markers", "plain_only(reason): the test runs on the plain profile only, for the reason given")


def current_profile():
    return os.environ.get("POLARSEARCH_PROFILE") or "plain"


def pytest_collection_modifyitems(config, items):
    profile = current_profile()
    for item in items:
        for mark in item.iter_markers("server_feature"):
            for name in mark.args:
                if name not in FEATURES_MISSING_ON_SECURE:
                    raise pytest.UsageError("unknown server_feature %r on %s (one of: %s)"
                                            % (name, item.nodeid, ", ".join(sorted(FEATURES_MISSING_ON_SECURE))))
                if profile == "secure":
                    item.add_marker(pytest.mark.skip(reason="secure profile: " + FEATURES_MISSING_ON_SECURE[name]))
        if profile != "secure" and item.get_closest_marker("secure_only"):
            item.add_marker(pytest.mark.skip(reason="needs the secure profile (scripts/polarsearch-local up --secure)"))
        plain_only = item.get_closest_marker("plain_only")
        if profile == "secure" and plain_only:
            item.add_marker(pytest.mark.skip(reason="plain profile only: " + plain_only.args[0]))


@pytest.fixture(scope="session")
def env():
    url = os.environ.get("POLARSEARCH_URL")
    if not url:
        pytest.skip("POLARSEARCH_URL is not set: start the cluster with scripts/polarsearch-local up "
                    "(scripts/test does it)")
    profile = current_profile()
    if profile not in ("plain", "secure"):
        raise pytest.UsageError("POLARSEARCH_PROFILE must be plain or secure, got %r" % profile)
    secure = {}
    if profile == "secure":
        missing = [name for name in ("POLARSEARCH_USERNAME", "POLARSEARCH_PASSWORD", "POLARSEARCH_CA_PATH",
                                     "POLARSEARCH_ML_USER", "POLARSEARCH_ML_PASSWORD", "POLARSEARCH_ML_USER2",
                                     "POLARSEARCH_ML_PASSWORD2") if not os.environ.get(name)]
        if missing:
            raise pytest.UsageError("POLARSEARCH_PROFILE=secure needs %s: export the lines of "
                                    "scripts/polarsearch-local up --secure" % ", ".join(missing))
        secure = {
            "username": os.environ["POLARSEARCH_USERNAME"],
            "password": os.environ["POLARSEARCH_PASSWORD"],
            "ca_path": os.environ["POLARSEARCH_CA_PATH"],
            "ml_users": [
                {"name": os.environ["POLARSEARCH_ML_USER"], "password": os.environ["POLARSEARCH_ML_PASSWORD"],
                 "backend_role": os.environ.get("POLARSEARCH_ML_BACKEND_ROLE", "")},
                {"name": os.environ["POLARSEARCH_ML_USER2"], "password": os.environ["POLARSEARCH_ML_PASSWORD2"],
                 "backend_role": os.environ.get("POLARSEARCH_ML_BACKEND_ROLE2", "")},
            ],
        }
    # `up` prints the endpoint with its scheme (http://127.0.0.1:18080), the value a user passes on;
    # the connector specs and the model service's admin routes take its host:port
    service = os.environ.get("MODEL_SERVICE_ENDPOINT", "http://127.0.0.1:18080").rstrip("/")
    host_port = service.split("://", 1)[-1]
    return {
        "url": url.rstrip("/"),
        "endpoint": host_port,
        "endpoint_url": "http://" + host_port,
        "api_key": os.environ.get("MODEL_SERVICE_API_KEY", "local-dev-key-0001"),
        "profile": profile,
        # secure profile: the admin's username/password, the CA and the two ML users
        "username": secure.get("username"),
        "password": secure.get("password"),
        "ca_path": secure.get("ca_path"),
        "ml_users": secure.get("ml_users", []),
    }


@pytest.fixture(scope="session")
def collections_path():
    root = Path(tempfile.mkdtemp(prefix="polarsearch-it-"))
    target = root / "ansible_collections" / "polardb"
    target.mkdir(parents=True)
    (target / "polarsearch").symlink_to(REPO)
    return root


@pytest.fixture(scope="session")
def id_terms(collections_path):
    """The collection's model of the terms the server's analyzer makes of an ID."""
    sys.path.insert(0, str(collections_path))
    from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.in_use import id_terms as terms
    return terms


class Rest:
    """Direct REST access to the cluster, to make out-of-band changes and to check server state.

    On the secure profile it authenticates (the admin unless ``auth`` names another user) and trusts the
    node's CA, passed with each request so that ``REQUESTS_CA_BUNDLE`` cannot override it.
    """

    def __init__(self, url, auth=None, ca_path=None):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.auth = auth
        self.verify = ca_path or True

    def request(self, method, path, body=None, **kwargs):
        """The raw response; ``body`` goes as JSON."""
        if body is not None:
            kwargs["json"] = body
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, self.url + path, verify=self.verify, **kwargs)

    def call(self, method, path, body=None, ok=(200, 201)):
        response = self.request(method, path, json=body)
        if ok and response.status_code not in ok:
            who = " as %s" % self.session.auth[0] if self.session.auth else ""
            raise AssertionError("%s %s%s -> %s %s" % (method, path, who, response.status_code,
                                                       response.text[:500]))
        changed = OBJECT_WRITE.match(path) if method in ("PUT", "DELETE") else None
        if changed and response.status_code < 300:
            self.settle(changed.group(1), changed.group(2))
        return response.json() if response.text else {}

    def settle(self, kind, object_id, timeout=30):
        """Wait until a search shows the object as a GET (real time) does: a change made here by hand is then seen
        by the next module run, as a change a person makes is seen by a playbook run seconds later (on 2.19.1 an
        update reaches searches only with the next periodic refresh, docs/local-cluster.md)."""
        path = "%s/%s/%s" % (ML, kind, object_id)
        deadline = time.monotonic() + timeout
        while True:
            got = self.request("GET", path)
            wanted = got.json() if got.status_code == 200 else None
            hits = self.search(kind, {"terms": {"_id": [object_id]}})
            shown = hits[0]["_source"] if hits else None
            if (wanted is None and shown is None) or (
                    wanted is not None and shown is not None
                    and all(shown[k] == v for k, v in wanted.items() if k in shown)):
                return
            if time.monotonic() > deadline:
                raise AssertionError("a search of %s still does not show %s as a GET does after %ss"
                                     % (kind, object_id, timeout))
            time.sleep(0.2)

    def search(self, kind, query, size=100):
        body = {"query": query, "size": size}
        return self.call("POST", "%s/%s/_search" % (ML, kind), body, ok=(200, 404)).get("hits", {}).get("hits", [])

    def fresh(self, kind, hits):
        """Each hit read again by ID: an update, a deploy or a delete can write the document without a refresh,
        so a search right after it can still show the old document, or a deleted one (2.19.1,
        docs/local-cluster.md); a GET is real time. ``[(id, document)]``, without the hits gone by then."""
        found = []
        for hit in hits:
            response = self.request("GET", "%s/%s/%s" % (ML, kind, hit["_id"]))
            if response.status_code != 404:
                assert response.status_code == 200, response.text[:500]
                found.append((hit["_id"], response.json()))
        return found

    def connectors(self, name):
        hits = self.search("connectors", {"term": {"name.keyword": name}})
        return [dict(doc, connector_id=cid) for cid, doc in self.fresh("connectors", hits)]

    def models(self, name=None, connector_id=None):
        filters = [{"term": {"algorithm": "REMOTE"}}]
        if name:
            filters.append({"term": {"name.keyword": name}})
        if connector_id:
            filters.append({"term": {"connector_id.keyword": connector_id}})
        hits = self.search("models", {"bool": {"filter": filters}})
        return [dict(doc, model_id=mid) for mid, doc in self.fresh("models", hits)]

    def groups(self, name):
        return [dict(h["_source"], model_group_id=h["_id"])
                for h in self.search("model_groups", {"term": {"name.keyword": name}})]

    def by_name(self, kind, name):
        """The objects of ``kind`` named ``name`` that this user may see, each with its ``id``; connectors and models
        read again by ID (see :meth:`fresh`)."""
        hits = self.search(kind, {"term": {"name.keyword": name}})
        if kind not in ("models", "connectors"):
            return [dict(h["_source"], id=h["_id"]) for h in hits]
        return [dict(doc, id=oid) for oid, doc in self.fresh(kind, hits)]

    def persistent(self):
        return self.call("GET", "/_cluster/settings?flat_settings=true")["persistent"]

    def with_prefix(self, kind, prefix):
        return [h["_source"]["name"] for h in self.search(kind, {"prefix": {"name.keyword": prefix}})]

    def one_model(self, name):
        found = self.models(name)
        assert len(found) == 1, "expected one model named %s, found %d" % (name, len(found))
        return found[0]

    def one_connector(self, name):
        found = self.connectors(name)
        assert len(found) == 1, "expected one connector named %s, found %d" % (name, len(found))
        return found[0]

    def model(self, model_id):
        return self.call("GET", ML + "/models/%s" % model_id)

    def settings(self):
        return self.call("GET", "/_cluster/settings?flat_settings=true&include_defaults=true")

    def trusted(self):
        current = self.settings()
        return current["persistent"].get(TRUSTED) or current["defaults"].get(TRUSTED) or []

    def private_ip(self):
        current = self.settings()
        return current["persistent"].get(PRIVATE_IP, current["defaults"].get(PRIVATE_IP))

    def put_trusted(self, entries):
        self.call("PUT", "/_cluster/settings", {"persistent": {TRUSTED: entries}})

    def undeploy(self, model_id):
        """Undeploy by hand; returns the state the model settles in (one of ``NOT_DEPLOYED``)."""
        self.call("POST", "%s/models/%s/_undeploy" % (ML, model_id))
        return self.wait_state(model_id, NOT_DEPLOYED)

    def wait_state(self, model_id, states, timeout=120):
        states = (states,) if isinstance(states, str) else tuple(states)
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.model(model_id).get("model_state")
            if state in states:
                self.settle("models", model_id)
                return state
            time.sleep(0.5)
        raise AssertionError("model %s is %s, not %s" % (model_id, state, " or ".join(states)))

    def predict(self, model_id, parameters):
        """The raw response of a predict (its status is the test's to check)."""
        return self.request("POST", ML + "/models/%s/_predict" % model_id, json={"parameters": parameters})

    def predict_json(self, model_id, parameters):
        return self.call("POST", "%s/models/%s/_predict" % (ML, model_id), {"parameters": parameters})


@pytest.fixture(scope="session")
def server_has(env):
    """``server_has(name)``: False when the profile's server lacks the feature ``name`` (see
    FEATURES_MISSING_ON_SECURE), so a test can skip only the part that needs it, saying why."""
    def has(name):
        if name not in FEATURES_MISSING_ON_SECURE:
            raise KeyError("unknown server feature %r" % name)
        return env["profile"] != "secure"
    has.reason = FEATURES_MISSING_ON_SECURE.get
    return has


def connection_env(env, user=None):
    """The environment variables that make the modules (and the role's playbooks) reach this profile's
    cluster: the URL, and on the secure profile the credentials (the admin's, or ``user``'s) and the CA."""
    variables = {"POLARSEARCH_URL": env["url"]}
    if env["profile"] == "secure":
        variables.update({
            "POLARSEARCH_USERNAME": user["name"] if user else env["username"],
            "POLARSEARCH_PASSWORD": user["password"] if user else env["password"],
            "POLARSEARCH_CA_PATH": env["ca_path"],
        })
    return variables


def rest_for(env, user=None):
    """Rest as ``user`` (a dict with name and password), as the admin on the secure profile, or anonymous."""
    if env["profile"] != "secure":
        return Rest(env["url"])
    auth = (user["name"], user["password"]) if user else (env["username"], env["password"])
    return Rest(env["url"], auth=auth, ca_path=env["ca_path"])


@pytest.fixture(scope="session")
def rest(env):
    return rest_for(env)


def _ml_user(env, index):
    if env["profile"] != "secure":
        pytest.skip("the ML users exist on the secure profile only (scripts/polarsearch-local up --secure)")
    user = dict(env["ml_users"][index])
    user["rest"] = rest_for(env, user)
    # what the modules read from the environment to act as this user
    user["env"] = connection_env(env, user)
    return user


@pytest.fixture(scope="session")
def ml_user(env):
    """The first non-admin user with ml_full_access (backend role ``backend_role``), secure profile only."""
    return _ml_user(env, 0)


@pytest.fixture(scope="session")
def ml_user2(env):
    """The second non-admin ML user, with another backend role than ``ml_user``."""
    return _ml_user(env, 1)


class Ansible:
    """Runs a module and returns the result a playbook would register, ``diff`` included.

    Two ways, one result:

    - through the command line (``cli=True``, any ``verbosity``, or an instance made with ``in_process=False``,
      the default of the constructor): the module is one task of a playbook run by ``ansible-playbook``, the way a
      user runs it. Tests about Ansible itself use it: the CLI's check mode and ``--diff``, ``-vvv`` output scans,
      argument handling by the controller, ``module_defaults``, runs at the same time (one instance each) and killed
      runs;
    - in this process (the ``ansible`` fixture's default): the module's ``main()`` with the same arguments, check
      mode and diff flags that Ansible hands it, the environment of a CLI run, Ansible's own ``AnsibleModule``
      (argument validation, no_log masking, warnings) and the real HTTP client against the real node. What it saves
      is the 1.3-2 s start-up of ``ansible-playbook`` per call, so tests about the server spend their time on it.

    ``last_output`` is what the last run printed (the CLI's whole output, or the module's JSON and stderr).
    """

    def __init__(self, env, collections_path, in_process=False):
        self.workdir = Path(tempfile.mkdtemp(prefix="polarsearch-it-run-"))
        self.collections_path = collections_path
        self.in_process = in_process
        self.env = dict(os.environ)
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
        })
        self.env.pop("POLARSEARCH_HOST_PORT", None)
        for name in SECURE_ENV:
            self.env.pop(name, None)
        # the modules' environment fallbacks: the URL, and on the secure profile the admin and the CA
        self.env.update(connection_env(env))
        self.last_output = ""

    def run(self, module, args, check=False, diff=True, verbosity=0, extra_env=None, cli=False):
        environment = dict(self.env, **(extra_env or {}))
        if cli or verbosity or not self.in_process:
            return self._run_cli(module, args, check, diff, verbosity, environment)
        return self._run_in_process(module, args, check, diff, environment)

    def _run_cli(self, module, args, check, diff, verbosity, environment):
        result_file = self.workdir / ("result-%s.json" % uuid.uuid4().hex)
        play = [{
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {"name": "Run the module", "polardb.polarsearch." + module: args, "register": "result",
                 "ignore_errors": True},
                {"name": "Keep the registered result", "ansible.builtin.copy": {
                    "content": "{{ result | to_json }}", "dest": str(result_file)},
                 "check_mode": False, "diff": False},
            ],
        }]
        playbook = self.workdir / ("play-%s.yml" % uuid.uuid4().hex)
        playbook.write_text(json.dumps(play))
        command = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if verbosity:
            command.append("-" + "v" * verbosity)
        completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900,
                                   check=False)
        self.last_output = completed.stdout + completed.stderr
        assert result_file.exists(), "ansible-playbook failed (rc %s): %s" % (
            completed.returncode, self.last_output[-3000:])
        return json.loads(result_file.read_text())

    def _run_in_process(self, module, args, check, diff, environment):
        result, self.last_output = in_process_run(self.collections_path, module, args, check, diff, environment)
        return result


def in_process_run(collections_path, module, args, check, diff, environment):
    """``(result, output)`` of ``module``'s ``main()`` run here as Ansible runs it on a target.

    The arguments reach ``AnsibleModule`` with the check-mode and diff flags a task gives it; the environment
    variables that differ from ``environment`` are set for the run and put back after it (only those, so threads
    of the test that read others see no change); the module's printed JSON is its result, with Ansible's no_log
    masking already applied by ``AnsibleModule``. An exception that escapes the module gives the result
    ``ansible-playbook`` registers for a module failure: ``failed`` with the traceback.
    """
    root = str(collections_path)
    if root not in sys.path:
        sys.path.insert(0, root)
    from ansible.module_utils import basic
    from ansible.module_utils.common import warnings as ansible_warnings
    from ansible.module_utils.testing import patch_module_args

    code = importlib.import_module("ansible_collections.polardb.polarsearch.plugins.modules." + module)
    full = copy.deepcopy(args)
    full["_ansible_check_mode"] = bool(check)
    full["_ansible_diff"] = bool(diff)
    full["_ansible_module_name"] = "polardb.polarsearch." + module
    stdout, stderr = io.StringIO(), io.StringIO()
    with _IN_PROCESS_LOCK, _environment(environment), _as_target(basic):
        for store in ("_global_warnings", "_global_deprecations"):
            if hasattr(ansible_warnings, store):
                setattr(ansible_warnings, store, type(getattr(ansible_warnings, store))())
        crashed = None
        try:
            with patch_module_args(full), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code.main()
        except SystemExit:
            pass
        except Exception:  # pylint: disable=broad-except  # what the controller registers for a crash
            crashed = traceback.format_exc()
    output = stdout.getvalue() + stderr.getvalue()
    if crashed is not None:
        return {"failed": True, "changed": False, "msg": "MODULE FAILURE: see exception",
                "exception": crashed, "module_stdout": stdout.getvalue()}, output + crashed
    lines = [line for line in stdout.getvalue().splitlines() if line.startswith("{")]
    assert lines, "%s printed no result: %s" % (module, output[-3000:])
    result = json.loads(lines[-1])
    # what the controller adds to every registered result, and the form it registers warnings and deprecations
    # in: their messages (ansible-core 2.19+ modules return them as structured summaries)
    result.setdefault("changed", False)
    result.setdefault("failed", False)
    for key in ("warnings", "deprecations"):
        if key in result:
            result[key] = [_message(item) for item in result[key]]
    return result, output


def _message(item):
    """The message of a warning or deprecation as a playbook registers it."""
    if isinstance(item, dict) and isinstance(item.get("event"), dict):
        return item["event"].get("msg")
    return item


_IN_PROCESS_LOCK = threading.Lock()   # one in-process module run at a time: stdout and the environment are global


@contextlib.contextmanager
def _environment(wanted):
    """Set the variables of ``wanted`` that differ from ``os.environ``, drop those it lacks; put all back after."""
    saved = {}
    for name in set(os.environ) | set(wanted):
        if os.environ.get(name) != wanted.get(name):
            saved[name] = os.environ.get(name)
            if wanted.get(name) is None:
                del os.environ[name]
            else:
                os.environ[name] = wanted[name]
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _as_target(basic):
    """A module runs on its target, where ansible-core 2.19+ records warn() in the module result (in a process that
    imported controller code, it would go to the controller's display instead)."""
    try:
        from ansible.module_utils import _internal
    except ImportError:  # ansible-core before 2.19
        yield
        return
    if not hasattr(_internal, "is_controller"):
        yield
        return
    saved = _internal.is_controller
    _internal.is_controller = False
    try:
        yield
    finally:
        _internal.is_controller = saved


@pytest.fixture(scope="session")
def ansible(env, collections_path):
    """Module runs in this process (``cli=True`` for one through ``ansible-playbook``); with
    ``POLARSEARCH_IT_CLI=1`` every run goes through ``ansible-playbook``, as a cross-check of the two ways."""
    return Ansible(env, collections_path, in_process=os.environ.get("POLARSEARCH_IT_CLI", "0") != "1")


@pytest.fixture()
def prefix():
    return "it-%s" % uuid.uuid4().hex[:8]


def run_expecting(ansible, module, args, check, changed):
    result = ansible.run(module, args, check=check)
    assert not result.get("failed"), result
    assert result["changed"] is changed, result
    return result


def four_steps(ansible, module, args, expect_change=True):
    """CHECK, real, CHECK again, real again; returns the first real result."""
    check = run_expecting(ansible, module, args, True, expect_change)
    real = run_expecting(ansible, module, args, False, expect_change)
    assert real["plan"] == check["plan"], (check["plan"], real["plan"])
    run_expecting(ansible, module, args, True, False)
    run_expecting(ansible, module, args, False, False)
    return real


@pytest.fixture(scope="session")
def trusted(env, ansible):
    """The local model service is a trusted, private-IP endpoint (what the collection is for)."""
    result = ansible.run("polarsearch_cluster_settings", {"persistent": {
        TRUSTED: [endpoint_regex(env["endpoint"])], PRIVATE_IP: True}})
    assert not result.get("failed"), result
    return result


@pytest.fixture()
def cleanup(ansible):
    """Delete, in order, what a test created: models first, then connectors."""
    models, connectors = [], []
    yield models, connectors
    for name in models:
        ansible.run("polarsearch_model", {"name": name, "state": "absent"})
    for name in connectors:
        ansible.run("polarsearch_connector", {"name": name, "state": "absent"})
