# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What uses a model: ingest pipelines, search pipelines and agents that name its ID.

ML Commons checks these only when ``plugins.ml_commons.safe_delete_model`` is true (default false),
and then only at delete, after a client has already undeployed the model. This lookup lets a module
refuse before it changes anything, whatever the setting.
"""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.common import ML

SAFE_DELETE = "plugins.ml_commons.safe_delete_model"
MAX_AGENTS = 10000


def mentions(value, model_id):
    """True when ``model_id`` is a string value anywhere in ``value`` (a processor's ``model_id``,
    a ``default_model_id``, a ``neural_field_default_id`` map, an agent's ``llm.model_id`` ...)."""
    if isinstance(value, dict):
        return any(mentions(v, model_id) for v in value.values())
    if isinstance(value, list):
        return any(mentions(v, model_id) for v in value)
    return isinstance(value, str) and value == model_id


def _pipelines(client, path):
    # Both APIs answer 404 with {} when no pipeline exists.
    answer = client.get(path, missing_ok=True)
    return answer if isinstance(answer, dict) else {}


def find_model_references(client, model_id):
    """``[{"kind": ..., "name": ...}]`` for every ingest pipeline, search pipeline and agent using ``model_id``."""
    found = []
    for kind, path in (("ingest_pipeline", "_ingest/pipeline"), ("search_pipeline", "_search/pipeline")):
        for name, body in sorted(_pipelines(client, path).items()):
            if mentions(body, model_id):
                found.append({"kind": kind, "name": name})
    # The agent index exists only after the first agent; searching before answers 200 with no hits
    # (ML Commons wraps index-not-found), an older server may answer 404.
    answer = client.post("%s/agents/_search" % ML, body={"query": {"match_all": {}}, "size": MAX_AGENTS},
                         missing_ok=True) or {}
    hits = ((answer.get("hits") or {}).get("hits") or []) if isinstance(answer, dict) else []
    for hit in hits:
        source = hit.get("_source") or {}
        if mentions(source, model_id):
            found.append({"kind": "agent", "name": source.get("name"), "id": hit.get("_id")})
    return found


def describe(references):
    return ", ".join("%s %s%s" % (ref["kind"].replace("_", " "), ref["name"], " (%s)" % ref["id"] if ref.get("id") else "")
                     for ref in references)


def safe_delete_enabled(client):
    settings = client.get("_cluster/settings", params={"include_defaults": "true", "flat_settings": "true"}) or {}
    for scope in ("transient", "persistent", "defaults"):
        values = settings.get(scope) or {}
        if SAFE_DELETE in values:
            return str(values[SAFE_DELETE]).lower() == "true"
    return False
