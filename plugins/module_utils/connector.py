# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connectors: lookup, drift, credential fingerprints, update, replace, redeploy and delete."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re

from ansible_collections.polardb.polarsearch.plugins.module_utils.common import (
    ML,
    ModuleFailure,
    diff_of,
    drop_none,
    first_or_fail,
    same_string_value,
    subset_differs,
    to_server_string,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model import (
    deploy,
    is_deployed,
    label,
    model_view,
    models_using_connector,
    point_models_at,
    undeploy,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.plan import Step

FINGERPRINT = "polarsearch_credential_fingerprint"
REPLACES = "polarsearch_replaces"
INTERNAL_PARAMETERS = (FINGERPRINT, REPLACES)
ACTION_FIELDS = ("action_type", "method", "url", "headers", "request_body",
                 "pre_process_function", "post_process_function", "name")
ACTION_TYPES = ("PREDICT", "EXECUTE", "BATCH_PREDICT", "CANCEL_BATCH_PREDICT", "BATCH_PREDICT_STATUS")
PROTOCOLS = ("http", "aws_sigv4", "mcp_sse", "mcp_streamable_http")
SAFE_TEXT = re.compile(r"^[\w\s.,!?():@\-/'\"]*$")
# Attempts at a replacement connector whose ID the server's in-use check tells apart from the old one.
DISTINCT_ID_ATTEMPTS = 3
DISCARDED_NAME = "%s (unused replacement)"
DISTINCT_ID_PAUSE = 1.1
REPLACE_HINT = ", or set on_deployed_models=redeploy to update this connector in place"


# -- views ------------------------------------------------------------------------------
def normalize_action(action):
    out = {}
    for field in ACTION_FIELDS:
        value = action.get(field)
        if value is None:
            continue
        if field == "action_type":
            value = str(value).upper()
        elif field == "headers":
            value = {str(k): to_server_string(v) for k, v in value.items()}
        elif field == "request_body" and not isinstance(value, str):
            value = json.dumps(value)
        out[field] = value
    if action.get("supports_structured_output"):
        out["supports_structured_output"] = True
    return out


def connector_view(connector_id, source):
    """The connector with option names; internal parameters move to ``_``-keys."""
    if source is None:
        return None
    parameters = dict(source.get("parameters") or {})
    view = {
        "connector_id": connector_id,
        "name": source.get("name"),
        "description": source.get("description"),
        "version": to_server_string(source.get("version")),
        "protocol": source.get("protocol"),
        "parameters": {k: v for k, v in parameters.items() if k not in INTERNAL_PARAMETERS},
        "actions": [normalize_action(a) for a in source.get("actions") or []],
        "client_config": source.get("client_config"),
        "access": source.get("access"),
        "backend_roles": source.get("backend_roles"),
        "_fingerprint": parameters.get(FINGERPRINT),
        "_replaces": parameters.get(REPLACES),
    }
    return drop_none(view)


def public(view):
    """A view without internal keys: safe to return and to show in a diff."""
    if view is None:
        return None
    return {k: v for k, v in view.items() if not k.startswith("_")}


# -- credential fingerprints ------------------------------------------------------------
def fingerprint(credential, key, salt=None):
    """A keyed, salted HMAC-SHA256 of the canonical credential; never reversible to the value."""
    salt = salt or os.urandom(8).hex()
    canonical = json.dumps({str(k): str(v) for k, v in credential.items()}, sort_keys=True, separators=(",", ":"))
    mac = hmac.new(("%s:%s" % (key or "", salt)).encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256)
    return "hmac-sha256:v1:%s:%s" % (salt, mac.hexdigest())


def fingerprint_matches(stored, credential, key):
    parts = (stored or "").split(":")
    if len(parts) != 4 or parts[:2] != ["hmac-sha256", "v1"]:
        return False
    return hmac.compare_digest(fingerprint(credential, key, parts[2]), stored)


# -- reading ----------------------------------------------------------------------------
def get_connector(client, connector_id):
    source = client.get("%s/connectors/%s" % (ML, connector_id), missing_ok=True)
    return connector_view(connector_id, source) if source else None


def search_connectors(client, name):
    hits = client.search("%s/connectors/_search" % ML, {"term": {"name.keyword": name}})
    return [connector_view(hit["_id"], hit["_source"]) for hit in hits]


def split_twins(found):
    """For two same-named connectors where one replaces the other: (old, new); else None."""
    if len(found) != 2:
        return None
    first, second = found
    if second.get("_replaces") == first["connector_id"]:
        return first, second
    if first.get("_replaces") == second["connector_id"]:
        return second, first
    return None


def resolve_connector_id(client, name):
    """The ID of the connector named ``name`` (read only; an unfinished replace resolves to the new one)."""
    found = search_connectors(client, name)
    twins = split_twins(found)
    if twins:
        return twins[1]["connector_id"]
    hit = first_or_fail([{"_id": c["connector_id"]} for c in found], "connector", name, "connector_id")
    return hit["_id"] if hit else None


def find_connector(context, params):
    if params.get("connector_id"):
        connector = get_connector(context.client, params["connector_id"])
        if connector is None and params["state"] != "absent":
            raise ModuleFailure("connector_id %s does not exist: remove connector_id to create the connector "
                                "by name" % params["connector_id"])
        return connector
    found = search_connectors(context.client, params["name"])
    twins = split_twins(found)
    if twins:
        return finish_replace(context, twins[0], twins[1], params["wait_timeout"])
    hit = first_or_fail([{"_id": c["connector_id"]} for c in found], "connector", params["name"], "connector_id")
    return next(c for c in found if c["connector_id"] == hit["_id"]) if hit else None


# -- the server's in-use check ----------------------------------------------------------
def id_terms(value):
    """The terms the standard analyzer makes of an ID: split at '-' (any character but a letter,
    a digit or '_'), lower-cased."""
    return {term.lower() for term in re.split(r"[^0-9A-Za-z_]+", value or "") if term.strip("_")}


def delete_blockers(client, connector_id):
    """The models the server counts as users of the connector when asked to delete it.

    ML Commons finds them with a ``match`` query on the models' ``connector_id``, a text field: a
    model whose connector ID only shares a term with this one (see ``id_terms``) is counted too, and
    the delete is refused with HTTP 409.
    """
    hits = client.search("%s/models/_search" % ML, {"match": {"connector_id": connector_id}}, size=1000)
    return [model_view(hit["_id"], hit["_source"]) for hit in hits]


def check_deletable(client, connector, hint):
    """Fail, before anything is written, when the server would refuse to delete ``connector`` because
    of models that do not use it; the models that do use it are the caller's concern."""
    cid = connector["connector_id"]
    others = sorted((m for m in delete_blockers(client, cid) if m.get("connector_id") != cid),
                    key=lambda m: m["model_id"])
    if not others:
        return
    shared = set()
    for model in others:
        shared |= id_terms(model.get("connector_id")) & id_terms(cid)
    raise ModuleFailure(
        "connector %s (%s) cannot be deleted: the server counts model(s) %s as its users, though they use "
        "connector(s) %s, because ML Commons compares connector IDs as analyzed text%s. Nothing was changed. "
        "Delete those models or re-point them to another connector first%s" % (
            connector.get("name"), cid, ", ".join("%s (%s)" % (label(m), m["model_id"]) for m in others),
            ", ".join(sorted(set(str(m.get("connector_id")) for m in others))),
            " (shared term %s)" % ", ".join(repr(t) for t in sorted(shared)) if shared else "", hint),
        models=[m["model_id"] for m in others])


# -- input ------------------------------------------------------------------------------
def validate(params):
    for option in ("name", "description"):
        value = params.get(option)
        if value and not SAFE_TEXT.match(value):
            raise ModuleFailure("%s may only contain letters, numbers, spaces and .,!?():@-_'/\" (the server "
                                "rejects other characters): change %s" % (option, option))
    for key in (params.get("parameters") or {}):
        if key in INTERNAL_PARAMETERS:
            raise ModuleFailure("parameters.%s is reserved for the collection's own bookkeeping: rename the "
                                "parameter" % key)
    for index, action in enumerate(params.get("actions") or []):
        if str(action["action_type"]).upper() not in ACTION_TYPES:
            raise ModuleFailure("actions[%d].action_type %r is not one of %s" % (
                index, action["action_type"], ", ".join(a.lower() for a in ACTION_TYPES)))
    for key, value in (params.get("credential") or {}).items():
        if isinstance(value, (dict, list)):
            raise ModuleFailure("credential.%s must be a string, not a %s" % (key, type(value).__name__))


def desired_spec(params):
    spec = {
        "name": params.get("name"),
        "description": params.get("description"),
        "version": to_server_string(params.get("version")),
        "protocol": params.get("protocol"),
        "client_config": drop_none(params.get("client_config")) if params.get("client_config") else None,
        "access_mode": params.get("access_mode"),
        "backend_roles": params.get("backend_roles"),
    }
    if params.get("parameters") is not None:
        spec["parameters"] = {str(k): to_server_string(v) for k, v in params["parameters"].items()}
    if params.get("actions") is not None:
        spec["actions"] = [normalize_action(a) for a in params["actions"]]
    return drop_none(spec)


def compute_drift(desired, current, rename):
    """The fields to PUT, and the parameter keys that would have to be removed."""
    changes = {}
    for field in ("description", "version", "protocol"):
        if field in desired and desired[field] != current.get(field):
            changes[field] = desired[field]
    if rename and desired.get("name") and desired["name"] != current.get("name"):
        changes["name"] = desired["name"]
    removals = []
    if "parameters" in desired:
        now = current.get("parameters") or {}
        changed = {k: v for k, v in desired["parameters"].items() if not same_string_value(v, now.get(k))}
        if changed:
            changes["parameters"] = changed
        removals = sorted(k for k in now if k not in desired["parameters"])
    if "actions" in desired and desired["actions"] != current.get("actions"):
        changes["actions"] = desired["actions"]
    if "client_config" in desired and subset_differs(desired["client_config"], current.get("client_config")):
        changes["client_config"] = dict(current.get("client_config") or {}, **desired["client_config"])
    if "access_mode" in desired and desired["access_mode"] != current.get("access"):
        changes["access_mode"] = desired["access_mode"]
    if "backend_roles" in desired and sorted(desired["backend_roles"]) != sorted(current.get("backend_roles") or []):
        changes["backend_roles"] = desired["backend_roles"]
    return changes, removals


def credential_needs_write(params, current):
    credential = params.get("credential")
    if credential is None or current is None:
        return False
    mode = params["credential_update"]
    if mode == "always":
        return True
    if mode == "on_create":
        return False
    return not fingerprint_matches(current.get("_fingerprint"), credential, params.get("fingerprint_key"))


# -- writes (each returns the predicted connector, so check mode shares the path) ------------
def create_connector(context, spec, params, replaces=None, known_ids=(), distinct_from=()):
    credential = params.get("credential")
    if not credential and spec.get("protocol", "http") in ("http", "aws_sigv4"):
        raise ModuleFailure("credential is required to create connector %r (the server stores it "
                            "encrypted and never returns it): set credential" % spec.get("name"))
    body = dict(spec)
    body.setdefault("version", "1")
    body.setdefault("protocol", "http")
    parameters = dict(body.get("parameters") or {})
    if credential:
        body["credential"] = {str(k): str(v) for k, v in credential.items()}
        parameters[FINGERPRINT] = fingerprint(credential, params.get("fingerprint_key"))
    if replaces:
        parameters[REPLACES] = replaces
    body["parameters"] = parameters
    predicted = connector_view(None, body)
    name = body["name"]
    known = list(known_ids)

    def lookup():
        for connector in search_connectors(context.client, name):
            if connector["connector_id"] not in known:
                return {"connector_id": connector["connector_id"]}
        return None

    def create():
        return context.client.post("%s/connectors/_create" % ML, body=body, lookup=lookup)["connector_id"]

    def run():
        new_id, discarded = create(), []
        if distinct_from:
            new_id, discarded = distinct_replacement(context, new_id, distinct_from, name, create, known)
        # The predicted view plus the new ID: the server also fills client_config defaults, which
        # check mode cannot know, so both runs report the same connector.
        return dict(predicted, connector_id=new_id, _discarded=discarded)

    return context.act(Step("create", "connector", name), run, predicted)


def distinct_replacement(context, new_id, avoid_ids, name, create, known):
    """(ID, discarded IDs): a replacement whose ID shares no term with the old one's (the first of
    ``avoid_ids``) or those set aside before, or the server would never let the old connector be
    deleted once the models use the new one.

    One that does share a term cannot be deleted either while the models still use the old
    connector: it is renamed out of the way (so no later run takes it for the replacement), deleted
    after the old connector, and another is created a moment later (the terms of an ID depend on
    the time it was made). ``known`` collects the set-aside IDs, so a retried create never takes
    one of them for its own.
    """
    old_id = avoid_ids[0]
    avoid = set()
    for connector_id in avoid_ids:
        avoid |= id_terms(connector_id)
    discarded = []
    for attempt in range(DISTINCT_ID_ATTEMPTS):
        shared = id_terms(new_id) & avoid
        if not shared:
            return new_id, discarded
        known.append(new_id)
        context.client.put("%s/connectors/%s" % (ML, new_id), body={"name": DISCARDED_NAME % name})
        context.changed = True
        discarded.append(new_id)
        avoid |= id_terms(new_id)
        if attempt < DISTINCT_ID_ATTEMPTS - 1:
            context.sleep(DISTINCT_ID_PAUSE)
            new_id = create()
    raise ModuleFailure(
        "connector %s (%s) could not be replaced: each of the %d connector IDs the server gave shares a term "
        "(%s) with the old ID or an earlier one, and the server would refuse to delete a connector whose ID "
        "shares a term with one its models use. The models still use the old connector. The unused "
        "connectors %s, named %r, can be deleted once no model uses %s. Set on_deployed_models=redeploy to "
        "update the connector in place" % (
            name, old_id, DISTINCT_ID_ATTEMPTS, ", ".join(repr(t) for t in sorted(shared)),
            ", ".join(discarded), DISCARDED_NAME % name, old_id))


def update_connector(context, current, changes, params, rotate):
    body = dict(changes)
    if rotate:
        body["credential"] = {str(k): str(v) for k, v in params["credential"].items()}
        body["parameters"] = dict(body.get("parameters") or {}, **{
            FINGERPRINT: fingerprint(params["credential"], params.get("fingerprint_key"))})
    predicted = dict(current, **{k: v for k, v in changes.items() if k != "parameters"})
    if "parameters" in changes:
        predicted["parameters"] = dict(current.get("parameters") or {}, **changes["parameters"])
    fields = sorted(set(changes) | ({"credential"} if rotate else set()))
    cid = current["connector_id"]

    def run():
        context.client.put("%s/connectors/%s" % (ML, cid), body=body)
        return get_connector(context.client, cid)

    return context.act(Step("update", "connector", current.get("name"), cid, fields), run, predicted)


def set_aside(client, connector):
    """IDs of the replacements an earlier run set aside while the connector's models used it."""
    found = search_connectors(client, DISCARDED_NAME % connector.get("name"))
    return [c["connector_id"] for c in found if c.get("_replaces") == connector["connector_id"]]


def delete_connector(context, connector, discarded=None):
    """Delete the connector, then the replacements set aside while its models used it (looked up
    when ``discarded`` is not given)."""
    cid = connector["connector_id"]
    discarded = sorted(set(set_aside(context.client, connector) if discarded is None else discarded))

    def run():
        for connector_id in [cid] + discarded:
            context.client.delete("%s/connectors/%s" % (ML, connector_id))

    context.act(Step("delete", "connector", connector.get("name"), cid), run)


def full_spec(current, desired):
    """The whole connector a replacement needs: the desired fields over the current ones."""
    spec = {k: v for k, v in current.items() if k in ("name", "description", "version", "protocol",
                                                      "parameters", "actions", "client_config")}
    spec.update({k: v for k, v in desired.items() if k not in ("client_config",)})
    if "client_config" in desired:
        spec["client_config"] = dict(current.get("client_config") or {}, **desired["client_config"])
    return spec


def replace_connector(context, current, desired, params, users, removals=()):
    """Create the desired connector, move every model to it, then delete the old one."""
    if not params.get("credential"):
        raise ModuleFailure("connector %s (%s) must be replaced, and its credential cannot be read back from "
                            "the server: set credential" % (current.get("name"), current["connector_id"]))
    check_deletable(context.client, current, REPLACE_HINT if users and not removals else "")
    leftovers = set_aside(context.client, current)
    new = create_connector(context, full_spec(current, desired), params, replaces=current["connector_id"],
                           known_ids=[current["connector_id"]],
                           distinct_from=[current["connector_id"]] + leftovers if users else ())
    point_models_at(context, users, new.get("connector_id"), params["wait_timeout"])
    delete_connector(context, current, leftovers + (new.get("_discarded") or []))
    return new


def finish_replace(context, old, new, timeout):
    """Converge a replace that stopped halfway: models move to the new connector, the old one goes."""
    check_deletable(context.client, old, "")
    users = models_using_connector(context.client, old["connector_id"])
    moved = point_models_at(context, users, new["connector_id"], timeout)
    delete_connector(context, old)
    return dict(new, _moved=moved)


def users_of(context, connector):
    """Models that use the connector, including those a finished replace just moved to it (check mode)."""
    users = {m["model_id"]: m for m in connector.get("_moved") or []}
    users.update((m["model_id"], m) for m in models_using_connector(context.client, connector["connector_id"]))
    return sorted(users.values(), key=lambda m: m["model_id"])


def redeploy_update(context, current, changes, params, deployed, rotate):
    timeout = params["wait_timeout"]
    for model in deployed:
        undeploy(context, model, True, timeout)
    updated = update_connector(context, current, changes, params, rotate)
    for model in deployed:
        deploy(context, dict(model, model_state="UNDEPLOYED"), True, timeout)
    return updated


# -- the ensure function ----------------------------------------------------------------
def ensure_connector(params, context):
    validate(params)
    client = context.client
    current = find_connector(context, params)
    before = public(current)

    if params["state"] == "absent":
        if current is None:
            return {"connector": {}, "diff": diff_of(before, None)}
        users = users_of(context, current)
        if users:
            raise ModuleFailure("connector %s (%s) is used by model(s) %s: delete or re-point those models first" % (
                current.get("name"), current["connector_id"], ", ".join(label(m) for m in users)),
                models=[m["model_id"] for m in users])
        check_deletable(client, current, "")
        delete_connector(context, current)
        return {"connector": {}, "connector_id": current["connector_id"], "diff": diff_of(before, None)}

    desired = desired_spec(params)
    if current is None:
        if not desired.get("actions"):
            raise ModuleFailure("actions is required to create connector %r: give at least one predict action"
                                % params.get("name"))
        created = create_connector(context, desired, params)
        after = dict(public(created), credential="set") if params.get("credential") else public(created)
        return result(created, before, after, [])

    changes, removals = compute_drift(desired, current, rename=bool(params.get("connector_id")))
    rotate = credential_needs_write(params, current)
    if not changes and not removals and not rotate:
        return result(current, before, public(current), [m["model_id"] for m in users_of(context, current)])

    users = users_of(context, current)
    deployed = [m for m in users if is_deployed(m)]
    policy = params["on_deployed_models"]
    fields = sorted(set(changes) | set("parameters.%s (remove)" % k for k in removals) | (
        {"credential"} if rotate else set()))
    if deployed and policy == "fail":
        raise ModuleFailure("connector %s (%s) needs changes (%s) but deployed model(s) %s use it: undeploy them, "
                            "or set on_deployed_models to replace or redeploy" % (
                                current.get("name"), current["connector_id"], ", ".join(fields),
                                ", ".join(label(m) for m in deployed)),
                            models=[m["model_id"] for m in deployed])
    if removals or (deployed and policy == "replace"):
        updated = replace_connector(context, current, desired, params, users, removals)
    elif deployed:
        updated = redeploy_update(context, current, changes, params, deployed, rotate)
    else:
        updated = update_connector(context, current, changes, params, rotate)
    after = public(updated)
    replaced = removals or (deployed and policy == "replace")
    if params.get("credential") and (rotate or replaced):
        # A replace sends the credential again: show it, as a state and never as a value.
        before = dict(before, credential="set")
        after = dict(after, credential="changed" if rotate else "set")
    return result(updated, before, after, [m["model_id"] for m in users])


def result(connector, before, after, model_ids):
    shown = public(connector)
    return {"connector": shown, "connector_id": shown.get("connector_id"), "models": model_ids,
            "diff": diff_of(before, after)}
