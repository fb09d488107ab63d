"""Connector specs as the PolarSearch documentation builds them, pointed at the local model service."""

from __future__ import annotations

import re


def endpoint_regex(endpoint):
    return "^http://%s/.*$" % re.escape(endpoint)


def doc_connector(name, env, model, path, request_body, api_key=None, **action_extra):
    """A connector as the PolarSearch documentation writes it, with the local endpoint over http."""
    return {
        "name": name,
        "description": "Local " + model,
        "version": "1",
        "protocol": "http",
        "parameters": {"endpoint": env["endpoint"], "model": model},
        "credential": {"api_key": api_key or env["api_key"]},
        "actions": [dict({
            "action_type": "predict",
            "method": "POST",
            "url": "http://${parameters.endpoint}" + path,
            "headers": {"Authorization": "Bearer ${credential.api_key}", "Content-Type": "application/json"},
            "request_body": request_body,
        }, **action_extra)],
    }


def embedding_connector(name, env, api_key=None, **overrides):
    spec = doc_connector(name, env, "text-embedding-v4", "/compatible-mode/v1/embeddings",
                         '{ "model": "${parameters.model}", "input": ${parameters.input} }', api_key,
                         pre_process_function="connector.pre_process.openai.embedding",
                         post_process_function="connector.post_process.openai.embedding")
    spec.update(overrides)
    return spec


def rerank_connector(name, env):
    return doc_connector(name, env, "qwen3-rerank", "/api/v1/services/rerank/text-rerank/text-rerank",
                         '{ "model": "${parameters.model}", "input": { "query": "${parameters.query}", '
                         '"documents": ${parameters.documents} }, "parameters": { "return_documents": true } }')


def llm_connector(name, env):
    return doc_connector(name, env, "qwen-max", "/compatible-mode/v1/chat/completions",
                         '{ "model": "${parameters.model}", "messages": ${parameters.messages} }')


EMBED_INPUT = {"input": ["PolarSearch runs OpenSearch", "vector search with ML Commons"]}
