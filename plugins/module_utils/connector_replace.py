# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changing a connector that deployed models use: the zero-downtime replace, finishing a replace
that stopped halfway, and the in-place update around an undeploy."""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.names import SET_ASIDE_NAME
from ansible_collections.polardb.polarsearch.plugins.module_utils.common import ModuleFailure
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector_drift import full_spec
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector_lookup import search_connectors
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector_writes import (
    create_connector,
    delete_connector,
    rename_connector,
    update_connector,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.in_use import (
    check_deletable,
    delete_blockers,
    id_terms,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model import (
    deploy,
    is_deployed,
    models_using_connector,
    point_models_at,
    undeploy,
)

# Attempts at a replacement connector whose ID the server's in-use check tells apart from the old one.
DISTINCT_ID_ATTEMPTS = 3
DISCARDED_NAME = SET_ASIDE_NAME
DISTINCT_ID_PAUSE = 1.1
REPLACE_HINT = ", or set on_deployed_models=redeploy to update this connector in place"


def set_aside(client, connector):
    """The replacements an earlier run set aside while the connector's models used it."""
    found = search_connectors(client, DISCARDED_NAME % connector.name)
    return [c for c in found if c.replaces == connector.connector_id]


def distinct_replacement(context, name, avoid, create, known):
    """(connector, discarded): a replacement whose ID shares no term with ``avoid`` (the old ID's
    terms and those of replacements set aside before), renamed to ``name``.

    The server compares connector IDs as analyzed text, on update and on delete: a replacement whose
    ID shares a term with the old one's could never let the old connector be deleted once the
    models use it, and could not even be renamed while the models still use the old one. So each
    replacement is created under the set-aside name (no later run takes it for the connector), and
    only one whose ID the server tells apart is renamed to ``name``; the others stay set aside, are
    deleted after the old connector, and another is created a moment later (the terms of an ID
    depend on the time it was made). ``known`` collects the set-aside IDs, so a retried create
    never takes one of them for its own.
    """
    avoid = set(avoid)
    discarded = []
    for attempt in range(DISTINCT_ID_ATTEMPTS):
        if attempt:
            context.sleep(DISTINCT_ID_PAUSE)
        new = create()
        shared = id_terms(new.connector_id) & avoid
        if not shared and not rename_blockers(context.client, new):
            return rename_connector(context, new, name), discarded
        known.append(new.connector_id)
        discarded.append(new)
        avoid |= id_terms(new.connector_id)
    raise ModuleFailure(
        "connector %s could not be replaced: each of the %d connector IDs the server gave shares a term "
        "(%s) with the old ID, an earlier one or a deployed model's connector ID, and the server refuses to "
        "update or delete a connector whose ID shares a term with one its models use. The models still use "
        "the old connector. The unused connectors %s, named %r, are deleted with it, or by the next replace. "
        "Set on_deployed_models=redeploy to update the connector in place" % (
            name, DISTINCT_ID_ATTEMPTS, ", ".join(repr(t) for t in sorted(shared)) or "none",
            ", ".join(c.connector_id for c in discarded), DISCARDED_NAME % name))


def rename_blockers(client, connector):
    """Deployed models the server would count as users of a new connector (look-alike IDs)."""
    if connector.connector_id is None:
        return []
    return [m for m in delete_blockers(client, connector.connector_id) if is_deployed(m)]


def replace_connector(context, current, desired, params, users, removals=()):
    """Create the desired connector, move every model to it, then delete the old one."""
    if not params.get("credential"):
        raise ModuleFailure("connector %s (%s) must be replaced, and its credential cannot be read back from "
                            "the server: set credential" % (current.name, current.connector_id))
    check_deletable(context.client, current, REPLACE_HINT if users and not removals else "")
    leftovers = set_aside(context.client, current)
    known = [current.connector_id] + [c.connector_id for c in leftovers]
    spec = full_spec(current, desired)
    if users:
        avoid = set()
        for connector_id in known:
            avoid |= id_terms(connector_id)
        aside = dict(spec, name=DISCARDED_NAME % spec["name"])
        new, discarded = distinct_replacement(
            context, spec["name"], avoid,
            lambda: create_connector(context, aside, params, replaces=current.connector_id, known_ids=known), known)
    else:
        new, discarded = create_connector(context, spec, params, replaces=current.connector_id, known_ids=known), []
    point_models_at(context, users, new.connector_id, params["wait_timeout"])
    delete_with_set_aside(context, current, leftovers + discarded, users, params["wait_timeout"])
    return new


def delete_with_set_aside(context, connector, aside=None, moved=(), timeout=0):
    """Delete the connector (waiting, up to ``timeout``, while the server still counts the ``moved``
    models as its users), then the replacements set aside while its models used it (looked up when
    ``aside`` is not given)."""
    aside = set_aside(context.client, connector) if aside is None else aside
    delete_connector(context, connector, [m["model_id"] for m in moved], timeout)
    for other in sorted(aside, key=lambda c: c.connector_id):
        delete_connector(context, other)


def finish_replace(context, old, new, timeout):
    """Converge a replace that stopped halfway: models move to the new connector, the old one goes.
    Returns the models moved."""
    check_deletable(context.client, old, "")
    users = models_using_connector(context.client, old.connector_id)
    moved = point_models_at(context, users, new.connector_id, timeout)
    delete_with_set_aside(context, old, moved=users, timeout=timeout)
    return moved


def users_of(context, connector, moved=()):
    """Models that use the connector, including those a finished replace just moved to it (check mode)."""
    users = {m["model_id"]: m for m in moved}
    users.update((m["model_id"], m) for m in models_using_connector(context.client, connector.connector_id))
    return sorted(users.values(), key=lambda m: m["model_id"])


def redeploy_update(context, current, changes, params, deployed, rotate):
    timeout = params["wait_timeout"]
    for model in deployed:
        undeploy(context, model, True, timeout)
    try:
        updated = update_connector(context, current, changes, params, rotate)
    finally:
        # Also when the update failed: never leave a model undeployed because a later step failed.
        for model in deployed:
            deploy(context, dict(model, model_state="UNDEPLOYED"), True, timeout)
    return updated
