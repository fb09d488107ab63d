# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remote models and model groups: lookup, register, update, deploy, undeploy, delete."""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.common import (
    ML,
    ModuleFailure,
    diff_of,
    drop_none,
    first_or_fail,
    parse_json_text,
    subset_differs,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.plan import Step

DEPLOYED_STATES = ("DEPLOYED", "PARTIALLY_DEPLOYED", "DEPLOYING", "LOADED", "LOADING", "PARTIALLY_LOADED")
FAILED_TASK_STATES = ("FAILED", "COMPLETED_WITH_ERROR", "CANCELLED")
MANAGED_GROUP_DESCRIPTION = "Model group managed by polardb.polarsearch"
OPTIONAL_FIELDS = ("interface", "is_enabled", "rate_limiter", "guardrails")


# -- reading ----------------------------------------------------------------------------
def model_view(model_id, source):
    """The model as modules return it (option names, parsed interface, no credential)."""
    if source is None:
        return None
    view = {
        "model_id": model_id,
        "name": source.get("name"),
        "description": source.get("description"),
        "model_state": source.get("model_state"),
        "connector_id": source.get("connector_id"),
        "model_group_id": source.get("model_group_id"),
        "model_version": source.get("model_version"),
        "algorithm": source.get("algorithm"),
    }
    for field in OPTIONAL_FIELDS:
        if source.get(field) is not None:
            view[field] = source[field]
    if isinstance(view.get("interface"), dict):
        view["interface"] = {k: parse_json_text(v) for k, v in view["interface"].items()}
    return drop_none(view)


def get_model(client, model_id):
    source = client.get("%s/models/%s" % (ML, model_id), missing_ok=True)
    return model_view(model_id, source) if source else None


def search_models(client, *filters):
    query = {"bool": {"filter": [{"term": {"algorithm": "REMOTE"}}] + list(filters)}}
    return [model_view(hit["_id"], hit["_source"]) for hit in client.search("%s/models/_search" % ML, query, size=1000)]


def find_model(client, name=None, model_id=None):
    if model_id:
        return get_model(client, model_id)
    hits = client.search("%s/models/_search" % ML, {"bool": {"filter": [
        {"term": {"algorithm": "REMOTE"}}, {"term": {"name.keyword": name}}]}})
    hit = first_or_fail(hits, "model", name, "model_id")
    return model_view(hit["_id"], hit["_source"]) if hit else None


def models_using_connector(client, connector_id):
    return search_models(client, {"term": {"connector_id.keyword": connector_id}})


def label(model):
    """How plans and messages name a model: by name, the same in check mode and in a real run."""
    return str(model.get("name") or model.get("model_id"))


def is_deployed(model):
    return (model or {}).get("model_state") in DEPLOYED_STATES


# -- waiting ----------------------------------------------------------------------------
def wait_deployed(context, model_id, task_id, timeout, connector_id=None, states=("DEPLOYED",)):
    """Poll the deploy task and the model until the model is in ``states``; fail with the task's error.

    A model read as DEPLOY_FAILED while its deploy task has not failed may be a stale state from an
    earlier attempt, so only a failed task (or, without a task, DEPLOY_FAILED itself) ends the wait.
    """
    client = context.client

    def probe():
        if task_id:
            task = client.get("%s/tasks/%s" % (ML, task_id), missing_ok=True) or {}
            if task.get("state") in FAILED_TASK_STATES:
                raise ModuleFailure("deploying model %s failed (task %s, %s): %s" % (
                    model_id, task_id, task.get("state"), task.get("error") or "no error text"))
        model = get_model(client, model_id)
        if model is None:
            raise ModuleFailure("model %s disappeared while waiting for it to deploy" % model_id)
        if model.get("model_state") == "DEPLOY_FAILED" and not task_id:
            raise ModuleFailure("model %s is DEPLOY_FAILED: deploy it again (state=deployed)" % model_id)
        if model.get("model_state") in states and (connector_id is None or model.get("connector_id") == connector_id):
            return model
        return None

    return context.wait_for("model %s to be %s" % (model_id, " or ".join(states)), probe, timeout)


def wait_not_deploying(context, model, timeout):
    if model.get("model_state") != "DEPLOYING":
        return model

    def probe():
        current = get_model(context.client, model["model_id"])
        return current if current is None or current.get("model_state") != "DEPLOYING" else None

    return context.wait_for("model %s to finish DEPLOYING" % model["model_id"], probe, timeout) or model


def wait_undeployed(context, model_id, timeout):
    def probe():
        current = get_model(context.client, model_id)
        if current is None or current.get("model_state") not in DEPLOYED_STATES:
            return current or {}
        return None

    return context.wait_for("model %s to be undeployed" % model_id, probe, timeout)


# -- writes (each returns the predicted model, so check mode shares the path) --------------
def deploy(context, model, wait=True, timeout=300):
    predicted = dict(model, model_state="DEPLOYED" if wait else "DEPLOYING")

    def run():
        answer = context.client.post("%s/models/%s/_deploy" % (ML, model["model_id"])) or {}
        context.changed = True
        if not wait:
            return dict(get_model(context.client, model["model_id"]) or predicted)
        return wait_deployed(context, model["model_id"], answer.get("task_id"), timeout)

    return context.act(Step("deploy", "model", label(model), model.get("model_id")), run, predicted)


def undeploy(context, model, wait=True, timeout=300):
    predicted = dict(model, model_state="UNDEPLOYED")

    def run():
        context.client.post("%s/models/%s/_undeploy" % (ML, model["model_id"]))
        context.changed = True
        if not wait:
            return get_model(context.client, model["model_id"]) or predicted
        return wait_undeployed(context, model["model_id"], timeout) or predicted

    return context.act(Step("undeploy", "model", label(model), model.get("model_id")), run, predicted)


def update_model(context, model, changes, timeout=300):
    """PUT the changed fields; a deployed model is then waited for until it is usable again."""
    predicted = dict(model, **changes)
    if "interface" in predicted and isinstance(predicted["interface"], dict):
        predicted["interface"] = {k: parse_json_text(v) for k, v in predicted["interface"].items()}

    def run():
        current = wait_not_deploying(context, model, timeout)
        context.client.put("%s/models/%s" % (ML, model["model_id"]), body=changes)
        context.changed = True
        if current.get("model_state") in ("DEPLOYED", "PARTIALLY_DEPLOYED"):
            return wait_deployed(context, model["model_id"], None, timeout,
                                 connector_id=changes.get("connector_id"),
                                 states=("DEPLOYED", "PARTIALLY_DEPLOYED"))
        return get_model(context.client, model["model_id"]) or predicted

    return context.act(Step("update", "model", label(model), model.get("model_id"), sorted(changes)),
                       run, predicted)


def point_models_at(context, models, connector_id, timeout):
    """Move models to another connector (allowed while deployed) and wait until each is usable."""
    return [update_model(context, model, {"connector_id": connector_id}, timeout) for model in models]


# -- model groups -----------------------------------------------------------------------
def find_group(client, name):
    hits = client.search("%s/model_groups/_search" % ML, {"term": {"name.keyword": name}})
    return hits[0] if hits else None


def ensure_group(context, name):
    """The ID of the model group ``name``, created when missing (``None`` in check mode)."""
    hit = find_group(context.client, name)
    if hit:
        return hit["_id"]

    def run():
        answer = context.client.post(
            "%s/model_groups/_register" % ML,
            body={"name": name, "description": MANAGED_GROUP_DESCRIPTION}, lookup=lookup)
        return answer["model_group_id"]

    def lookup():
        found = find_group(context.client, name)
        return {"model_group_id": found["_id"]} if found else None

    return context.act(Step("create", "model_group", name), run, None)


def group_name(client, group_id):
    if not group_id:
        return None
    group = client.get("%s/model_groups/%s" % (ML, group_id), missing_ok=True) or {}
    return group.get("name")


def delete_group_if_owned(context, group_id, model):
    """Delete the group created for ``model`` once no other model is in it."""
    if not group_id:
        return
    group = context.client.get("%s/model_groups/%s" % (ML, group_id), missing_ok=True)
    if not group:
        return
    owned = group.get("name") == model.get("name") or group.get("description") == MANAGED_GROUP_DESCRIPTION
    others = [m for m in search_models(context.client, {"term": {"model_group_id": group_id}})
              if m["model_id"] != model["model_id"]]
    if owned and not others:
        context.act(Step("delete", "model_group", group.get("name"), group_id),
                    lambda: context.client.delete("%s/model_groups/%s" % (ML, group_id)))


# -- the ensure functions ---------------------------------------------------------------
def desired_changes(params, model, connector_id, group_id):
    """The fields of an existing model that differ from what the user asked for."""
    changes = {}
    if params.get("model_id") and params.get("name") and params["name"] != model.get("name"):
        changes["name"] = params["name"]
    if params.get("description") is not None and params["description"] != model.get("description"):
        changes["description"] = params["description"]
    if connector_id is not None and connector_id != model.get("connector_id"):
        changes["connector_id"] = connector_id
    if params.get("model_group") and group_id != model.get("model_group_id"):
        changes["model_group_id"] = group_id
    if params.get("interface") is not None:
        wanted = {k: parse_json_text(v) for k, v in params["interface"].items()}
        if wanted != (model.get("interface") or {}):
            changes["interface"] = params["interface"]
    if params.get("is_enabled") is not None and params["is_enabled"] != model.get("is_enabled", True):
        changes["is_enabled"] = params["is_enabled"]
    for field in ("rate_limiter", "guardrails"):
        if params.get(field) is not None and subset_differs(drop_none(params[field]), model.get(field)):
            changes[field] = drop_none(params[field])
    return changes


def register(context, params, connector_id, group_id):
    name = params["name"]
    body = {"name": name, "function_name": "remote", "connector_id": connector_id}
    if params.get("description") is not None:
        body["description"] = params["description"]
    if group_id:
        body["model_group_id"] = group_id
    for field in OPTIONAL_FIELDS:
        if params.get(field) is not None:
            body[field] = drop_none(params[field])
    predicted = model_view(None, dict(body, model_state="REGISTERED", algorithm="REMOTE"))
    predicted.pop("function_name", None)

    def lookup():
        hit = find_model(context.client, name=name)
        return {"model_id": hit["model_id"]} if hit else None

    def run():
        answer = context.client.post("%s/models/_register" % ML, body=body, lookup=lookup)
        return get_model(context.client, answer["model_id"])

    return context.act(Step("register", "model", name), run, predicted)


def ensure_model_absent(context, model, timeout):
    if model is None:
        return None
    if is_deployed(model):
        undeploy(context, model, True, timeout)
    context.act(Step("delete", "model", label(model), model.get("model_id")),
                lambda: context.client.delete("%s/models/%s" % (ML, model["model_id"])))
    delete_group_if_owned(context, model.get("model_group_id"), model)
    return None


def ensure_deploy_state(context, model, state, wait, timeout):
    if state == "deployed":
        model = wait_not_deploying(context, model, timeout) if wait else model
        if model.get("model_state") != "DEPLOYED" and not (model.get("model_state") == "DEPLOYING" and not wait):
            return deploy(context, model, wait, timeout)
    elif state == "undeployed" and is_deployed(model):
        return undeploy(context, model, wait, timeout)
    return model


def ensure_model(params, context, resolve_connector):
    """Converge one remote model; ``resolve_connector(name)`` gives a connector ID (or None)."""
    client = context.client
    state = params["state"]
    timeout = params["wait_timeout"]
    model = find_model(client, name=params.get("name"), model_id=params.get("model_id"))
    if params.get("model_id") and model is None and state != "absent":
        raise ModuleFailure("model_id %s does not exist: remove model_id to register a new model by name"
                            % params["model_id"])
    before = dict(model) if model else None

    if state == "absent":
        ensure_model_absent(context, model, timeout)
        return {"model": {}, "diff": diff_of(before, None)}

    connector_id = params.get("connector_id")
    if params.get("connector"):
        connector_id = resolve_connector(params["connector"])
    missing_connector = bool(params.get("connector")) and not connector_id
    if missing_connector and not context.check_mode:
        raise ModuleFailure("connector %r was not found: create it first (polarsearch_connector) or set "
                            "connector_id" % params.get("connector"))
    if model is None and not params.get("connector") and not connector_id:
        raise ModuleFailure("connector or connector_id is required to register model %r" % params.get("name"))
    group_id = ensure_group(context, params["model_group"]) if params.get("model_group") else None

    if model is None:
        model = register(context, params, connector_id, group_id)
    else:
        changes = desired_changes(params, model, connector_id, group_id)
        if missing_connector:
            # Check mode, with the connector still to be created earlier in the play.
            changes["connector_id"] = None
        if changes:
            model = update_model(context, model, changes, timeout)

    model = ensure_deploy_state(context, model, state, params["wait"], timeout)
    after = dict(model)
    if params.get("model_group"):
        after["model_group"] = params["model_group"]
        if before:
            before["model_group"] = group_name(client, before.get("model_group_id"))
    if params.get("connector"):
        after["connector"] = params["connector"]
        if before:
            before["connector"] = params["connector"] if before.get("connector_id") == connector_id else \
                "(connector %s)" % before.get("connector_id")
    return {"model": after, "model_id": after.get("model_id"), "diff": diff_of(before, after)}
