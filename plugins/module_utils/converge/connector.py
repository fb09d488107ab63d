# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converging one connector: the one place that decides what to write."""

from __future__ import annotations

from dataclasses import replace

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import server_rules
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ModuleFailure, diff_of
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_drift import compute_drift
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_lookup import (
    Found,
    collection_made,
    find_by_name,
    get_connector,
    pick,
    search_connectors,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_record import public
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_request import SET, ConnectorRequest
from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.connector_replace import (
    delete_or_set_aside,
    delete_pending,
    deployed_now,
    finish_replace,
    redeploy_update,
    replace_connector,
    users_of,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_rules import (
    MCP_PROTOCOLS,
    MCP_SETTING,
    check_protocol_fields,
    check_url_parameters,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_writes import (
    create_connector,
    delete_connector,
    update_connector,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.identity import settled_view
from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.in_use import (
    check_updatable,
    hidden_deployed_users,
    hidden_users_failure,
    id_terms,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import (
    is_deployed,
    label,
    models_using_connector,
    point_models_at,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.settings import is_enabled
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.stack_twins import connectors_of_one_stack


def find(context, request):
    """The connector the request names; an unfinished replace is finished first (``Found.moved``)."""
    if request.connector_id:
        connector = get_connector(context.client, request.connector_id)
        if connector is None and request.state != "absent":
            raise ModuleFailure("connector_id %s does not exist: remove connector_id to create the connector "
                                "by name" % request.connector_id)
        return Found(connector)
    found = find_by_name(context.client, request.name, any_duplicates=request.duplicates == "keep_one")
    if found.duplicates:
        found = keep_one(context, found, request)
    if found.replaced is not None:
        moved = finish_replace(context, found.replaced, found.connector, request.wait_timeout)
        return replace(found, moved=tuple(moved))
    return found


def keep_one(context, found, request):
    """Same-named connectors this collection made (runs at the same time each created one), or any
    with ``duplicates: keep_one``: keep the one a model uses, else the winner; delete the others,
    which no model uses. Two or more in use fail, naming their IDs, and nothing is deleted, unless
    they are copies of one stack's connector (``stack_twins``): then the oldest stays and the models
    of the others move to it."""
    everyone = (found.connector,) + tuple(found.duplicates)
    if len(found.in_use) > 1 and connectors_of_one_stack(context.client, everyone, request):
        return settle_twins(context, everyone, request)
    if len(found.in_use) > 1:
        ids = sorted(c.connector_id for c in found.in_use)
        raise ModuleFailure("%d connectors are named %r and models use each of them (IDs: %s): set connector_id "
                            "to the one to manage" % (len(ids), found.connector.name, ", ".join(ids)), ids=ids)
    for other in sorted(found.duplicates, key=lambda c: c.connector_id):
        delete_or_set_aside(context, other, leave=True)
    return Found(found.connector)


def settle_twins(context, connectors, request):
    """Keep the oldest of same-named connectors that are copies of one (``identity.winner``): point the
    models of each other one at it, then delete the other.

    Copies made at the same moment can have IDs that share a term (``core.generated_ids``). The server
    would then count the models moved to the oldest as users of the others and never let them be
    deleted; so every model moves instead to a replacement whose ID shares no term with any of them
    (``replace_connector``), and all the copies go."""
    timeout = request.wait_timeout
    chosen = pick(connectors)
    others = sorted((c for c in connectors if c.connector_id != chosen.connector_id), key=lambda c: c.connector_id)
    if any(id_terms(other.connector_id) & id_terms(chosen.connector_id) for other in others):
        users = {}
        for connector in [chosen] + others:
            users.update((m["model_id"], m) for m in models_using_connector(context.client, connector.connector_id))
        moved = sorted(users.values(), key=lambda m: m["model_id"])
        new = replace_connector(context, chosen, request.desired(), request, moved)
        for other in others:
            delete_or_set_aside(context, other, moved=moved, timeout=timeout)
        return Found(new)
    for other in others:
        users = models_using_connector(context.client, other.connector_id)
        point_models_at(context, users, chosen.connector_id, timeout)
        delete_connector(context, other, moved=[m["model_id"] for m in users], timeout=timeout)
    return Found(chosen)


def converge_after_create(context, created):
    """After a create, when another run created the same connector at the same time: every run
    keeps the winner; a run whose own connector lost deletes it (nothing uses it yet). The run
    decides once its own connector shows in a search and the search stayed the same for a moment
    (``identity.settled_view``)."""
    if created.connector_id is None:
        return created
    view = settled_view(context, "connector", created.name, created.connector_id,
                        lambda: search_connectors(context.client, created.name), lambda c: c.connector_id,
                        gone=lambda: get_connector(context.client, created.connector_id) is None)
    made = [c for c in view or () if collection_made(c)]
    if view is not None and not any(c.connector_id == created.connector_id for c in view):
        # another run settled the name first and deleted this run's connector, which lost there
        if not made:
            raise ModuleFailure("connector %s (%s), which this run created, was deleted by another run and no "
                                "connector named %s is left: run again" % (created.name, created.connector_id,
                                                                           created.name))
        return pick(made)
    if len(made) < 2 or not any(c.connector_id == created.connector_id for c in made):
        return created
    chosen = pick(made)
    if chosen.connector_id == created.connector_id:
        return created
    delete_or_set_aside(context, created, leave=True)
    return chosen


def ensure_connector(params, context):
    """The module's entry: the options become a :class:`ConnectorRequest` once; ``converge`` takes it."""
    return converge(ConnectorRequest.from_params(params), context)


def converge(request, context):
    """Make the connector what ``request`` asks for. The decisions, in order: which connector it is
    (``find``), whether it goes (``absent``), is created, stays, or changes; and a change is made in
    place, in place around an undeploy of its models (``redeploy``), or by a replace (a new connector
    the models move to), as ``on_deployed_models`` and the fields that changed decide."""
    found = find(context, request)
    current = found.connector
    # A run that finishes an interrupted replace shows the connector it replaced as "before".
    before = public(found.replaced or current)
    if request.state == "absent":
        return remove(context, request, current, found.moved, before)
    if request.by_name:
        # connectors an earlier run set aside for this name (look-alike IDs), once the server allows
        delete_pending(context, request.name, cached_only=True)

    protocol = request.spec.get("protocol") or (current.protocol if current else "http")
    check_protocol_fields(request.options, protocol)
    server_rules.check_connector(context.client, request.options)
    desired = request.desired()
    if current is None:
        check_creatable(context.client, request.options, protocol)
        if request.add_all_backend_roles:
            desired["add_all_backend_roles"] = True
        created = converge_after_create(context, create_connector(context, desired, request))
        after = dict(public(created), credential=SET) if request.credential else public(created)
        return dict(result(created, before, after, []), action="create")

    changes, removals = compute_drift(desired, current, rename=bool(request.connector_id))
    users = users_of(context, current, found.moved)
    credential = request.credential_plan(current, [m for m in users if is_deployed(m)])
    if not changes and not removals and not credential.write:
        # a replace an earlier run left halfway, finished by ``find``, counts as this run's replace
        return dict(shown_result(current, before, users, credential, sent=False),
                    action="replace" if found.replaced else "none")

    # Which models are deployed decides the path: a search can show a model's state from before its
    # last deploy or undeploy (2.19.1), a GET is real time.
    deployed = deployed_now(context, users)
    if deployed and request.on_deployed_models == "fail":
        fields = sorted(set(changes) | set("parameters.%s (remove)" % k for k in removals) | (
            {"credential"} if credential.write else set()))
        raise ModuleFailure("connector %s (%s) needs changes (%s) but deployed model(s) %s use it: undeploy them, "
                            "or set on_deployed_models to replace or redeploy" % (
                                current.name, current.connector_id, ", ".join(fields),
                                ", ".join(label(m) for m in deployed)),
                            models=[m["model_id"] for m in deployed])
    replaced = bool(removals or (deployed and request.on_deployed_models == "replace"))
    if replaced:
        updated = replace_connector(context, current, desired, request, users, removals)
    else:
        # The server refuses an update in place while a deployed model matches the ID as text.
        check_updatable(context.client, current, [m["model_id"] for m in deployed])
        if deployed:
            # all or nothing: a deployed model the caller cannot see would make the update fail after
            # the caller's models were undeployed
            hidden, count = hidden_deployed_users(context, current, deployed)
            if count:
                raise hidden_users_failure(
                    context.client, current, hidden, count, "updated in place (on_deployed_models=redeploy)",
                    refuses="the server refuses to update a connector while any deployed model uses it, so the run "
                            "would undeploy the caller's models and then fail")
            updated = redeploy_update(context, current, changes, request, deployed, credential.write)
        else:
            updated = update_connector(context, current, changes, request, credential.write)
    return dict(shown_result(updated, before, users, credential, sent=credential.write or replaced),
                action="replace" if replaced else "update")


def remove(context, request, current, moved, before):
    """``state: absent``: delete the connector unless models use it, and the connectors an earlier run
    set aside for its name."""
    if current is None:
        if request.by_name:
            delete_pending(context, request.name)
        return {"connector": {}, "diff": diff_of(before, None), "action": "none"}
    users = users_of(context, current, moved)
    if users:
        raise ModuleFailure("connector %s (%s) is used by model(s) %s: delete or re-point those models first" % (
            current.name, current.connector_id, ", ".join(label(m) for m in users)),
            models=[m["model_id"] for m in users])
    delete_or_set_aside(context, current)
    if request.by_name:
        delete_pending(context, request.name)
    return {"connector": {}, "connector_id": current.connector_id, "diff": diff_of(before, None), "action": "delete"}


def shown_result(connector, before, users, credential, sent):
    """The result of a run that kept or changed a connector (now ``connector``), the credential shown
    as a state (``CredentialPlan.shown``) and never as a value."""
    after = public(connector)
    states = credential.shown(sent)
    if states is not None:
        before, after = dict(before, credential=states[0]), dict(after, credential=states[1])
    return dict(result(connector, before, after, [m["model_id"] for m in users]),
                credential_compared=credential.compared(sent))


def check_creatable(client, params, protocol):
    """Fail, before any write, on a create the server would refuse for a missing field or setting."""
    if protocol not in MCP_PROTOCOLS:
        if not params.get("actions"):
            raise ModuleFailure("actions is required to create connector %r: give at least one predict action"
                                % params.get("name"))
        for index, action in enumerate(params["actions"]):
            check_url_parameters("actions[%d]." % index, action, params.get("parameters") or {})
        return
    if not params.get("url"):
        raise ModuleFailure("url is required to create %s connector %r: set url" % (protocol, params.get("name")))
    if not is_enabled(client, MCP_SETTING):
        raise ModuleFailure("the server refuses %s connectors while %s is false: set it to true first (with "
                            "polardb.polarsearch.polarsearch_cluster_settings)" % (protocol, MCP_SETTING))


def result(connector, before, after, model_ids):
    shown = public(connector)
    return {"connector": shown, "connector_id": shown.get("connector_id"), "models": model_ids,
            "diff": diff_of(before, after)}
