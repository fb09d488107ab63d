# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server's in-use checks on connectors, modelled so a refusal is predicted before any write.

ML Commons finds the models of a connector with a ``match`` query on the models' ``connector_id``,
a text field: a model whose connector ID only shares a term with a connector's ID counts as its user.
"""

from __future__ import annotations

import re

from ansible_collections.polardb.polarsearch.plugins.module_utils.common import ML, ModuleFailure
from ansible_collections.polardb.polarsearch.plugins.module_utils.model import is_deployed, label, model_view


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


def check_deletable(client, connector, hint):
    """Fail, before anything is written, when the server would refuse to delete ``connector`` because
    of models that do not use it; the models that do use it are the caller's concern."""
    cid = connector.connector_id
    others = sorted((m for m in delete_blockers(client, cid) if m.get("connector_id") != cid),
                    key=lambda m: m["model_id"])
    if not others:
        return
    raise ModuleFailure(
        "connector %s (%s) cannot be deleted: the server counts model(s) %s as its users, though they use "
        "connector(s) %s, because ML Commons compares connector IDs as analyzed text%s. Nothing was changed. "
        "Delete those models or re-point them to another connector first%s" % (
            connector.name, cid, ", ".join("%s (%s)" % (label(m), m["model_id"]) for m in others),
            ", ".join(sorted(set(str(m.get("connector_id")) for m in others))),
            shared_terms_text(others, cid), hint),
        models=[m["model_id"] for m in others])
