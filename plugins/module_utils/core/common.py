# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module shares: the run context, the module wrapper, normalisation and waiting."""

from __future__ import annotations

import json
import time
from dataclasses import replace

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    PolarSearchError,
    redact,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.connection import (
    ConnectionOptions,
    ConnectionOptionsError,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.visibility import settle, touches

ML = "_plugins/_ml"
CREATING_OPERATIONS = ("create", "register")


class ModuleFailure(Exception):
    """A failure the user must act on; ``message`` names the option and the fix."""

    def __init__(self, message, hidden=(), **details):
        super().__init__(message)
        self.message = message
        self.details = details
        # values of the input that must be masked everywhere (a credential given where it does not belong)
        self.hidden = list(hidden)


class Unchanged:
    """What a write returns to ``Context.act`` when the server had already done it for another run
    (the same deploy sent at the same moment): ``act`` returns ``value`` and records no change."""

    def __init__(self, value):
        self.value = value


class Context:
    """One module run: the client, check mode and the record of what changed.

    Every write goes through :meth:`act`, so check mode and a real run walk the
    same code path; in check mode the write is replaced by its predicted answer.
    ``plan`` is the list of :class:`Step` the run wrote (or, in check mode, would write).
    """

    def __init__(self, client, check_mode, sleep=time.sleep, clock=time.monotonic):
        self.client = client
        self.check_mode = check_mode
        self.changed = False
        self.plan = []
        self.sleep = sleep
        self.clock = clock
        self.new_ids = set()
        # kind -> IDs of the objects this run changed in place or deleted (visibility.settle)
        self.touched = {}

    def act(self, step, func, predicted=None):
        """Run one write, or in check mode return its predicted answer.

        ``changed`` is set once the write has succeeded, unless it returns ``Unchanged``. A write
        that fails on its own call changes nothing; a write of several calls marks ``accepted()``
        once the server took the first, so a later failure still reports the change.
        An object this run made is named without its ID in later steps, as check mode names it.
        The ID a ``create``/``register`` answer carries (the answer itself when it is a string, or
        its ``<kind>_id`` key or attribute) counts as made by this run.
        """
        written = step
        if step.id is not None and step.id in self.new_ids:
            step = replace(step, id=None)
        self.plan.append(step)
        if self.check_mode:
            self.changed = True
            return predicted
        answer = func()
        if isinstance(answer, Unchanged):
            # the server had done it for another run: nothing of this run changed
            return answer.value
        self.changed = True
        if touches(written):
            self.touched.setdefault(written.kind, set()).add(written.id)
        if step.operation in CREATING_OPERATIONS:
            self.new_ids.update(created_ids(step.kind, answer))
        return answer

    def accepted(self):
        """A write of several calls whose first call the server took, when a later call fails: the run
        changed something although it fails."""
        self.changed = True

    def plan_data(self):
        """The plan as the modules return it: a list of dicts."""
        return [step.as_dict() for step in self.plan]

    def wait_for(self, what, probe, timeout, initial=0.25, factor=1.5, max_interval=3.0):
        """Poll ``probe`` until it returns a non-``None`` value; the interval grows."""
        deadline = self.clock() + timeout
        interval = initial
        while True:
            value = probe()
            if value is not None:
                return value
            if self.clock() >= deadline:
                raise ModuleFailure("timed out after %ss waiting for %s; raise wait_timeout if the "
                                    "cluster is slow" % (timeout, what))
            self.sleep(interval)
            interval = min(max_interval, interval * factor)


class PolarSearchModule:
    """An AnsibleModule with the connection options, a client and one error path."""

    def __init__(self, argument_spec, secret_options=(), writes=True, **kwargs):
        spec = ConnectionOptions.argument_spec()
        spec.update(argument_spec)
        # The environment fallbacks of the connection options are resolved by ConnectionOptions,
        # after this validation: an option set in the task beats the environment, and the two
        # credential forms are checked there, each source on its own.
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        self.params = self.module.params
        self.writes = writes
        self.secrets = []
        self.context = None
        options = ConnectionOptions(self.params)
        # a password in host is refused below, and masked before anything can fail
        self.hide(options.host_secrets())
        try:
            self.secrets.extend(options.secrets)
        except ConnectionOptionsError as exc:
            self.fail(str(exc))
        # credentials read from the environment are masked by Ansible too, like no_log options
        self.module.no_log_values.update(self.secrets)
        for name in secret_options:
            self.secrets.extend(secret_values(self.params.get(name)))
        try:
            self.client = options.client(extra_secrets=self.secrets, warn=self.module.warn)
        except ConnectionOptionsError as exc:
            self.fail(str(exc))
        self.context = Context(self.client, self.module.check_mode)

    def hide(self, values):
        """Mask ``values`` everywhere, in messages and in what Ansible prints (the invocation at -vvv)."""
        values = [v for v in values if v]
        self.secrets.extend(values)
        self.module.no_log_values.update(values)

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=redact(msg, self.secrets), **kwargs)

    def run(self, handler):
        """Run ``handler(params, context)`` and exit with its result."""
        try:
            result = handler(self.params, self.context)
        except ModuleFailure as exc:
            self.hide(exc.hidden)
            self.fail(exc.message, changed=self.context.changed, plan=self.context.plan_data(), **exc.details)
        except PolarSearchError as exc:
            details = {"status": exc.status} if exc.status else {}
            self.fail(str(exc), changed=self.context.changed, plan=self.context.plan_data(), **details)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # The last line of defence: an answer of a shape nothing expected never ends in a traceback.
            self.fail("%s: %s, while handling the answer to %s; the run stopped there (the plan lists what it "
                      "wrote before). Check that host points at the PolarSearch REST endpoint, and report this "
                      "if it does" % (type(exc).__name__, exc, getattr(self.client, "last_request", None)
                                      or "the first request"),
                      changed=self.context.changed, plan=self.context.plan_data())
        result.setdefault("changed", self.context.changed)
        if self.writes:
            result.setdefault("plan", self.context.plan_data())
        if self.context.touched:
            # the next run's searches see what this one changed (visibility.settle)
            settle(self.context)
        self.module.exit_json(**result)


def created_ids(kind, answer):
    """The ID of the new object a create or register answer of ``kind`` carries: the answer itself,
    or its ``<kind>_id`` key or attribute."""
    key = "%s_id" % kind
    if isinstance(answer, dict):
        answer = answer.get(key)
    elif not isinstance(answer, str):
        answer = getattr(answer, key, None)
    return {answer} if isinstance(answer, str) and answer else set()


def secret_values(value):
    """All the leaf strings of an option value, for redaction."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [s for v in value.values() for s in secret_values(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in secret_values(v)]
    text = str(value)
    return [text] if len(text) >= 4 else []


def to_server_string(value):
    """A value as ML Commons stores connector parameters and cluster settings: a string."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def parse_json_text(value):
    """Parse a JSON text; return the value unchanged when it is not JSON."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def same_string_value(desired, current):
    """Compare two server-style strings; JSON objects and arrays compare by meaning, not spelling."""
    if desired == current:
        return True
    parsed = parse_json_text(desired)
    return isinstance(parsed, (dict, list)) and parsed == parse_json_text(current)


def subset_differs(desired, current):
    """True when a key the user set differs from the server's value (scalars as strings)."""
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return True
        return any(subset_differs(v, current.get(k)) for k, v in desired.items() if v is not None)
    if isinstance(desired, list):
        if not isinstance(current, list) or len(desired) != len(current):
            return True
        return any(subset_differs(d, c) for d, c in zip(desired, current))
    if isinstance(desired, (bool, int, float)) or isinstance(current, (bool, int, float)):
        return to_server_string(desired) != to_server_string(current)
    return desired != current


def drop_none(value):
    """A copy of ``value`` without ``None`` entries in dicts (recursively)."""
    if isinstance(value, dict):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_none(v) for v in value]
    return value


def diff_of(before, after):
    return {"before": before or {}, "after": after or {}}


def check_wait_timeout(params, option="wait_timeout", example=300):
    """``wait_timeout`` is 0 or more seconds (checked before any request)."""
    timeout = params.get("wait_timeout")
    if timeout is not None and timeout < 0:
        raise ModuleFailure("%s is %s, a negative number of seconds: give 0 or more, such as %d" % (
            option, timeout, example))


def first_or_fail(hits, kind, name, option):
    """Zero or one hit; two or more fail with their IDs so the user can pick one."""
    if len(hits) > 1:
        ids = sorted(hit["_id"] for hit in hits)
        raise ModuleFailure(
            "%d %ss are named %r (IDs: %s); names are not unique in ML Commons: set %s to the one "
            "to manage, or duplicates: keep_one (ml_stack_duplicates in the ml_stack role) to keep the one in use "
            "and delete the others" % (len(hits), kind, name, ", ".join(ids), option), ids=ids)
    return hits[0] if hits else None
