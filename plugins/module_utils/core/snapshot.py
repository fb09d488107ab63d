# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A read cache for one run: the objects a stack names, read in one request per kind.

``prefetch`` reads every connector, model group or remote model of the given names with one
``_search`` (a ``terms`` query on ``name.keyword``), and ``prefetch_pipelines`` every pipeline of one
kind with one ``GET _ingest/pipeline/a,b,c``. The per-name lookups (``connector_lookup``,
``model``, ``model_group``, ``pipeline``, ``settings``) ask :func:`named`, :func:`using_connector`
and :func:`read` first, and send their own request only for what the cache does not hold, so their
semantics (duplicates, the two halves of a replace, the winner of a race) stay theirs.

The cache holds only what was read after the last write: the client drops it before any request
that is not a read (:meth:`PolarSearchClient.request`), so every read after a write goes to the
server. Nothing that is polled (a model by ID, a task) is ever served from here.
"""

from __future__ import annotations

import copy
from urllib.parse import quote

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ML

CONNECTORS = "connectors"
MODEL_GROUPS = "model_groups"
MODELS = "models"
SETTINGS = "settings"
SEARCH_KINDS = (CONNECTORS, MODEL_GROUPS, MODELS)
PIPELINE_PATHS = {"ingest": "_ingest/pipeline", "search": "_search/pipeline"}
SETTINGS_PATH = "_cluster/settings"
SETTINGS_PARAMS = {"include_defaults": "true", "flat_settings": "true"}
# One page of a batch read; a batch that fills it may have left hits out, so it is not kept.
BATCH_SIZE = 1000
# The size of a per-name search (PolarSearchClient.search): a name never serves more hits than that.
NAME_PAGE = 100
REMOTE = {"term": {"algorithm": "REMOTE"}}


class Snapshot:
    """What one run read since its last write: hits by kind and name, models by connector, GET answers."""

    def __init__(self):
        self.names = {}        # kind -> {name: [hits]}
        self.connectors = {}   # connector_id -> [model hits]
        self.answers = {}      # GET path -> answer (None: the server answered 404)
        self.reads = 0         # requests this cache made
        self.served = 0        # lookups it answered

    def drop(self):
        """Forget everything (called before every write)."""
        self.names.clear()
        self.connectors.clear()
        self.answers.clear()

    def holds(self, kind, names=()):
        """True when every one of ``names`` of ``kind`` (or the settings, or a pipeline path) is cached."""
        if kind == SETTINGS:
            return SETTINGS_PATH in self.answers
        if kind in PIPELINE_PATHS:
            return all(pipeline_path(kind, name) in self.answers for name in names)
        stored = self.names.get(kind)
        return stored is not None and all(name in stored for name in names)


def attach(client):
    """Give ``client`` a fresh cache (it drops it on every write) and return it."""
    client.snapshot = Snapshot()
    return client.snapshot


def detach(client):
    """End the run's cache: later reads of ``client`` go to the server again."""
    client.snapshot = None


def of(client):
    return getattr(client, "snapshot", None)


def _hits(answer):
    hits = ((answer or {}).get("hits") or {}).get("hits") or [] if isinstance(answer, dict) else []
    return [{"_id": hit.get("_id"), "_source": hit.get("_source") or {}} for hit in hits]


def _search(client, kind, query):
    snapshot = of(client)
    snapshot.reads += 1
    answer = client.post("%s/%s/_search" % (ML, kind), body={"query": query, "size": BATCH_SIZE})
    hits = _hits(answer)
    return hits if len(hits) < BATCH_SIZE else None


def _by_name(hits, names):
    out = {name: [] for name in names}
    for hit in hits:
        name = hit["_source"].get("name")
        if name in out:
            out[name].append(hit)
    return out


# -- filling the cache ---------------------------------------------------------------------
def prefetch(client, kind, names, connector_ids=()):
    """Read every object of ``kind`` named one of ``names`` in one search (for models: also every
    remote model using one of ``connector_ids``). Names already cached are not read again."""
    snapshot = of(client)
    if snapshot is None:
        return
    names = sorted({n for n in names if n} - set(snapshot.names.get(kind) or {}))
    connector_ids = sorted({c for c in connector_ids if c} - set(snapshot.connectors)) if kind == MODELS else []
    if not (names or connector_ids):
        return
    if kind == MODELS:
        should = ([{"terms": {"name.keyword": names}}] if names else []) + (
            [{"terms": {"connector_id.keyword": connector_ids}}] if connector_ids else [])
        query = {"bool": {"filter": [REMOTE], "should": should, "minimum_should_match": 1}}
    else:
        query = {"terms": {"name.keyword": names}}
    hits = _search(client, kind, query)
    if hits is None:
        return
    snapshot.names.setdefault(kind, {}).update(_by_name(hits, names))
    if kind == MODELS:
        for connector_id in connector_ids:
            snapshot.connectors[connector_id] = [h for h in hits if h["_source"].get("connector_id") == connector_id]
    if kind == MODEL_GROUPS:
        for hit in hits:
            snapshot.answers["%s/model_groups/%s" % (ML, hit["_id"])] = hit["_source"]


def prefetch_settings(client):
    """The cluster settings, defaults included, as every settings lookup reads them."""
    snapshot = of(client)
    if snapshot is None or snapshot.holds(SETTINGS):
        return
    read(client, SETTINGS_PATH, lambda: client.get(SETTINGS_PATH, params=dict(SETTINGS_PARAMS)))


def pipeline_path(kind, name):
    return "%s/%s" % (PIPELINE_PATHS[kind], quote(name, safe=""))


def prefetch_pipelines(client, kind, names):
    """Every pipeline of ``kind`` (``ingest`` or ``search``) named one of ``names``, with one GET.

    The server answers the pipelines it has (and 404 when it has none of them); a name the answer
    leaves out does not exist. Names that a list would make ambiguous are left to their own GET.
    """
    snapshot = of(client)
    if snapshot is None:
        return
    names = sorted({n for n in names if n and not set(n) & set(",*") and not snapshot.holds(kind, [n])})
    if not names:
        return
    snapshot.reads += 1
    answer = client.get("%s/%s" % (PIPELINE_PATHS[kind], ",".join(quote(n, safe="") for n in names)),
                        missing_ok=True)
    answer = answer if isinstance(answer, dict) else {}
    for name in names:
        snapshot.answers[pipeline_path(kind, name)] = {name: answer[name]} if name in answer else None


# -- serving the lookups -------------------------------------------------------------------
def named(client, kind, name, fetch):
    """The search hits of the objects of ``kind`` named ``name``: cached, or ``fetch()``."""
    snapshot = of(client)
    stored = (snapshot.names.get(kind) or {}) if snapshot is not None else {}
    if name not in stored:
        return fetch()
    snapshot.served += 1
    return copy.deepcopy(stored[name][:NAME_PAGE])


def using_connector(client, connector_id, fetch):
    """The remote model hits whose ``connector_id`` is ``connector_id``: cached, or ``fetch()``."""
    snapshot = of(client)
    if snapshot is None or connector_id not in snapshot.connectors:
        return fetch()
    snapshot.served += 1
    return copy.deepcopy(snapshot.connectors[connector_id][:BATCH_SIZE])


def read(client, path, fetch):
    """The answer of ``GET path``: cached, or ``fetch()`` (kept until the next write). Only for
    objects no caller polls (settings, model groups by ID, pipelines, the calling user)."""
    snapshot = of(client)
    if snapshot is None:
        return fetch()
    if path in snapshot.answers:
        snapshot.served += 1
        return copy.deepcopy(snapshot.answers[path])
    snapshot.reads += 1
    answer = fetch()
    snapshot.answers[path] = copy.deepcopy(answer)
    return answer
