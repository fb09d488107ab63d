# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster settings: one read, at most one write, only the keys the user names.

``ensure_settings`` reads the options once into a :class:`SettingsRequest`; ``converge_settings`` takes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import snapshot
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import (
    ModuleFailure,
    diff_of,
    to_server_string,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.plan import Step

SCOPES = ("persistent", "transient")
SETTINGS_PATH = "_cluster/settings"


def flatten(settings, prefix=""):
    """Nested or flat settings as one flat dict of dotted names."""
    flat = {}
    for key, value in (settings or {}).items():
        name = "%s.%s" % (prefix, key) if prefix else str(key)
        if isinstance(value, dict):
            if not value:
                raise ModuleFailure("setting %r has an empty dict as value: give a value, or null to "
                                    "reset it" % name)
            nested = flatten(value, name)
            twice = sorted(set(nested) & set(flat))
            if twice:
                raise ModuleFailure("setting %r is given twice (nested and flat): give it once" % twice[0])
            flat.update(nested)
        else:
            if name in flat:
                raise ModuleFailure("setting %r is given twice (nested and flat): give it once" % name)
            flat[name] = value
    return flat


def normalize(value):
    """A value the way the server returns it: strings, and lists of strings."""
    if isinstance(value, (list, tuple)):
        return [to_server_string(v) for v in value]
    return to_server_string(value)


def read_settings(client):
    current = snapshot.read(client, SETTINGS_PATH, lambda: client.get(
        SETTINGS_PATH, params={"flat_settings": "true", "include_defaults": "true"})) or {}
    return {scope: current.get(scope) or {} for scope in SCOPES + ("defaults",)}


def effective(current, scope, key):
    """The value a key has for a scope: its own, else the persistent one (for transient), else the default."""
    order = ("transient", "persistent", "defaults") if scope == "transient" else ("persistent", "defaults")
    for layer in order:
        if key in current[layer]:
            return current[layer][key]
    return None


def is_enabled(client, key):
    """Whether the boolean setting ``key`` is on: the value the cluster applies (transient, else persistent, else
    the default), from the run's one read of the settings."""
    return str(effective(read_settings(client), "transient", key)).lower() == "true"


# OpenSearch's affix and prefix settings (Setting.affixKeySetting / prefixKeySetting): the server lists
# them, even with include_defaults, only once they are set, yet accepts them (observed on 3.6.0 and
# 2.19.1, docs/local-cluster.md). A key that matches none of them and is not listed is unknown.
AFFIX_SETTINGS = tuple(re.compile(pattern) for pattern in (
    # Loggers.LOG_LEVEL_SETTING: logger.<package or class>
    r"^logger\.[^.\s]+(\.[^.\s]+)*$",
    # RemoteClusterService / SniffConnectionStrategy / ProxyConnectionStrategy: cluster.remote.<alias>.<key>
    r"^cluster\.remote\.[^.\s]+\.(seeds|mode|skip_unavailable|transport\.ping_schedule|transport\.compress|"
    r"node_connections|proxy_address|proxy_socket_connections|server_name)$",
    # FilterAllocationDecider: cluster.routing.allocation.<include|exclude|require>.<attribute>
    r"^cluster\.routing\.allocation\.(include|exclude|require)\.[^\s]+$",
    # AwarenessAllocationDecider: cluster.routing.allocation.awareness.force.<attribute>.values
    r"^cluster\.routing\.allocation\.awareness\.force\.[^.\s]+\.values$",
))


def is_known(current, key):
    """The server lists the key (set or default), or it is one of OpenSearch's affix settings."""
    if any(key in current[layer] for layer in ("persistent", "transient", "defaults")):
        return True
    return any(pattern.match(key) for pattern in AFFIX_SETTINGS)


def desired_value(current, scope, key, value, list_mode):
    """The value the key must have after the run, or ``None`` for a reset."""
    if value is None:
        return None
    value = normalize(value)
    now = effective(current, scope, key)
    if isinstance(now, list) and not isinstance(value, list):
        value = [value]
    if isinstance(value, list):
        base = list(now) if isinstance(now, list) else ([] if now is None else [now])
        if list_mode == "append":
            for entry in value:
                if entry not in base:
                    base.append(entry)
            return base
        if list_mode == "remove":
            return [v for v in base if v not in value]
    elif list_mode == "remove":
        raise ModuleFailure("list_mode=remove needs list values, but %s is a single value: give a "
                            "list of entries to remove" % key)
    return value


def check_setting(scope, key, value):
    """A setting name is dotted words (no empty part, no blank); a value is a scalar, a list of scalars, or
    null (reset)."""
    if not key.strip():
        raise ModuleFailure("%s has an empty key: give the setting's dotted name, such as "
                            "plugins.ml_commons.only_run_on_ml_node" % scope)
    if any(c.isspace() for c in key) or "" in key.split("."):
        raise ModuleFailure("%s has the key %r, which is not a setting name (it has %s): give the dotted name, such "
                            "as plugins.ml_commons.only_run_on_ml_node" % (
                                scope, key, "a space" if any(c.isspace() for c in key) else "an empty part"))
    values = value if isinstance(value, (list, tuple)) else [value]
    if any(isinstance(v, (dict, list, tuple)) for v in values):
        raise ModuleFailure("%s.%s is a list of mappings or lists, which no setting takes: give a value, or a list "
                            "of strings, such as ['^https://api\\.openai\\.com/.*$']" % (scope, key))


def wanted_settings(params):
    """The settings named by the task, flat, each checked (before any request)."""
    wanted = {scope: flatten(params.get(scope)) for scope in SCOPES}
    if not any(wanted.values()):
        raise ModuleFailure("nothing to manage: set persistent and/or transient")
    for scope in SCOPES:
        for key, value in wanted[scope].items():
            check_setting(scope, key, value)
    return wanted


@dataclass(frozen=True)
class SettingsRequest:
    """The cluster settings as the task asks for them, read once from the module's options after the input
    rules (``wanted_settings``): each scope's keys flat and checked (none for a scope the task does not set),
    and how list values combine with the current ones (``list_mode``)."""

    list_mode: str = "append"
    persistent: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    transient: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_params(cls, params):
        """Check the options (``wanted_settings``) and read them into a request."""
        wanted = wanted_settings(params)
        return cls(list_mode=params.get("list_mode") or "append",
                   persistent=MappingProxyType(wanted["persistent"]), transient=MappingProxyType(wanted["transient"]))

    def wanted(self, scope):
        """``{key: value}`` the task sets in ``scope`` (``persistent`` or ``transient``)."""
        return getattr(self, scope)


def ensure_settings(params, context):
    """The module's entry: the options become a :class:`SettingsRequest` once; ``converge_settings`` takes it."""
    return converge_settings(SettingsRequest.from_params(params), context)


def converge_settings(request, context):
    """Compute the changes for the named keys and write them in one PUT."""
    current = read_settings(context.client)

    unknown = sorted({key for scope in SCOPES for key in request.wanted(scope) if not is_known(current, key)})
    if unknown:
        raise ModuleFailure(
            "setting(s) not recognized by the server: %s; check the spelling and that the plugin "
            "that owns them is installed" % ", ".join(unknown), unknown=unknown)

    body = {scope: {} for scope in SCOPES}
    before = {scope: {} for scope in SCOPES}
    after = {scope: {} for scope in SCOPES}
    for scope in SCOPES:
        for key, value in request.wanted(scope).items():
            new = desired_value(current, scope, key, value, request.list_mode)
            before[scope][key] = effective(current, scope, key)
            if new is None:
                if key in current[scope]:
                    body[scope][key] = None
                    reset_to = dict(current, **{scope: {k: v for k, v in current[scope].items() if k != key}})
                    after[scope][key] = effective(reset_to, scope, key)
                else:
                    after[scope][key] = before[scope][key]
                continue
            if new != before[scope][key]:
                body[scope][key] = new
            after[scope][key] = new

    body = {scope: values for scope, values in body.items() if values}
    if body:
        keys = sorted("%s.%s" % (scope, key) for scope, values in body.items() for key in values)
        context.act(Step("update", "cluster_settings", fields=keys),
                    lambda: context.client.put(SETTINGS_PATH, body=body))
    result_before = {scope: values for scope, values in before.items() if values}
    result_after = {scope: values for scope, values in after.items() if values}
    return {"settings": result_after, "diff": diff_of(result_before, result_after)}
