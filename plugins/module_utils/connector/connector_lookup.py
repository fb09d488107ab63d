# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding connectors by ID or name (read only)."""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import snapshot
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ML, first_or_fail
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_record import Connector
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.identity import winner


@dataclass(frozen=True)
class Found:
    """What a lookup found: the connector, or the two halves of a replace that stopped halfway."""

    connector: Connector | None = None
    replaced: Connector | None = None  # the old connector of an unfinished replace; ``connector`` is the new one
    duplicates: tuple = ()  # same-named connectors to settle, besides ``connector`` (the one kept)
    in_use: tuple = ()  # of those and ``connector``, the ones models use
    moved: tuple = ()  # the models a finished replace just moved to ``connector`` (a search may not show them yet)


def get_connector(client, connector_id):
    source = client.get("%s/connectors/%s" % (ML, connector_id), missing_ok=True)
    return Connector.from_source(connector_id, source) if source else None


def search_connectors(client, name):
    hits = snapshot.named(client, snapshot.CONNECTORS, name, lambda: client.search(
        "%s/connectors/_search" % ML, {"term": {"name.keyword": name}}))
    return [Connector.from_source(hit["_id"], hit["_source"]) for hit in hits]


def model_hits_using(client, connector_id):
    """The search hits of the remote models whose connector is ``connector_id``."""
    query = {"bool": {"filter": [{"term": {"algorithm": "REMOTE"}}, {"term": {"connector_id.keyword": connector_id}}]}}
    return snapshot.using_connector(client, connector_id, lambda: client.search(
        "%s/models/_search" % ML, query, size=1000))


def split_twins(found):
    """For two same-named connectors where one replaces the other: (old, new); else None."""
    if len(found) != 2:
        return None
    first, second = found
    if second.replaces == first.connector_id:
        return first, second
    if first.replaces == second.connector_id:
        return second, first
    return None


def collection_made(connector):
    """A connector this collection created (it carries the credential fingerprint parameter)."""
    return bool(connector.fingerprint) and not connector.replaces


def pick(connectors):
    return winner(connectors, lambda c: c.created_time, lambda c: c.connector_id)


def find_by_name(client, name, any_duplicates=False):
    """The connector named ``name``. Two or more fail, except the two halves of an unfinished
    replace, and connectors that runs at the same time each created (all made by this collection):
    those resolve to the one every run picks (``identity.winner``), the others as ``duplicates``.
    ``any_duplicates`` (``duplicates: keep_one``) treats same-named connectors made by hand alike."""
    found = search_connectors(client, name)
    twins = split_twins(found)
    if twins:
        return Found(twins[1], replaced=twins[0])
    if len(found) > 1 and (any_duplicates or all(collection_made(c) for c in found)):
        # The one to keep: the one models use, else the winner; the same in check mode and a real run.
        used = tuple(c for c in found if model_hits_using(client, c.connector_id))
        chosen = used[0] if len(used) == 1 else pick(found)
        return Found(chosen, duplicates=tuple(c for c in found if c.connector_id != chosen.connector_id),
                     in_use=used)
    hit = first_or_fail([{"_id": c.connector_id} for c in found], "connector", name, "connector_id")
    return Found(next(c for c in found if c.connector_id == hit["_id"]) if hit else None)


def resolve_connector_id(client, name, any_duplicates=False):
    """The ID of the connector named ``name``, or ``None`` (an unfinished replace resolves to the new one,
    duplicates to the one kept)."""
    connector = find_by_name(client, name, any_duplicates).connector
    return connector.connector_id if connector else None
