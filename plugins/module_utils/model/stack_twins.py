# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether same-named objects that are all in use are duplicates of one stack (read only).

Runs of one stack that each kept their own connector (see ``identity``) leave same-named connectors,
each used by a model of one name: a wedge that ``duplicates: fail`` would refuse for good. A run
settles it only when it can prove the objects are copies of the one it manages: the same name, made by
this collection, and the same spec. Anything else still fails, naming the IDs.
"""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_drift import compute_drift
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_lookup import (
    collection_made,
    get_connector,
    model_hits_using,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.fingerprint import fingerprint_matches
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_group import get_group, is_owned

# The stored fields two remote models of one stack have in common (besides the name).
MODEL_FIELDS = ("algorithm", "description", "interface", "rate_limiter", "guardrails", "is_enabled")


def connectors_of_one_stack(client, connectors, request):
    """True when the same-named ``connectors`` are each the connector ``request`` describes: made by this
    collection, no field differing from the options, the credential the one given (by its fingerprint),
    and every model that uses one of them has one and the same name."""
    if not request.credential or len(connectors) < 2:
        return False
    for connector in connectors:
        if not collection_made(connector):
            return False
        changes, removals = compute_drift(request.desired(), connector, rename=False)
        if changes or removals:
            return False
        if not fingerprint_matches(connector.fingerprint, request.credential, request.fingerprint_key):
            return False
    names = set()
    for connector in connectors:
        names.update(hit["_source"].get("name") for hit in model_hits_using(client, connector.connector_id))
    return len(names) == 1


def models_of_one_stack(client, request, models):
    """True when the same-named remote ``models`` (stored documents with ``model_id``) are copies of one:
    the same stored fields, each on a connector named ``request.connector`` that this collection made,
    each in a model group of one name that the collection or the server made for the model, and none
    with a description other than the one the options set."""
    if len(models) < 2 or not request.connector:
        return False
    first = models[0]
    group_names = set()
    for model in models:
        if any(model.get(field) != first.get(field) for field in MODEL_FIELDS):
            return False
        if request.description is not None and model.get("description") != request.description:
            return False
        connector = get_connector(client, model.get("connector_id")) if model.get("connector_id") else None
        if connector is None or connector.name != request.connector or not collection_made(connector):
            return False
        group = get_group(client, model.get("model_group_id")) if model.get("model_group_id") else None
        if group is None or not is_owned(group, model):
            return False
        group_names.add(group.get("name"))
    return len(group_names) == 1
