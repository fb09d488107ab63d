# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changing a connector that deployed models use: the zero-downtime replace, finishing a replace
that stopped halfway, and the in-place update around an undeploy."""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.common import ModuleFailure
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector_drift import full_spec
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector_lookup import search_connectors
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector_writes import (
    create_connector,
    delete_connector,
    rename_connector,
    update_connector,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.in_use import check_deletable, id_terms
from ansible_collections.polardb.polarsearch.plugins.module_utils.model import (
    deploy,
    models_using_connector,
    point_models_at,
    undeploy,
)

# Attempts at a replacement connector whose ID the server's in-use check tells apart from the old one.
DISTINCT_ID_ATTEMPTS = 3
DISCARDED_NAME = "%s (unused replacement)"
DISTINCT_ID_PAUSE = 1.1
REPLACE_HINT = ", or set on_deployed_models=redeploy to update this connector in place"


def set_aside(client, connector):
    """The replacements an earlier run set aside while the connector's models used it."""
    found = search_connectors(client, DISCARDED_NAME % connector.name)
    return [c for c in found if c.replaces == connector.connector_id]


def distinct_replacement(context, new, avoid, create, known):
    """(connector, discarded): a replacement whose ID shares no term with ``avoid`` (the old ID's
    terms and those of replacements set aside before), or the server would never let the old
    connector be deleted once the models use the new one.

    One that does share a term cannot be deleted either while the models still use the old
    connector: it is renamed out of the way (so no later run takes it for the replacement), deleted
    after the old connector, and another is created a moment later (the terms of an ID depend on
    the time it was made). ``known`` collects the set-aside IDs, so a retried create never takes
    one of them for its own.
    """
    avoid = set(avoid)
    name = new.name
    discarded = []
    for attempt in range(DISTINCT_ID_ATTEMPTS):
        shared = id_terms(new.connector_id) & avoid
        if not shared:
            return new, discarded
        known.append(new.connector_id)
        discarded.append(rename_connector(context, new, DISCARDED_NAME % name))
        avoid |= id_terms(new.connector_id)
        if attempt < DISTINCT_ID_ATTEMPTS - 1:
            context.sleep(DISTINCT_ID_PAUSE)
            new = create()
    raise ModuleFailure(
        "connector %s could not be replaced: each of the %d connector IDs the server gave shares a term "
        "(%s) with the old ID or an earlier one, and the server would refuse to delete a connector whose ID "
        "shares a term with one its models use. The models still use the old connector. The unused "
        "connectors %s, named %r, can be deleted once no model uses the old one. Set "
        "on_deployed_models=redeploy to update the connector in place" % (
            name, DISTINCT_ID_ATTEMPTS, ", ".join(repr(t) for t in sorted(shared)),
            ", ".join(c.connector_id for c in discarded), DISCARDED_NAME % name))


def replace_connector(context, current, desired, params, users, removals=()):
    """Create the desired connector, move every model to it, then delete the old one."""
    if not params.get("credential"):
        raise ModuleFailure("connector %s (%s) must be replaced, and its credential cannot be read back from "
                            "the server: set credential" % (current.name, current.connector_id))
    check_deletable(context.client, current, REPLACE_HINT if users and not removals else "")
    leftovers = set_aside(context.client, current)
    known = [current.connector_id] + [c.connector_id for c in leftovers]
    spec = full_spec(current, desired)

    def create():
        return create_connector(context, spec, params, replaces=current.connector_id, known_ids=known)

    new, discarded = create(), []
    if users:
        avoid = set()
        for connector_id in [current.connector_id] + [c.connector_id for c in leftovers]:
            avoid |= id_terms(connector_id)
        new, discarded = distinct_replacement(context, new, avoid, create, known)
    point_models_at(context, users, new.connector_id, params["wait_timeout"])
    delete_with_set_aside(context, current, leftovers + discarded)
    return new


def delete_with_set_aside(context, connector, aside=None):
    """Delete the connector, then the replacements set aside while its models used it (looked up
    when ``aside`` is not given)."""
    aside = set_aside(context.client, connector) if aside is None else aside
    delete_connector(context, connector)
    for other in sorted(aside, key=lambda c: c.connector_id):
        delete_connector(context, other)


def finish_replace(context, old, new, timeout):
    """Converge a replace that stopped halfway: models move to the new connector, the old one goes.
    Returns the models moved."""
    check_deletable(context.client, old, "")
    users = models_using_connector(context.client, old.connector_id)
    moved = point_models_at(context, users, new.connector_id, timeout)
    delete_with_set_aside(context, old)
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
    updated = update_connector(context, current, changes, params, rotate)
    for model in deployed:
        deploy(context, dict(model, model_state="UNDEPLOYED"), True, timeout)
    return updated
