"""Connector specs as the PolarSearch documentation builds them, pointed at the local model service."""

from __future__ import annotations

import re


def endpoint_regex(endpoint):
    return "^http://%s/.*$" % re.escape(endpoint)


def embedding_connector(name, env, api_key=None, **overrides):
    spec = {
        "name": name,
        "description": "Local text-embedding-v4",
        "version": "1",
        "protocol": "http",
        "parameters": {"endpoint": env["endpoint"], "model": "text-embedding-v4"},
        "credential": {"api_key": api_key or env["api_key"]},
        "actions": [{
            "action_type": "predict",
            "method": "POST",
            "url": "http://${parameters.endpoint}/compatible-mode/v1/embeddings",
            "headers": {"Authorization": "Bearer ${credential.api_key}", "Content-Type": "application/json"},
            "request_body": '{ "model": "${parameters.model}", "input": ${parameters.input} }',
            "pre_process_function": "connector.pre_process.openai.embedding",
            "post_process_function": "connector.post_process.openai.embedding",
        }],
    }
    spec.update(overrides)
    return spec


def rerank_connector(name, env):
    return {
        "name": name,
        "description": "Local qwen3-rerank",
        "version": "1",
        "parameters": {"endpoint": env["endpoint"], "model": "qwen3-rerank"},
        "credential": {"api_key": env["api_key"]},
        "actions": [{
            "action_type": "predict",
            "method": "POST",
            "url": "http://${parameters.endpoint}/api/v1/services/rerank/text-rerank/text-rerank",
            "headers": {"Authorization": "Bearer ${credential.api_key}", "Content-Type": "application/json"},
            "request_body": '{ "model": "${parameters.model}", "input": { "query": "${parameters.query}", '
                            '"documents": ${parameters.documents} }, "parameters": { "return_documents": true } }',
        }],
    }


def llm_connector(name, env):
    return {
        "name": name,
        "description": "Local qwen-max",
        "version": "1",
        "parameters": {"endpoint": env["endpoint"], "model": "qwen-max"},
        "credential": {"api_key": env["api_key"]},
        "actions": [{
            "action_type": "predict",
            "method": "POST",
            "url": "http://${parameters.endpoint}/compatible-mode/v1/chat/completions",
            "headers": {"Authorization": "Bearer ${credential.api_key}", "Content-Type": "application/json"},
            "request_body": '{ "model": "${parameters.model}", "messages": ${parameters.messages} }',
        }],
    }


EMBED_INPUT = {"input": ["PolarSearch runs OpenSearch", "vector search with ML Commons"]}
