# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ml_stack role's report: one row per model and resource, read from the modules' plan and diff.

A module returns ``plan`` as a list of steps ``{operation, kind, name, id, fields}``, one per write,
the same in check mode and in a real run, and ``diff`` with the object before and after. A row
says what happened (or, in check mode, would happen) to one resource, with the names of the fields
that differ, never their values; a credential shows as ``credential``.
"""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.names import PENDING_DELETE_NAME

TRUSTED_KEY = "plugins.ml_commons.trusted_connector_endpoints_regex"
PRIVATE_IP_KEY = "plugins.ml_commons.connector.private_ip_enabled"
# Model fields the server owns; a new connector or group shows as ``connector`` or ``model_group``.
MODEL_SERVER_FIELDS = ("model_id", "model_state", "algorithm", "connector_id", "model_group_id", "model_version")
COLUMNS = ("MODEL", "RESOURCE", "NAME", "ACTION", "FIELDS")
PIPELINE_KINDS = ("pipeline", "ingest_pipeline", "search_pipeline")


# -- reading the results -------------------------------------------------------------------
def named_result(step, name):
    """The result of the entry named ``name`` in a step's results (a mapping of name to result), or ``{}``."""
    return (step or {}).get(name) or {}


def steps(result, kind, *operations):
    """The plan steps of ``result`` on objects of ``kind`` (a name or a tuple of names) with one of ``operations``."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return [step for step in (result or {}).get("plan") or []
            if isinstance(step, dict) and step.get("kind") in kinds and step.get("operation") in operations]


def duplicate_deletes(result, kind, name, id_key):
    """The deletes of same-named objects (``duplicates: keep_one``): of ``name``, neither the object
    before nor after (a replace deletes the one before)."""
    own = {diff_side(result, "before").get(id_key), diff_side(result, "after").get(id_key)}
    return [step for step in steps(result, kind, "delete") if step.get("name") == name and step.get("id") not in own]


def with_duplicates(action, fields, duplicates):
    """A row's action and fields once the deletes of its duplicates count as an update (field ``duplicates``)."""
    if not duplicates:
        return action, fields
    return ("update" if action == "none" else action), list(fields) + ["duplicates"]


def diff_side(result, side):
    diff = (result or {}).get("diff")
    return ((diff or {}).get(side) or {}) if isinstance(diff, dict) else {}


def row(model, resource, name, action, fields=()):
    return {"model": model, "resource": resource, "name": name, "action": action,
            "fields": sorted(set(fields)) if action != "none" else []}


# -- one row per resource ------------------------------------------------------------------
def setting_row(entry, settings):
    """The trusted endpoint entry of the model (and private_ip_enabled), from the settings diff."""
    before = diff_side(settings, "before").get("persistent") or {}
    after = diff_side(settings, "after").get("persistent") or {}
    was = entry["regex"] in (before.get(TRUSTED_KEY) or [])
    will = entry["regex"] in (after.get(TRUSTED_KEY) or [])
    entry_changes = "diff" in (settings or {}) and was != will
    private_ip_changes = PRIVATE_IP_KEY in after and str(before.get(PRIVATE_IP_KEY)) != str(after[PRIVATE_IP_KEY])
    fields = (["trusted_connector_endpoints_regex"] if entry_changes else []) + (
        ["connector.private_ip_enabled"] if private_ip_changes else [])
    if entry_changes:
        action = "create" if will else "delete"
    else:
        action = "update" if private_ip_changes else "none"
    return row(entry["name"], "setting", entry["regex"], action, fields)


def changed_fields(before, after, ignore=(), nested=True):
    """Names of the fields that differ; with ``nested``, dicts by key (``parameters.model``) and
    same-length action lists by action field (``actions.url``). A credential shows as ``credential``."""
    fields = []
    for key in sorted(set(before) | set(after)):
        if key in ignore:
            continue
        now, was = after.get(key), before.get(key)
        if key == "credential":
            if now == "changed" or (now and not was):
                fields.append("credential")
        elif nested and isinstance(now, dict) and isinstance(was, dict):
            fields += ["%s.%s" % (key, sub) for sub in sorted(set(now) | set(was)) if now.get(sub) != was.get(sub)]
        elif nested and key == "actions" and isinstance(now, list) and isinstance(was, list) and len(now) == len(was) \
                and now != was:
            for new_action, old_action in zip(now, was):
                fields += ["actions.%s" % sub for sub in sorted(set(new_action) | set(old_action))
                           if new_action.get(sub) != old_action.get(sub)]
        elif now != was:
            fields.append(key)
    return fields


def connector_row(entry, result, listed):
    """A connector is created, updated, replaced (created anew under its models, or a replace an
    earlier run left halfway finished) or deleted: the connector's own run says which (``action``)."""
    name = entry["connector"]["name"]
    before, after = diff_side(result, "before"), diff_side(result, "after")
    if entry["state"] == "absent":
        if result and not result.get("skipped"):
            deletes = result.get("action") == "delete"
        else:
            # check mode: the delete could not run while the models exist; the listing says what it would find
            deletes = any(c.get("name") == name for c in listed)
        return row(entry["name"], "connector", name, "delete" if deletes else "none")
    # same-named copies, and connectors set aside for the name, that the run deleted
    duplicates = duplicate_deletes(result, "connector", name, "connector_id") + [
        step for step in steps(result, "connector", "delete") if step.get("name") == PENDING_DELETE_NAME % name]
    action = result.get("action") or "none"
    if action == "create":
        fields = [k for k in after if k != "connector_id"]
    elif action == "none":
        fields = []
    else:
        fields = changed_fields(before, after, ignore=("connector_id",))
    return row(entry["name"], "connector", name, *with_duplicates(action, fields, duplicates))


def model_row(entry, result):
    before, after = diff_side(result, "before"), diff_side(result, "after")
    new_group = bool(steps(result, "model_group", "create"))
    if entry["state"] == "absent":
        action = "delete" if steps(result, "model", "delete") else "none"
        fields = []
    elif steps(result, "model", "register"):
        action = "create"
        fields = [k for k in after if k not in MODEL_SERVER_FIELDS]
    elif steps(result, "model", "update") or new_group:
        action = "update"
        fields = changed_fields(before, after, ignore=MODEL_SERVER_FIELDS, nested=False)
        fields += ["model_group"] if new_group else []
    else:
        action, fields = "none", []
    duplicates = duplicate_deletes(result, "model", entry["name"], "model_id") if entry["state"] != "absent" else []
    return row(entry["name"], "model", entry["name"], *with_duplicates(action, fields, duplicates))


def deploy_row(entry, result):
    if entry["state"] == "absent":
        action = "undeploy" if steps(result, "model", "undeploy") else "none"
    else:
        action = "deploy" if steps(result, "model", "deploy") else "none"
    return row(entry["name"], "deploy", entry["name"], action, ["model_state"])


def group_row(group, result, removals):
    """A model group the stack declares: created or updated by polarsearch_model_group, or deleted by
    polarsearch_model with the last model in it (a group the user described stays)."""
    if group["state"] == "absent":
        deleted = any(step.get("name") == group["name"] for r in (removals or {}).values()
                      for step in steps(r, "model_group", "delete"))
        return row(group["model"], "model_group", group["name"], "delete" if deleted else "none")
    for operation in ("create", "update"):
        found = steps(result, "model_group", operation)
        if found:
            return row(group["model"], "model_group", group["name"], operation,
                       [f for s in found for f in s.get("fields") or []])
    return row(group["model"], "model_group", group["name"], "none")


def pipeline_row(pipeline, result):
    """A pipeline is created, updated (the fields are the places that differ, such as a model ID that
    points at another model) or deleted."""
    for operation, action in (("create", "create"), ("update", "update"), ("delete", "delete")):
        found = steps(result, PIPELINE_KINDS, operation)
        if found:
            fields = [f for s in found for f in s.get("fields") or []]
            if action == "create" and not fields:
                fields = list(diff_side(result, "after"))
            return row(pipeline["model"], "pipeline", pipeline["name"], action, fields)
    return row(pipeline["model"], "pipeline", pipeline["name"], "none")


def index_row(index):
    """The stack's k-NN index: created, updated in place, re-created (delete + create) or deleted. In check mode
    before the embedding model is deployed its vector dimension is unknown, and the row says so."""
    result = index.get("result") or {}
    found = steps(result, "index", "create", "update", "delete")
    operations = {s.get("operation") for s in found}
    if "create" in operations:
        action = "replace" if "delete" in operations else "create"
    else:
        action = "delete" if "delete" in operations else ("update" if found else "none")
    fields = [f for s in found for f in s.get("fields") or []]
    if not index.get("dimension_known", True) and action != "none":
        fields.append("mappings.properties.%s.dimension (unknown until %s is deployed)"
                      % (index.get("vector_field"), index.get("model")))
    return row(index.get("model") or "", "index", index["name"], action, fields)


def rows(stack, results):
    """The report rows of every model of the resolved ``stack``, in its order, then of its groups and pipelines.

    ``results`` holds the ``resources`` of polarsearch_ml_stack: ``settings_present``, ``settings_absent``,
    ``connectors_present``, ``connectors_absent``, ``models_present`` and ``models_absent`` (each the
    results of the model entries, by entry name), ``pipelines_present`` and ``pipelines_absent`` (by
    pipeline name), ``groups_present`` (by declared model group name), and
    ``connectors`` (the connectors a teardown listed first; in check mode they stand for the connector
    deletes that cannot run), and ``index`` (the stack's index: ``name``, ``model``, ``vector_field``,
    ``dimension_known`` and the module ``result``). The rows of the declared model groups, then of the
    pipelines and of the index, follow the models'.
    """
    results = results or {}
    listed = (results.get("connectors") or {}).get("connectors") or []
    out = []
    for entry in stack.get("models") or []:
        side = "absent" if entry["state"] == "absent" else "present"
        models = named_result(results.get("models_" + side), entry["name"])
        connector = named_result(results.get("connectors_" + side), entry["name"])
        out += [
            setting_row(entry, results.get("settings_" + side)),
            connector_row(entry, connector, listed),
            model_row(entry, models),
            deploy_row(entry, models),
        ]
    for group in stack.get("groups") or []:
        out.append(group_row(group, named_result(results.get("groups_present"), group["name"]),
                             results.get("models_absent")))
    for pipeline in stack.get("pipelines") or []:
        side = "absent" if pipeline["state"] == "absent" else "present"
        out.append(pipeline_row(pipeline, named_result(results.get("pipelines_" + side), pipeline["name"])))
    if (results.get("index") or {}).get("name"):
        out.append(index_row(results["index"]))
    return out


# -- the table -----------------------------------------------------------------------------
def table(report_rows, check_mode):
    """The report as aligned lines under a title."""
    changes = sum(1 for r in report_rows if r["action"] != "none")
    if check_mode:
        title = "ML stack drift (check mode): %d of %d resources would change" % (changes, len(report_rows))
    else:
        title = "ML stack: %d of %d resources changed" % (changes, len(report_rows))
    lines = [list(COLUMNS)] + [
        [r["model"], r["resource"], r["name"], "ok" if r["action"] == "none" else r["action"],
         ", ".join(r["fields"]) if r["action"] != "none" else "in sync"]
        for r in report_rows]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return [title] + [("  ".join(cell.ljust(width) for cell, width in zip(line, widths)) + "  " + line[4]).strip()
                      for line in lines]


def report(stack, results, check_mode):
    """``{rows, drift, table}`` for the role's facts and its closing message."""
    report_rows = rows(stack, results)
    return {
        "rows": report_rows,
        "drift": any(r["action"] != "none" for r in report_rows),
        "table": table(report_rows, check_mode),
    }
