# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What on the cluster uses a model: ingest pipelines, search pipelines and ML Commons agents.

The server does not stop a model that a pipeline uses from being deleted (unless
``plugins.ml_commons.safe_delete_model`` is on, and then only after it was undeployed), so a caller
that deletes a model asks here first. Reads only.
"""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ML

PIPELINES = (("ingest_pipeline", "_ingest/pipeline"), ("search_pipeline", "_search/pipeline"))
AGENT_PAGE = 10000


def mentions(value, model_id):
    """True when ``model_id`` occurs anywhere in ``value``: as a value, a key or inside a text (a
    query template or an agent prompt carries the ID inside a JSON text)."""
    if isinstance(value, dict):
        return any(mentions(k, model_id) or mentions(v, model_id) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(mentions(v, model_id) for v in value)
    return isinstance(value, str) and model_id in value


def pipelines(client, path):
    """Every pipeline of one kind, ``{name: body}``; the server answers 404 with ``{}`` when there is none."""
    answer = client.get(path, missing_ok=True)
    return answer if isinstance(answer, dict) else {}


def agents(client):
    """Every agent, ``[(agent_id, source)]``; 404 (the agent index was never created) means none.

    One page of the index's default result window (10000), far above the agents a cluster holds.
    """
    answer = client.post("%s/agents/_search" % ML, body={"query": {"match_all": {}}, "size": AGENT_PAGE},
                         missing_ok=True)
    hits = ((answer.get("hits") or {}).get("hits") or []) if isinstance(answer, dict) else []
    return [(hit.get("_id"), hit.get("_source") or {}) for hit in hits]


def find_model_references(client, model_id):
    """The ingest pipelines, search pipelines and agents whose body mentions ``model_id``.

    Returns a list of ``{"kind": "ingest_pipeline" | "search_pipeline" | "agent", "name": ...}``
    (agents also carry ``"id"``), sorted by kind and name; empty when nothing uses the model.
    """
    return references_by_model(client, [model_id]).get(model_id, [])


def references_by_model(client, model_ids):
    """``{model_id: references}`` (see :func:`find_model_references`) for each of ``model_ids``, with the
    pipelines and agents read once for all of them."""
    found = {model_id: [] for model_id in model_ids if model_id}
    if not found:
        return found
    for kind, path in PIPELINES:
        for name, body in sorted(pipelines(client, path).items()):
            for model_id, refs in found.items():
                if mentions(body, model_id):
                    refs.append({"kind": kind, "name": name})
    for agent_id, source in agents(client):
        for model_id, refs in found.items():
            if mentions(source, model_id):
                refs.append({"kind": "agent", "name": source.get("name") or agent_id, "id": agent_id})
    for refs in found.values():
        refs.sort(key=lambda ref: (ref["kind"], str(ref["name"])))
    return found


def describe(refs):
    """``ingest pipeline a, search pipeline b, agent c (ID)`` for messages."""
    parts = []
    for ref in refs:
        text = "%s %s" % (ref["kind"].replace("_", " "), ref["name"])
        if ref.get("id") and ref["id"] != ref["name"]:
            text += " (%s)" % ref["id"]
        parts.append(text)
    return ", ".join(parts)
