# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the plugin unit tests: the fake server, a fake clock and a module runner."""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from unittest import mock

import pytest

UNIT_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = UNIT_DIR.parents[1]


def _ensure_collection_importable():
    """Fallback for running these tests without tests/unit/conftest.py."""
    try:
        import ansible_collections.polardb.polarsearch.plugins.module_utils.core.common  # noqa: F401
        return
    except ImportError:
        pass
    root = REPO_ROOT / "build" / "pytest_collections"
    link = root / "ansible_collections" / "polardb" / "polarsearch"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        tmp = link.with_name(".polarsearch.%d" % os.getpid())
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(REPO_ROOT, target_is_directory=True)
        os.replace(tmp, link)
    sys.path.insert(0, str(root))


_ensure_collection_importable()
if str(UNIT_DIR) not in sys.path:
    sys.path.insert(0, str(UNIT_DIR))

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.common import warnings as ansible_warnings  # noqa: E402
from ansible.module_utils.common.parameters import remove_values  # noqa: E402
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # noqa: E402

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport import client as client_mod  # noqa: E402
from ansible_collections.polardb.polarsearch.plugins.module_utils.core import common  # noqa: E402

from fake_server import CONNECTION, FakeServer  # noqa: E402

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # pragma: no cover - ansible-core before 2.19
    import contextlib

    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        payload = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}))
        with mock.patch.object(basic, "_ANSIBLE_ARGS", payload):
            yield

try:
    from ansible.module_utils import _internal as module_internal
except ImportError:  # pragma: no cover - ansible-core before 2.19
    module_internal = None


def as_target():
    """A module runs on its target, where ansible-core 2.19+ records warn() in the module result; once a test
    has imported controller code (an action plugin), ``is_controller`` is true for the rest of the process and
    warn() would go to the controller's display instead."""
    if module_internal is None or not hasattr(module_internal, "is_controller"):
        return mock.patch.dict({})
    return mock.patch.object(module_internal, "is_controller", False)


ENV_VARS = ("POLARSEARCH_HOST_PORT", "POLARSEARCH_URL", "POLARSEARCH_USERNAME", "POLARSEARCH_PASSWORD",
            "POLARSEARCH_USER_PASSWORD", "POLARSEARCH_FINGERPRINT_KEY", "POLARSEARCH_CA_PATH",
            "POLARSEARCH_VALIDATE_CERTS", "POLARSEARCH_CLIENT_CERT", "POLARSEARCH_CLIENT_KEY",
            "POLARSEARCH_TIMEOUT", "POLARSEARCH_CONNECT_TIMEOUT", "POLARSEARCH_RETRIES")


class AnsibleExitJson(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class AnsibleFailJson(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class FakeClock:
    """Monotonic time that only moves when somebody sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []          # Context (polling) sleeps
        self.client_sleeps = []   # PolarSearchClient (retry backoff) sleeps

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def client_sleep(self, seconds):
        self.client_sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    context_init = common.Context.__init__
    client_init = client_mod.PolarSearchClient.__init__

    def init_context(self, *args, **kwargs):
        context_init(self, *args, **kwargs)
        self.sleep = fake.sleep
        self.clock = fake.monotonic

    def init_client(self, *args, **kwargs):
        client_init(self, *args, **kwargs)
        self._sleep = fake.client_sleep
        self._rand = lambda low, high: high

    monkeypatch.setattr(common.Context, "__init__", init_context)
    monkeypatch.setattr(client_mod.PolarSearchClient, "__init__", init_client)
    return fake


@pytest.fixture
def server(monkeypatch, clock):
    return FakeServer().install(monkeypatch)


def secrets_of(args):
    """Every secret value in module arguments (passwords, credential values, keys)."""
    found = []
    if args.get("password"):
        found.append(args["password"])
    if args.get("user_password"):
        found.append(args["user_password"])
        if ":" in args["user_password"]:
            found.append(args["user_password"].split(":", 1)[1])
    for value in (args.get("credential") or {}).values():
        found.append(str(value))
    if args.get("fingerprint_key"):
        found.append(args["fingerprint_key"])
    return [s for s in found if s]


def assert_no_secret(result, secrets):
    text = json.dumps(result, sort_keys=True, default=str)
    for secret in secrets:
        assert secret not in text, "secret %r leaked into the module result: %s" % (secret, text)


def run_module(module, args, check_mode=False, diff=False, extra_secrets=(), connection=True, invocation=False):
    """Run ``module.main()`` with ``args``; return the result dict (``failed`` is True on fail_json).

    The raw keyword arguments that reach exit_json/fail_json are returned, before
    Ansible's own no_log masking, and asserted to contain no secret. With ``invocation``, the result
    also has the ``invocation`` Ansible prints at -vvv: the module's parameters with its no-log values
    masked, as AnsibleModule masks them.
    """
    full = dict(CONNECTION) if connection else {}
    full.update(copy.deepcopy(args))
    if check_mode:
        full["_ansible_check_mode"] = True
    if diff:
        full["_ansible_diff"] = True

    def invoked(self, kwargs):
        if invocation:
            params = getattr(self, "params", None) or {}
            kwargs["invocation"] = {"module_args": remove_values(params, self.no_log_values)}
        return kwargs

    def exit_json(self, **kwargs):
        kwargs.setdefault("changed", False)
        kwargs.setdefault("failed", False)
        raise AnsibleExitJson(invoked(self, kwargs))

    def fail_json(self, msg=None, **kwargs):
        kwargs["failed"] = True
        kwargs["msg"] = msg
        raise AnsibleFailJson(invoked(self, kwargs))

    result = None
    with patch_module_args(full), as_target(), \
            mock.patch.object(basic.AnsibleModule, "exit_json", exit_json), \
            mock.patch.object(basic.AnsibleModule, "fail_json", fail_json):
        try:
            module.main()
        except (AnsibleExitJson, AnsibleFailJson) as exc:
            result = exc.result
    assert result is not None, "module did not call exit_json or fail_json"
    assert_no_secret(result, secrets_of(full) + list(extra_secrets))
    return result


@pytest.fixture
def run(server):
    """``run(module, args, check_mode=False, ...)`` against the ``server`` fixture."""
    return run_module


@pytest.fixture
def fresh(monkeypatch, clock):
    """``fresh(setup)`` makes a new FakeServer, applies ``setup(server)`` and installs it."""

    def make(setup=None, **options):
        server = FakeServer(**options)
        if setup is not None:
            setup(server)
        return server.install(monkeypatch)

    return make


SERVER_OWNED = ("connector_id", "model_id", "model_group_id", "model_version")


def strip_ids(value, keys=SERVER_OWNED):
    """A copy of ``value`` without the IDs a real run learns from the server and check mode cannot."""
    if isinstance(value, dict):
        return {k: strip_ids(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [strip_ids(v, keys) for v in value]
    return value


@pytest.fixture
def check_matches_real(fresh):
    """Run ``args`` in check mode and for real on two identical fresh servers and compare.

    Returns ``(check_result, real_result, check_server, real_server)``. ``ignore`` lists
    the keys stripped from the diffs before they are compared (IDs only a real run knows).
    """

    def compare(module, args, setup=None, ignore=(), **options):
        check_server = fresh(setup, **options)
        checked = run_module(module, args, check_mode=True, diff=True)
        assert check_server.writes == [], "check mode wrote: %s" % check_server.write_summary()
        real_server = fresh(setup, **options)
        real = run_module(module, args, diff=True)
        assert checked["failed"] == real["failed"]
        assert checked["changed"] == real["changed"]
        assert checked["plan"] == real["plan"]
        if "diff" in real or "diff" in checked:
            assert strip_ids(checked["diff"], ignore) == strip_ids(real["diff"], ignore)
        return checked, real, check_server, real_server

    return compare


@pytest.fixture
def run_warned(server, monkeypatch):
    """Like ``run``, and the result's ``warnings`` are the messages the module passed to ``warn()``."""

    def runner(module, args, **kwargs):
        # an empty store of the type this ansible-core keeps: a list before
        # 2.19, a dict (ordered, de-duplicated) from 2.19 on
        monkeypatch.setattr(ansible_warnings, "_global_warnings", type(ansible_warnings._global_warnings)())
        result = run_module(module, args, **kwargs)
        result["warnings"] = list(ansible_warnings.get_warning_messages())
        return result

    return runner


@pytest.fixture
def read_only(server):
    """Fails the test when the module under test sent any write to ``server``."""
    yield server
    assert server.writes == [], "a read-only module wrote: %s" % server.write_summary()


class CapturedSpec(Exception):
    """What a module's main() hands to AnsibleModule, raised instead of running the module."""

    def __init__(self, kwargs):
        super().__init__(kwargs)
        self.kwargs = kwargs
        self.argument_spec = kwargs["argument_spec"]

    def errors(self, options):
        """The messages of the module's own argument validation for ``options``."""
        constraints = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")
        validator = ArgumentSpecValidator(self.argument_spec, **{k: self.kwargs.get(k) for k in constraints})
        return validator.validate(dict(options)).error_messages


@pytest.fixture
def module_spec():
    """``module_spec(module)``: the argument spec and constraints the module's main() uses (a CapturedSpec)."""

    def capture(module):
        def fake_module(**kwargs):
            raise CapturedSpec(kwargs)

        with mock.patch.object(common, "AnsibleModule", fake_module), pytest.raises(CapturedSpec) as exc:
            module.main()
        return exc.value

    return capture
