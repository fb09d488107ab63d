# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only listings of connectors and remote models, shaped like the options of their modules."""

from __future__ import annotations

from ansible.module_utils.common.warnings import warn

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ML
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_lookup import get_connector
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_record import Connector
from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.in_use import delete_blockers, id_terms
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import get_model, model_view

PAGE_SIZE = 1000
# from + size may not pass the index's max_result_window, 10000 by default.
MAX_HITS = 10000
REMOTE = {"term": {"algorithm": "REMOTE"}}

# Keys of an entry that are not options of the module the entry describes.
CONNECTOR_READ_ONLY = ("models", "delete_blocked_by")
MODEL_READ_ONLY = ("model_state", "model_version", "model_group_id")
# Keys never returned, whatever the server sends.
NEVER_RETURNED = ("credential",)


def search_all(client, kind, query):
    """Every hit of a search on ``connectors`` or ``models``, page by page, up to MAX_HITS."""
    path = "%s/%s/_search" % (ML, kind)
    hits = []
    total = None
    while len(hits) < MAX_HITS:
        size = min(PAGE_SIZE, MAX_HITS - len(hits))
        body = {"query": query, "size": size, "from": len(hits), "track_total_hits": True,
                "sort": [{"_doc": "asc"}]}
        answer = client.post(path, body=body, missing_ok=True) or {}
        page = (answer.get("hits") or {}) if isinstance(answer, dict) else {}
        found = page.get("hits") or []
        total = (page.get("total") or {}).get("value") if isinstance(page.get("total"), dict) else total
        hits.extend({"_id": hit.get("_id"), "_source": hit.get("_source") or {}} for hit in found)
        if len(found) < size or (total is not None and len(hits) >= total):
            break
    if total is not None and total > len(hits):
        warn("only the first %d of %d %s were read; look them up by name or ID instead" % (
            len(hits), total, kind))
    return hits


# -- connectors -------------------------------------------------------------------------
def connector_entry(view, model_ids=None, blockers=None):
    """A connector with the option names of polarsearch_connector (no credential, no fingerprint)."""
    entry = view.public()
    for key in NEVER_RETURNED:
        entry.pop(key, None)
    if "access" in entry:
        entry["access_mode"] = entry.pop("access")
    entry.setdefault("parameters", {})
    if model_ids is not None:
        entry["models"] = model_ids
    if blockers is not None:
        entry["delete_blocked_by"] = blockers
    return entry


def models_by_connector(client, connector_id=None):
    """{connector_id: [model_id, ...]} for the remote models of one connector, or of all of them."""
    query = {"bool": {"filter": [REMOTE]}}
    if connector_id:
        query["bool"]["filter"].append({"term": {"connector_id.keyword": connector_id}})
    users = {}
    for hit in search_all(client, "models", query):
        cid = hit["_source"].get("connector_id")
        if cid:
            users.setdefault(cid, []).append(hit["_id"])
    return {cid: sorted(ids) for cid, ids in users.items()}


def users_by_term(users):
    """{term: {model_id, ...}} of the models read, by the terms the server's analyzer makes of
    their connector IDs (see ``id_terms``): each ID is analyzed once, whatever the listing's size."""
    index = {}
    for other, mids in users.items():
        for term in id_terms(other):
            index.setdefault(term, set()).update(mids)
    return index


def blocked_by(client, view, by_term):
    """The models the server counts as users of the connector when asked to delete it: for one
    connector (``by_term`` None), by the server's own query; in a listing, from the models already
    read (``by_term``, see ``users_by_term``), so the listing stays one search."""
    cid = view.connector_id
    if by_term is None:
        return sorted(m["model_id"] for m in delete_blockers(client, cid))
    return sorted(set().union(*(by_term.get(term, ()) for term in id_terms(cid))))


def connector_info(params, context):
    client = context.client
    if params.get("connector_id"):
        found = [c for c in [get_connector(client, params["connector_id"])] if c]
    else:
        query = {"term": {"name.keyword": params["name"]}} if params.get("name") else {"match_all": {}}
        found = [Connector.from_source(hit["_id"], hit["_source"]) for hit in search_all(client, "connectors", query)]
    users = {}
    if len(found) == 1:
        users = models_by_connector(client, found[0].connector_id)
    elif found:
        users = models_by_connector(client)
    by_term = users_by_term(users) if len(found) > 1 else None
    connectors = [connector_entry(view, users.get(view.connector_id, []), blocked_by(client, view, by_term))
                  for view in found]
    connectors.sort(key=lambda c: (c.get("name") or "", c["connector_id"]))
    return {"changed": False, "connectors": connectors}


# -- models -----------------------------------------------------------------------------
def model_entry(view, connector_names, group_names):
    """A model with the option names of polarsearch_model, plus read-only state fields."""
    entry = {k: v for k, v in view.items() if k not in ("algorithm",) + NEVER_RETURNED}
    if entry.get("connector_id") and connector_names.get(entry["connector_id"]):
        entry["connector"] = connector_names[entry["connector_id"]]
    if entry.get("model_group_id") and group_names.get(entry["model_group_id"]):
        entry["model_group"] = group_names[entry["model_group_id"]]
    entry["state"] = "deployed" if entry.get("model_state") == "DEPLOYED" else "present"
    return entry


def _names(client, kind, ids):
    """{id: name} with one GET per distinct ID; IDs that no longer exist, and those the caller may not
    read (403: another team's private connector or group under access control), are left out."""
    names = {}
    for object_id in sorted(set(i for i in ids if i)):
        try:
            source = client.get("%s/%s/%s" % (ML, kind, object_id), missing_ok=True)
        except PolarSearchError as exc:
            if exc.status != 403:
                raise
            warn("%s %s is not readable by this user (HTTP 403), so its name is left out" % (kind[:-1].replace(
                "_", " "), object_id))
            continue
        if isinstance(source, dict) and source.get("name"):
            names[object_id] = source["name"]
    return names


def model_info(params, context):
    client = context.client
    if params.get("model_id"):
        views = [m for m in [get_model(client, params["model_id"])] if m]
    else:
        filters = [REMOTE]
        if params.get("name"):
            filters.append({"term": {"name.keyword": params["name"]}})
        views = [model_view(hit["_id"], hit["_source"])
                 for hit in search_all(client, "models", {"bool": {"filter": filters}})]
    connector_names = _names(client, "connectors", [v.get("connector_id") for v in views])
    group_names = _names(client, "model_groups", [v.get("model_group_id") for v in views])
    models = [model_entry(view, connector_names, group_names) for view in views]
    models.sort(key=lambda m: (m.get("name") or "", m["model_id"]))
    return {"changed": False, "models": models}
