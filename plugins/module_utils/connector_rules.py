# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server's rules for connector fields: what it accepts, and how it stores what it accepts.

Input is checked against these rules before any write, and drift compares values after the same
normalisation the server applies, so a value the server rewrites is not drift.
"""

from __future__ import annotations

import json
import re

from ansible_collections.polardb.polarsearch.plugins.module_utils.common import ModuleFailure, to_server_string

# Connector parameters the collection keeps for itself (no request template uses them).
FINGERPRINT = "polarsearch_credential_fingerprint"
REPLACES = "polarsearch_replaces"
INTERNAL_PARAMETERS = (FINGERPRINT, REPLACES)

ACTION_FIELDS = ("action_type", "method", "url", "headers", "request_body",
                 "pre_process_function", "post_process_function", "name")
ACTION_TYPES = ("PREDICT", "EXECUTE", "BATCH_PREDICT", "CANCEL_BATCH_PREDICT", "BATCH_PREDICT_STATUS")
PROTOCOLS = ("http", "aws_sigv4", "mcp_sse", "mcp_streamable_http")
# McpConnector (3.0+): a top-level url and headers, no actions; created only while this setting is true.
MCP_PROTOCOLS = ("mcp_sse", "mcp_streamable_http")
MCP_FIELDS = ("url", "headers")
MCP_SETTING = "plugins.ml_commons.mcp_connector_enabled"
# MLCreateConnectorRequest / StringUtils (3.1+): the safe-character rule for name and description.
SAFE_TEXT = re.compile(r"^[\w\s.,!?():@\-/'\"]*$")
# ConnectorClientConfig.parse (ML Commons 3.6): the keys it reads, and how it stores each value.
# Any other key is skipped without a word, so the server would silently drop it.
RETRY_BACKOFF_POLICIES = ("constant", "exponential_equal_jitter", "exponential_full_jitter")


def _integer(key, value):
    try:
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError(value)
        return int(float(value))
    except (TypeError, ValueError):
        raise ModuleFailure("client_config.%s must be a whole number, not %r" % (key, value))


def _boolean(key, value):
    text = str(value).lower()
    if text not in ("true", "false"):
        raise ModuleFailure("client_config.%s must be true or false, not %r" % (key, value))
    return text == "true"


def _retry_backoff_policy(key, value):
    # RetryBackoffPolicy.from(value) upper-cases the value; the enum's toString lower-cases it.
    text = str(value).lower()
    if text not in RETRY_BACKOFF_POLICIES:
        raise ModuleFailure("client_config.%s %r is not one of %s" % (key, value, ", ".join(RETRY_BACKOFF_POLICIES)))
    return text


CLIENT_CONFIG_RULES = {
    "max_connection": _integer,
    "connection_timeout": _integer,
    "read_timeout": _integer,
    "retry_backoff_millis": _integer,
    "retry_timeout_seconds": _integer,
    "max_retry_times": _integer,
    "retry_backoff_policy": _retry_backoff_policy,
    "skip_ssl_verification": _boolean,
}


def normalize_client_config(client_config):
    """``client_config`` as the server stores it; a key the server would drop fails, naming the key
    and the accepted ones."""
    if client_config is None:
        return None
    out = {}
    for key, value in client_config.items():
        if value is None:
            continue
        rule = CLIENT_CONFIG_RULES.get(key)
        if rule is None:
            raise ModuleFailure("client_config.%s is not a client_config key of the server, which would drop it "
                                "without a word: use one of %s" % (key, ", ".join(sorted(CLIENT_CONFIG_RULES))))
        out[key] = rule(key, value)
    return out


def normalize_action(action):
    """An action as ConnectorAction stores it: upper-case type, string headers, a JSON-text body,
    ``supports_structured_output`` only when true."""
    out = {}
    for field in ACTION_FIELDS:
        value = action.get(field)
        if value is None:
            continue
        if field == "action_type":
            value = str(value).upper()
        elif field == "headers":
            value = {str(k): to_server_string(v) for k, v in value.items()}
        elif field == "request_body" and not isinstance(value, str):
            value = json.dumps(value)
        out[field] = value
    if action.get("supports_structured_output"):
        out["supports_structured_output"] = True
    return out


def check_protocol_fields(params, protocol):
    """Fail when options do not fit the connector's protocol (the one set, else the existing one)."""
    mcp = protocol in MCP_PROTOCOLS
    if mcp and params.get("actions"):
        raise ModuleFailure("actions are not used by %s connectors (the server ignores them): remove actions, "
                            "and set url and headers instead" % protocol)
    if not mcp:
        given = [field for field in MCP_FIELDS if params.get(field) is not None]
        if given:
            raise ModuleFailure("%s only apply to MCP connectors (protocol mcp_sse or mcp_streamable_http), and "
                                "this connector's protocol is %s: remove %s, or give them inside actions" % (
                                    " and ".join(given), protocol, " and ".join(given)))


def validate(params):
    """Fail, naming the option and the fix, on input the server would refuse or rewrite."""
    for option in ("name", "description"):
        value = params.get(option)
        if value and not SAFE_TEXT.match(value):
            raise ModuleFailure("%s may only contain letters, numbers, spaces and .,!?():@-_'/\" (the server "
                                "rejects other characters): change %s" % (option, option))
    for key in (params.get("parameters") or {}):
        if key in INTERNAL_PARAMETERS:
            raise ModuleFailure("parameters.%s is reserved for the collection's own bookkeeping: rename the "
                                "parameter" % key)
    for index, action in enumerate(params.get("actions") or []):
        if str(action["action_type"]).upper() not in ACTION_TYPES:
            raise ModuleFailure("actions[%d].action_type %r is not one of %s" % (
                index, action["action_type"], ", ".join(a.lower() for a in ACTION_TYPES)))
    normalize_client_config(params.get("client_config"))
    for key, value in (params.get("credential") or {}).items():
        if isinstance(value, (dict, list)):
            raise ModuleFailure("credential.%s must be a string, not a %s" % (key, type(value).__name__))
