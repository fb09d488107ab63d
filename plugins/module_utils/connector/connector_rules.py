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

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import (
    ModuleFailure,
    check_wait_timeout,
    to_server_string,
)

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
# ConnectorAction.method: an HTTP method, sent by the connector's HTTP client.
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
# Header names and URL query keys that carry a credential; their value must be a ${credential.*} placeholder.
SECRET_HEADER = re.compile(r"authorization|api[-_]?key|token|secret|password|signature", re.I)
SECRET_QUERY = re.compile(r"^(?:key|api[-_]?key|apikey|token|access[-_]?token|secret|password|sig|signature)$",
                          re.I)
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


def _placeholders(text):
    return PLACEHOLDER.findall(text) if isinstance(text, str) else []


def check_request_body(path, body):
    """A request_body is JSON once each ${...} placeholder is filled in (a placeholder may stand for a whole
    value, such as ``"messages": ${parameters.messages}``)."""
    if body is None or not isinstance(body, str):
        return
    try:
        json.loads(PLACEHOLDER.sub("null", body))
    except ValueError as exc:
        raise ModuleFailure("%s is not a JSON template (%s once each ${...} is filled in): give a JSON object, "
                            "such as '{\"model\": \"${parameters.model}\", \"input\": ${parameters.input}}', or "
                            "a mapping" % (path, exc))


def literal_credentials(path, headers, url):
    """``(option path, what it is, values to mask)`` for each credential written as it is into headers or url,
    where only ``${credential.*}`` keeps it secret: an Authorization, API key or token header, a key or token query
    parameter, or a user:password@ in the URL."""
    found = []
    for name, value in (headers or {}).items():
        text = "" if value is None else str(value)
        if SECRET_HEADER.search(str(name)) and text and "${credential." not in text:
            found.append(("%sheaders.%s" % (path, name), "a credential written as it is", [text] + text.split()[1:]))
    if isinstance(url, str) and "://" in url:
        netloc = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
        if "@" in netloc:
            userinfo = netloc.rsplit("@", 1)[0]
            if "${credential." not in userinfo:
                found.append(("%surl" % path, "a user:password@", [userinfo, userinfo.split(":", 1)[-1]]))
        query = url.split("?", 1)[1] if "?" in url else ""
        for pair in query.split("&"):
            key, _sep, value = pair.partition("=")
            if value and SECRET_QUERY.match(key) and "${credential." not in value:
                found.append(("%surl" % path, "a key in the query (%s=)" % key, [value]))
    return found


def check_literal_credentials(path, headers, url):
    found = literal_credentials(path, headers, url)
    if found:
        where, what = found[0][0], found[0][1]
        raise ModuleFailure(
            "%s holds %s, which the server would show to anyone who can read the connector: put the secret in "
            "credential (such as credential: {api_key: ...}) and write ${credential.api_key} in its place (such as "
            "Authorization: Bearer ${credential.api_key})" % (where, what),
            hidden=[v for _where, _what, values in found for v in values])


def check_action(index, action, parameters):
    path = "actions[%d]." % index
    if str(action["action_type"]).upper() not in ACTION_TYPES:
        raise ModuleFailure("%saction_type %r is not one of %s" % (
            path, action["action_type"], ", ".join(a.lower() for a in ACTION_TYPES)))
    if action.get("method") is not None and str(action["method"]).upper() not in HTTP_METHODS:
        raise ModuleFailure("%smethod %r is not an HTTP method: use one of %s, such as POST" % (
            path, action["method"], ", ".join(HTTP_METHODS)))
    check_literal_credentials(path, action.get("headers"), action.get("url"))
    check_url_parameters(path, action, parameters)
    check_request_body(path + "request_body", action.get("request_body"))


def check_url_parameters(path, action, parameters):
    """Each ``${parameters.X}`` of the action's url names a connector parameter (the server fills the url from
    them, and refuses a url it cannot fill; it merges stored parameters with the ones given)."""
    if parameters is None:
        return
    for name in _placeholders(action.get("url")):
        if name.startswith("parameters.") and name[len("parameters."):] not in parameters:
            raise ModuleFailure("%surl uses ${%s}, but parameters.%s is not given: add it to parameters (such as "
                                "parameters: {%s: api.example.com}), or write the value into the url" % (
                                    path, name, name[len("parameters."):], name[len("parameters."):]))


def validate(params):
    """Fail, naming the option and the fix, on input the server would refuse or rewrite."""
    check_wait_timeout(params)
    for option in ("name", "description"):
        value = params.get(option)
        if value and not SAFE_TEXT.match(value):
            raise ModuleFailure("%s may only contain letters, numbers, spaces and .,!?():@-_'/\" (the server "
                                "rejects other characters): change %s" % (option, option))
    for key in (params.get("parameters") or {}):
        if key in INTERNAL_PARAMETERS:
            raise ModuleFailure("parameters.%s is reserved for the collection's own bookkeeping: rename the "
                                "parameter" % key)
    if params.get("protocol"):
        check_protocol_fields(params, params["protocol"])
    check_literal_credentials("", params.get("headers"), params.get("url"))
    for index, action in enumerate(params.get("actions") or []):
        check_action(index, action, params.get("parameters"))
    normalize_client_config(params.get("client_config"))
    for key, value in (params.get("credential") or {}).items():
        if isinstance(value, (dict, list)):
            raise ModuleFailure("credential.%s must be a string, not a %s" % (key, type(value).__name__))
