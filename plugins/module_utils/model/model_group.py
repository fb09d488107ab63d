# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Model groups: lookup, create, update, delete, and the group a model is registered into.

The server's rules this follows (ML Commons ``MLModelGroupManager`` and the model-group transport
actions):

- Group names are unique: register searches ``name.keyword`` first and answers 400 "The name you
  provided is already being used ..." on a hit. The search and the write are not atomic, so two
  registers at the same moment can both succeed; both runs then agree on one winner (see
  ``identity.winner``) and the loser deletes the group it made.
- ``access_mode``, ``backend_roles`` and ``add_all_backend_roles`` are accepted only with model access
  control on (otherwise 400 "You cannot specify model access control parameters ..."); backend roles
  only with ``restricted``; ``backend_roles`` and ``add_all_backend_roles`` not together; a role the
  user does not have is refused (400 "You don't have the backend roles specified.") unless the user
  is an admin (role ``all_access``); an admin cannot use ``add_all_backend_roles``.
- An update with ``access_mode`` other than ``restricted`` clears the stored backend roles.
- Delete answers 409 while any model document (any function) names the group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.names import MANAGED_GROUP_DESCRIPTION
from ansible_collections.polardb.polarsearch.plugins.module_utils.core import snapshot
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError, answer_id
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import (
    ML,
    ModuleFailure,
    diff_of,
    drop_none,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.identity import settled_view, winner_by_key
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.plan import Step
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.settings import is_enabled

ACCESS_MODES = ("public", "private", "restricted")
ACCESS_FIELDS = ("access_mode", "backend_roles", "add_all_backend_roles")
MODEL_ACCESS_CONTROL = "plugins.ml_commons.model_access_control_enabled"
ADMIN_ROLE = "all_access"
NAME_TAKEN = "already being used"
# MLModelGroupManager: "The name you provided is already being used by a model group with ID: <id>."
TAKEN_ID = re.compile(r"model group with ID: ([A-Za-z0-9_-]+)")
AUTHINFO = "_plugins/_security/authinfo"
ASSOCIATED = "associated model versions"
# How long a group delete waits for the server to stop counting a model deleted (or moved) a moment ago.
REFRESH_WAIT = 30


# -- reading ----------------------------------------------------------------------------
def group_view(group_id, source):
    """The group as modules return it: option names, no owner details."""
    if source is None:
        return None
    view = {
        "model_group_id": group_id,
        "name": source.get("name"),
        "description": source.get("description"),
        "access_mode": source.get("access"),
        # No roles and an empty list mean the same: the server clears them to [] when the mode changes.
        "backend_roles": source.get("backend_roles") or None,
        "latest_version": source.get("latest_version"),
    }
    return drop_none(view)


def get_group(client, group_id):
    path = "%s/model_groups/%s" % (ML, group_id)
    source = snapshot.read(client, path, lambda: client.get(path, missing_ok=True))
    return group_view(group_id, source) if source else None


def groups_named(client, name):
    hits = snapshot.named(client, snapshot.MODEL_GROUPS, name, lambda: client.search(
        "%s/model_groups/_search" % ML, {"term": {"name.keyword": name}}))
    return [dict(group_view(hit["_id"], hit["_source"]), created_time=hit["_source"].get("created_time"))
            for hit in hits]


def find_group(client, name=None, group_id=None):
    """The group with ``group_id``, or the one named ``name`` (the oldest, should a race have made two)."""
    if group_id:
        return get_group(client, group_id)
    found = groups_named(client, name)
    if not found:
        return None
    return _public(winner_by_key(found, "model_group_id"))


def _public(group):
    return {k: v for k, v in group.items() if k != "created_time"}


def models_in_group(client, group_id):
    """Every model of the group, of any function (remote, text embedding, ...), by ID and name."""
    hits = client.search("%s/models/_search" % ML, {"term": {"model_group_id": group_id}}, size=1000)
    # A local model's weights are stored as chunk documents of the same group; count the model once.
    return [{"model_id": hit["_id"], "name": hit["_source"].get("name")} for hit in hits
            if "chunk_number" not in hit["_source"]]


def describe_models(models):
    return ", ".join("%s (%s)" % (m.get("name"), m["model_id"]) for m in models)


# -- validation (before any write) -------------------------------------------------------------
def validate(params):
    """The server's access-field rules, checked before anything is written."""
    mode = params.get("access_mode")
    roles = params.get("backend_roles")
    add_all = params.get("add_all_backend_roles")
    if mode is not None and mode not in ACCESS_MODES:
        raise ModuleFailure("access_mode must be one of %s, not %r" % (", ".join(ACCESS_MODES), mode))
    if roles and add_all:
        raise ModuleFailure("backend_roles and add_all_backend_roles cannot be used together: set one of them")
    if mode in ("public", "private") and (roles or add_all):
        raise ModuleFailure("backend_roles and add_all_backend_roles need access_mode: restricted (the server "
                            "accepts backend roles only for a restricted model group); access_mode is %s" % mode)


@dataclass(frozen=True)
class GroupRequest:
    """One model group as the task asks for it, read once from the module's options (only the options set;
    ``None`` for the others), after the input rules (``validate``)."""

    state: str
    name: str | None = None
    model_group_id: str | None = None
    description: str | None = None
    access_mode: str | None = None
    backend_roles: tuple | None = None
    add_all_backend_roles: bool | None = None

    @classmethod
    def from_params(cls, params):
        validate(params)
        roles = params.get("backend_roles")
        return cls(state=params.get("state") or "present", name=params.get("name"),
                   model_group_id=params.get("model_group_id"), description=params.get("description"),
                   access_mode=params.get("access_mode"), backend_roles=tuple(roles) if roles is not None else None,
                   add_all_backend_roles=params.get("add_all_backend_roles"))


def access_requested(request):
    return any(getattr(request, field) is not None for field in ACCESS_FIELDS)


def access_control_on(client):
    """Whether the cluster has model access control on (the setting; the security plugin is checked by
    ``user_info``)."""
    return is_enabled(client, MODEL_ACCESS_CONTROL)


def check_access_control(client, request):
    """Fail before any write when the server will refuse the access fields the user set."""
    if not access_requested(request):
        return None
    if not access_control_on(client):
        raise ModuleFailure("access_mode, backend_roles and add_all_backend_roles need the security plugin and %s: "
                            "true on the cluster; remove them, or turn model access control on" % MODEL_ACCESS_CONTROL)
    return user_info(client)


def user_info(client):
    """The calling user's backend roles and roles (security plugin ``authinfo``), or None without it."""
    try:
        info = snapshot.read(client, AUTHINFO, lambda: client.get(AUTHINFO, missing_ok=True))
    except PolarSearchError as exc:
        # Without the security plugin the path has no handler: 400 "no handler found for uri".
        if exc.status == 400:
            return None
        raise
    if not isinstance(info, dict):
        return None
    return {"name": info.get("user_name"), "backend_roles": list(info.get("backend_roles") or []),
            "admin": ADMIN_ROLE in (info.get("roles") or [])}


def check_roles(request, user):
    roles = request.backend_roles
    if user is None:
        return
    if request.add_all_backend_roles and user["admin"]:
        raise ModuleFailure("add_all_backend_roles cannot be used by an admin user (%s): list backend_roles instead"
                            % user["name"])
    if request.add_all_backend_roles and not user["backend_roles"]:
        raise ModuleFailure("add_all_backend_roles: user %s has no backend roles" % user["name"])
    if roles and not user["admin"]:
        missing = sorted(set(roles) - set(user["backend_roles"]))
        if missing:
            raise ModuleFailure("backend_roles %s: user %s does not have %s (the server accepts only the user's own "
                                "backend roles: %s)" % (", ".join(roles), user["name"], ", ".join(missing),
                                                        ", ".join(user["backend_roles"]) or "none"))


def wanted_roles(request, user):
    if request.add_all_backend_roles:
        return sorted(user["backend_roles"]) if user else None
    if request.backend_roles is not None:
        return sorted(request.backend_roles)
    return None


# -- writes ----------------------------------------------------------------------------------
def group_changes(request, group, user):
    """The fields of ``group`` that differ from the options the user set (unset options are left alone)."""
    changes = {}
    if request.model_group_id and request.name and request.name != group.get("name"):
        changes["name"] = request.name
    if request.description is not None and request.description != group.get("description"):
        changes["description"] = request.description
    mode = request.access_mode
    if request.add_all_backend_roles or request.backend_roles is not None:
        mode = mode or "restricted"
    if mode is not None and mode != group.get("access_mode"):
        changes["access_mode"] = mode
    roles = wanted_roles(request, user)
    current = sorted(group.get("backend_roles") or [])
    if roles is not None and roles != current:
        if request.add_all_backend_roles:
            changes["add_all_backend_roles"] = True
        else:
            changes["backend_roles"] = list(request.backend_roles)
    if changes.get("access_mode") == "restricted" and "backend_roles" not in changes \
            and "add_all_backend_roles" not in changes and mode == request.access_mode:
        # The server needs the roles again with a change to restricted.
        if request.backend_roles is not None:
            changes["backend_roles"] = list(request.backend_roles)
        elif request.add_all_backend_roles:
            changes["add_all_backend_roles"] = True
    return changes


def predicted_group(group, changes, user):
    new = dict(group, **{k: v for k, v in changes.items() if k in ("name", "description", "access_mode")})
    if "backend_roles" in changes:
        new["backend_roles"] = list(changes["backend_roles"])
    if changes.get("add_all_backend_roles") and user:
        new["backend_roles"] = list(user["backend_roles"])
    if changes.get("access_mode") in ("public", "private"):
        new.pop("backend_roles", None)
    return new


def update_group(context, group, changes, user):
    predicted = predicted_group(group, changes, user)

    def run():
        context.client.put("%s/model_groups/%s" % (ML, group["model_group_id"]), body=changes)
        return get_group(context.client, group["model_group_id"]) or predicted

    step = Step("update", "model_group", name=group.get("name"), id=group["model_group_id"],
                fields=tuple(sorted(changes)))
    return context.act(step, run, predicted)


def create_group(context, body, user=None):
    """Register the group ``body`` describes; a name another run took at the same moment is adopted."""
    name = body["name"]
    predicted = predicted_group({"name": name, "latest_version": 0},
                                {k: v for k, v in body.items() if k != "name"}, user)
    if body.get("backend_roles") or body.get("add_all_backend_roles"):
        predicted.setdefault("access_mode", "restricted")
    elif "access_mode" not in predicted:
        # The server's default: private with model access control, public without.
        predicted["access_mode"] = "private" if access_control_on(context.client) else "public"

    def lookup():
        found = find_group(context.client, name=name)
        return {"model_group_id": found["model_group_id"]} if found else None

    def run():
        try:
            answer = context.client.post("%s/model_groups/_register" % ML, body=body, lookup=lookup)
        except PolarSearchError as exc:  # a concurrent run registered the name first: use that group
            if exc.status == 400 and NAME_TAKEN in str(exc):
                found = adopt_taken_name(context, name, exc)
                if found:
                    return found
            raise
        return settle_duplicate_groups(context, name, answer_id(answer, "model_group_id",
                                                                "POST %s/model_groups/_register" % ML))

    fields = tuple(sorted(k for k in body if k != "name"))
    return context.act(Step("create", "model_group", name=name, fields=fields), run, predicted)


def settle_duplicate_groups(context, name, own_id):
    """After a create: if a concurrent run made a group of the same name, keep the winner.

    Every run picks the same winner (oldest, then smallest ID); a run whose own group lost
    deletes it (it is new and empty) and uses the winner. The run decides once its own group shows in
    a search and the search stayed the same for a moment (``identity.settled_view``).
    """
    path = "%s/model_groups/%s" % (ML, own_id)
    found = settled_view(context, "model group", name, own_id, lambda: groups_named(context.client, name),
                         lambda g: g["model_group_id"], gone=lambda: context.client.get(path, missing_ok=True) is None)
    if found is not None and not any(g["model_group_id"] == own_id for g in found):
        # another run settled the name first and deleted this run's group, which lost there
        if not found:
            raise ModuleFailure("model group %s (%s), which this run created, was deleted by another run and no "
                                "group named %s is left: run again" % (name, own_id, name))
        return _public(winner_by_key(found, "model_group_id"))
    found = found or ()
    if len(found) < 2:
        return get_group(context.client, own_id) or {"model_group_id": own_id, "name": name}
    best = winner_by_key(found, "model_group_id")
    if best["model_group_id"] != own_id:
        context.act(Step("delete", "model_group", name=name, id=own_id),
                    lambda: context.client.delete("%s/model_groups/%s" % (ML, own_id)))
    return _public(best)


def adopt_taken_name(context, name, exc):
    """The group to use when the server refused a register because another run registered ``name`` a
    moment before: its answer names that group's ID, which a search may not show yet. The run waits
    until it does and the search stayed the same (``identity.settled_view``), and takes the group every
    run keeps; without an ID in the answer, the group a search by name finds."""
    match = TAKEN_ID.search(str(exc))
    if not match:
        return find_group(context.client, name=name)
    taken = match.group(1)
    path = "%s/model_groups/%s" % (ML, taken)
    view = settled_view(context, "model group", name, taken, lambda: groups_named(context.client, name),
                        lambda g: g["model_group_id"], gone=lambda: context.client.get(path, missing_ok=True) is None)
    if view:
        return _public(winner_by_key(view, "model_group_id"))
    return find_group(context.client, name=name)


def in_group(client, model_id, group_id):
    """Whether the model is in the group by a GET, which sees a delete or a move at once."""
    try:
        model = client.get("%s/models/%s" % (ML, model_id), missing_ok=True)
    except PolarSearchError:
        return True   # cannot tell (for example a model this user may not read): count it
    return bool(model) and model.get("model_group_id") == group_id


def models_left(client, group_id, gone=()):
    """The models still in the group. A search of the models index still finds a model deleted or moved
    a moment ago (the server deletes without a refresh; the index refreshes about once a second), so
    each hit is confirmed by a GET; ``gone`` are models this run just deleted or moved away."""
    return [m for m in models_in_group(client, group_id)
            if m["model_id"] not in gone and in_group(client, m["model_id"], group_id)]


def delete_group(context, group, gone=(), timeout=REFRESH_WAIT):
    """Delete the group. The server refuses (409 "... has associated model versions") while its search
    of the models index still counts a model deleted or moved a moment ago (seen on 2.19.1 right after
    the model's DELETE; 200 about a second later); that refusal is waited out for up to ``timeout``
    seconds. A 409 while another model is in the group is raised at once."""
    gid = group["model_group_id"]
    path = "%s/model_groups/%s" % (ML, gid)

    def attempt():
        try:
            return context.client.delete(path) or {}
        except PolarSearchError as exc:
            if exc.status == 409 and ASSOCIATED in str(exc) and not models_left(context.client, gid, gone):
                return None
            raise

    def run():
        return context.wait_for("the server to see that model group %s holds no model any more" % gid,
                                attempt, timeout)

    context.act(Step("delete", "model_group", name=group.get("name"), id=gid), run)


# -- the group a model goes into ----------------------------------------------------------------
def group_for_model(context, model_name, group_name=None, group_id=None, description=None):
    """The group a model is registered into: ``group_id``, or the group ``group_name`` (created when
    missing), or, with neither, the group named after the model, as the server itself would use.

    Returns the group (``model_group_id`` is ``None`` in check mode for a group still to be created).
    """
    if group_id:
        group = get_group(context.client, group_id)
        if group is None:
            raise ModuleFailure("model_group_id %s does not exist: create it (polarsearch_model_group) or set "
                                "model_group to a name" % group_id)
        return group
    name = group_name or model_name
    group = find_group(context.client, name=name)
    if group is not None:
        return group
    body = {"name": name, "description": description or MANAGED_GROUP_DESCRIPTION}
    return create_group(context, body)


def is_owned(group, model):
    """A group this collection may remove with its last model: made by this collection (marker
    description), or made by the server for the model. TransportRegisterModelAction makes that group
    with the model's name and the model's description (none when the model has none), so a group
    named like the model with a description of its own was made by hand, and stays."""
    if group.get("description") == MANAGED_GROUP_DESCRIPTION:
        return True
    return group.get("name") == model.get("name") and (group.get("description") or None) == (
        model.get("description") or None)


def delete_group_if_left_empty(context, group_id, model, timeout=REFRESH_WAIT):
    """Delete the group ``model`` leaves (moved or deleted) when it is owned and no other model is in it.

    A model that joins the group at the same moment keeps it: the server's refusal then ends the
    attempt, and the group stays in use.
    """
    if not group_id:
        return
    group = get_group(context.client, group_id)
    if not group or not is_owned(group, model):
        return
    gone = {model.get("model_id")}
    if models_left(context.client, group_id, gone):
        return
    try:
        delete_group(context, group, gone, timeout)
    except PolarSearchError as exc:
        if exc.status != 409 or ASSOCIATED not in str(exc):
            raise


# -- the module -----------------------------------------------------------------------------
def ensure_model_group(params, context):
    """The module's entry: the options become a :class:`GroupRequest` once; ``converge_group`` takes it."""
    return converge_group(GroupRequest.from_params(params), context)


def converge_group(request, context):
    """Converge one model group: delete it (``absent``: only when it holds no model), create it, or
    change the fields the request sets."""
    client = context.client
    group = find_group(client, name=request.name, group_id=request.model_group_id)
    if request.model_group_id and group is None and request.state != "absent":
        raise ModuleFailure("model_group_id %s does not exist: remove model_group_id to create a group by name"
                            % request.model_group_id)
    before = dict(group) if group else None

    if request.state == "absent":
        if group is not None:
            models = models_left(client, group["model_group_id"])
            if models:
                raise ModuleFailure("model group %s (%s) still holds model(s) %s: delete them or move them to another "
                                    "group first" % (group.get("name"), group["model_group_id"],
                                                     describe_models(models)),
                                    models=[m["model_id"] for m in models])
            delete_group(context, group)
        return {"model_group": {}, "diff": diff_of(before, None)}

    user = check_access_control(client, request)
    check_roles(request, user)
    if group is None:
        if request.access_mode == "restricted" and not request.backend_roles \
                and not request.add_all_backend_roles:
            raise ModuleFailure("access_mode restricted needs backend_roles or add_all_backend_roles")
        body = {"name": request.name}
        for field in ("description",) + ACCESS_FIELDS:
            value = getattr(request, field)
            if value is not None:
                body[field] = list(value) if isinstance(value, tuple) else value
        if body.get("add_all_backend_roles") is False:
            body.pop("add_all_backend_roles")
        group = create_group(context, body, user)
    else:
        changes = group_changes(request, group, user)
        if changes.get("access_mode") == "restricted" and "backend_roles" not in changes \
                and "add_all_backend_roles" not in changes:
            raise ModuleFailure("access_mode restricted needs backend_roles or add_all_backend_roles (the server "
                                "refuses a change to restricted without them)")
        if changes:
            group = update_group(context, group, changes, user)
    after = _public(dict(group))
    return {"model_group": after, "model_group_id": after.get("model_group_id"), "diff": diff_of(before, after)}
