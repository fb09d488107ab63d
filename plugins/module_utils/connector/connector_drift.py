# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the user asked for, and how it differs from a connector on the server."""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import (
    drop_none,
    same_string_value,
    subset_differs,
    to_server_string,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_rules import (
    normalize_action,
    normalize_client_config,
)

# Fields a replacement copies from the connector it replaces (server names).
COPIED_FIELDS = ("name", "description", "version", "protocol", "parameters", "url", "headers", "actions",
                 "client_config")


def desired_spec(params):
    """The connector the options describe, in the server's field names; options not set are absent."""
    spec = {
        "name": params.get("name"),
        "description": params.get("description"),
        "version": to_server_string(params.get("version")),
        "protocol": params.get("protocol"),
        "client_config": normalize_client_config(params.get("client_config")) or None,
        "url": params.get("url"),
        "access_mode": params.get("access_mode"),
        "backend_roles": params.get("backend_roles"),
    }
    if params.get("parameters") is not None:
        spec["parameters"] = {str(k): to_server_string(v) for k, v in params["parameters"].items()}
    if params.get("headers") is not None:
        spec["headers"] = {str(k): to_server_string(v) for k, v in params["headers"].items()}
    if params.get("actions") is not None:
        spec["actions"] = [normalize_action(a) for a in params["actions"]]
    return drop_none(spec)


def compute_drift(desired, current, rename):
    """The fields to PUT, and the parameter keys that would have to be removed."""
    changes = {}
    for field in ("description", "version", "protocol", "url", "headers"):
        if field in desired and desired[field] != getattr(current, field):
            changes[field] = desired[field]
    if rename and desired.get("name") and desired["name"] != current.name:
        changes["name"] = desired["name"]
    removals = []
    if "parameters" in desired:
        now = current.parameters or {}
        changed = {k: v for k, v in desired["parameters"].items() if not same_string_value(v, now.get(k))}
        if changed:
            changes["parameters"] = changed
        removals = sorted(k for k in now if k not in desired["parameters"])
    if "actions" in desired and desired["actions"] != current.actions:
        changes["actions"] = desired["actions"]
    if "client_config" in desired and subset_differs(desired["client_config"], current.client_config):
        changes["client_config"] = dict(current.client_config or {}, **desired["client_config"])
    if "access_mode" in desired and desired["access_mode"] != current.access:
        changes["access_mode"] = desired["access_mode"]
    if "backend_roles" in desired and sorted(desired["backend_roles"]) != sorted(current.backend_roles or []):
        changes["backend_roles"] = desired["backend_roles"]
    return changes, removals


def full_spec(current, desired):
    """The whole connector a replacement needs: the desired fields over the current ones."""
    spec = {k: v for k, v in current.public().items() if k in COPIED_FIELDS}
    # The access fields are kept: a replacement is as visible as the connector it replaces.
    if current.access:
        spec["access_mode"] = current.access
    if current.backend_roles:
        spec["backend_roles"] = list(current.backend_roles)
    spec.update({k: v for k, v in desired.items() if k not in ("client_config",)})
    if "client_config" in desired:
        spec["client_config"] = dict(current.client_config or {}, **desired["client_config"])
    return spec
