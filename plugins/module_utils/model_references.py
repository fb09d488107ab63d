# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What uses a model: ingest pipelines, search pipelines and agents that name its ID.

ML Commons checks these only when ``plugins.ml_commons.safe_delete_model`` is true (default false),
and then only at delete, after a client has already undeployed the model. This lookup lets a module
refuse before it changes anything, whatever the setting. Reads only.
"""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.common import ML

PIPELINES = (("ingest_pipeline", "_ingest/pipeline"), ("search_pipeline", "_search/pipeline"))
MAX_AGENTS = 10000


def mentions(value, model_id):
    """True when ``model_id`` occurs anywhere in ``value``: a processor's ``model_id``, a
    ``default_model_id``, a ``neural_field_default_id`` map, an agent's ``llm.model_id``, or inside a
    text such as a query template."""
    if isinstance(value, dict):
        return any(mentions(k, model_id) or mentions(v, model_id) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(mentions(v, model_id) for v in value)
    return isinstance(value, str) and model_id in value


def find_model_references(client, model_id):
    """``[{"kind": ..., "name": ...}]`` (agents also carry ``id``) for every ingest pipeline, search pipeline
    and agent that uses ``model_id``, sorted by kind and name."""
    if not model_id:
        return []
    found = []
    for kind, path in PIPELINES:
        # Both APIs answer 404 with {} when no pipeline exists.
        answer = client.get(path, missing_ok=True)
        for name, body in sorted((answer if isinstance(answer, dict) else {}).items()):
            if mentions(body, model_id):
                found.append({"kind": kind, "name": name})
    # Before the first agent the agent index does not exist: 3.6 answers 404 index_not_found_exception.
    answer = client.post("%s/agents/_search" % ML, body={"query": {"match_all": {}}, "size": MAX_AGENTS},
                         missing_ok=True)
    hits = ((answer.get("hits") or {}).get("hits") or []) if isinstance(answer, dict) else []
    for hit in hits:
        source = hit.get("_source") or {}
        if mentions(source, model_id):
            found.append({"kind": "agent", "name": source.get("name") or hit.get("_id"), "id": hit.get("_id")})
    found.sort(key=lambda ref: (ref["kind"], str(ref["name"])))
    return found


def describe(references):
    """``ingest pipeline a, search pipeline b, agent c (ID)`` for messages."""
    parts = []
    for ref in references:
        text = "%s %s" % (ref["kind"].replace("_", " "), ref["name"])
        if ref.get("id") and ref["id"] != ref["name"]:
            text += " (%s)" % ref["id"]
        parts.append(text)
    return ", ".join(parts)
