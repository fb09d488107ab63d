# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server's in-use checks on connectors, modelled so a refusal is predicted before any write.

ML Commons finds the models of a connector with a ``match`` query on the models' ``connector_id``,
a text field: a model whose connector ID only shares a term with a connector's ID counts as its user.
"""

from __future__ import annotations

import re

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ML, ModuleFailure
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import is_deployed, label, model_view
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_group import user_info

IN_USE_REFUSAL = re.compile(r"(\d+) models are still using this connector")


def id_terms(value):
    """The terms the standard analyzer makes of an ID: split at '-' (any character but a letter,
    a digit or '_'), lower-cased."""
    return {term.lower() for term in re.split(r"[^0-9A-Za-z_]+", value or "") if term.strip("_")}


def delete_blockers(client, connector_id):
    """The models the server counts as users of the connector when asked to delete it.

    ML Commons (DeleteConnectorTransportAction) finds them with a ``match`` query on the models'
    ``connector_id``: a model whose connector ID only shares a term with this one (see ``id_terms``)
    is counted too, and the delete is refused with HTTP 409.
    """
    hits = client.search("%s/models/_search" % ML, {"match": {"connector_id": connector_id}}, size=1000)
    return [model_view(hit["_id"], hit["_source"]) for hit in hits]


def check_updatable(client, connector, undeployed_first=()):
    """Fail, before anything is written, when the server would refuse to update ``connector`` in place.

    ML Commons (UpdateConnectorTransportAction) refuses while a deployed model matches the connector
    ID as analyzed text, like the delete; ``undeployed_first`` are the models the run undeploys
    before the update.
    """
    cid = connector.connector_id
    blockers = sorted((m for m in delete_blockers(client, cid)
                       if is_deployed(m) and m["model_id"] not in undeployed_first), key=lambda m: m["model_id"])
    if not blockers:
        return
    raise ModuleFailure(
        "connector %s (%s) cannot be updated: the server counts deployed model(s) %s as its users%s, because "
        "ML Commons compares connector IDs as analyzed text, and refuses the update while they are deployed. "
        "Nothing was changed. Undeploy those models, or re-point them to another connector, first" % (
            connector.name, cid, ", ".join("%s (%s)" % (label(m), m["model_id"]) for m in blockers),
            shared_terms_text(blockers, cid)),
        models=[m["model_id"] for m in blockers])


def shared_terms_text(models, connector_id):
    shared = set()
    for model in models:
        shared |= id_terms(model.get("connector_id")) & id_terms(connector_id)
    return " (shared term %s)" % ", ".join(repr(t) for t in sorted(shared)) if shared else ""


def not_deletable(connector, others, hint):
    """The failure of a connector the server will not delete because of ``others``, models of other
    connectors whose IDs share a term with its ID."""
    cid = connector.connector_id
    others = sorted(others, key=lambda m: m["model_id"])
    return ModuleFailure(
        "connector %s (%s) cannot be deleted: the server counts model(s) %s as its users, though they use "
        "connector(s) %s, because ML Commons compares connector IDs as analyzed text%s. Nothing was changed. "
        "Delete those models or re-point them to another connector first%s" % (
            connector.name, cid, ", ".join("%s (%s)" % (label(m), m["model_id"]) for m in others),
            ", ".join(sorted(set(str(m.get("connector_id")) for m in others))),
            shared_terms_text(others, cid), hint),
        models=[m["model_id"] for m in others])


# -- models the caller cannot see -------------------------------------------------------------------
# With model access control, a non-admin user's model _search leaves out the models of model groups it
# may not access, while ML Commons' connector delete (DeleteConnectorTransportAction) runs its in-use
# search in a stashed thread context, which sees every model, and names them all in its 409: "2 models
# are still using this connector, please delete or update the models first: [id1, id2]" (observed on
# the secure 2.19.1 profile, where a replace then left two same-named connectors).


def sees_every_model(client):
    """True when the caller's searches find every model: no security plugin, or an admin (all_access)."""
    user = user_info(client)
    return user is None or bool(user["admin"])


def refusal_users(exc, statuses=(409,)):
    """(model IDs, count) an in-use refusal names (by default the 409 of a connector delete; an update's
    is 400, or 500 before 2.12), or None for another error."""
    reason = str(getattr(exc, "reason", None) or exc)
    counted = IN_USE_REFUSAL.search(reason)
    if getattr(exc, "status", None) not in statuses or not counted:
        return None
    tail = reason.rsplit(":", 1)[-1] if "[" in reason else ""
    return set(re.findall(r"[A-Za-z0-9_-]{8,}", tail)), int(counted.group(1))


def not_seen(found, seen):
    """Of the users a refusal names (``refusal_users``), those not in ``seen``: (model IDs, how many); the count
    alone when the refusal names none."""
    named, count = found
    if named:
        return named - seen, len(named - seen)
    return set(), max(0, count - len(seen))


def unseen_users(context, connector, visible):
    """The users of ``connector`` the caller cannot see, as the server's own in-use check names them:
    (model IDs, how many), empty when the caller sees every model.

    ``visible`` are the models the caller's search finds using the connector (its ``match`` on the
    connector ID, the one the server's check runs); at least one is needed. The server is asked by a
    DELETE of the connector, which it refuses (409) while any model matches, naming every model its
    check found, the hidden ones too; nothing is written. Should the DELETE pass after all (the visible
    models were deleted or moved away meanwhile), the connector had no user left and is gone: the run
    fails saying so, and the next run creates it again.
    """
    if not visible or sees_every_model(context.client):
        return set(), 0
    cid = connector.connector_id
    seen = set(m["model_id"] for m in visible) | set(m["model_id"] for m in delete_blockers(context.client, cid))
    try:
        context.client.delete("%s/connectors/%s" % (ML, cid))
    except PolarSearchError as exc:
        found = refusal_users(exc)
        if found is None:
            raise
        return not_seen(found, seen)
    context.accepted()
    raise ModuleFailure("connector %s (%s) was deleted: asked whether models the caller cannot see use it, the server "
                        "found no model using it any more (the models that used it were deleted or moved "
                        "meanwhile). Run again to create it" % (connector.name, cid))


def hidden_deployed_users(context, connector, deployed):
    """The deployed models the caller cannot see that the server counts as users of ``connector``:
    (model IDs, how many), empty when the caller sees every model.

    ML Commons (UpdateConnectorTransportAction) refuses an update in place while any deployed model
    matches the connector (400 ``N models are still using this connector, please undeploy the models
    first: [ids]``), hidden ones too, so a redeploy would undeploy the caller's models and then fail.
    The server is asked by a PUT of the connector's own name while ``deployed`` (the caller's deployed
    models that use it; none for a replace of a connector the caller sees no model use) are still
    deployed: it refuses, naming every deployed model its check found, and nothing is written. When no
    deployed model uses the connector the PUT passes and renames the connector to the name it has.
    Check mode and the real run ask alike.
    """
    if sees_every_model(context.client):
        return set(), 0
    cid = connector.connector_id
    try:
        context.client.put("%s/connectors/%s" % (ML, cid), body={"name": connector.name})
    except PolarSearchError as exc:
        found = refusal_users(exc, statuses=(400, 500))
        if found is None:
            raise
        seen = set(m["model_id"] for m in deployed) | set(
            m["model_id"] for m in delete_blockers(context.client, cid) if is_deployed(m))
        return not_seen(found, seen)
    return set(), 0


def hidden_users_failure(client, connector, unseen, count, what, nothing_changed=True, refuses=None):
    """The failure of a change the server would refuse because of models the caller cannot see;
    ``refuses`` says what the server refuses (by default: a delete, which a replace ends with)."""
    user = user_info(client) or {}
    models = ", ".join(sorted(unseen)) if unseen else "%d model(s) (the server did not name them)" % count
    refuses = refuses or (
        "the server refuses to delete a connector while any model uses it, so a replace would leave the old "
        "connector and the models it cannot see behind")
    way_out = "" if "redeploy" in what else (
        "; with on_deployed_models=redeploy the connector is updated in place once no model it cannot see is deployed")
    return ModuleFailure(
        "connector %s (%s) cannot be %s: the server counts model(s) %s as its users, and user %s cannot see them "
        "(they are in model groups it may not access); %s.%s The owners of those models, or an admin, can lift "
        "this: by deleting them or re-pointing them to another connector, or by running this change as an admin%s" % (
            connector.name, connector.connector_id, what, models, user.get("name") or "(unknown)", refuses,
            " Nothing was changed." if nothing_changed else "", way_out),
        models=sorted(unseen), unseen_models=count)
