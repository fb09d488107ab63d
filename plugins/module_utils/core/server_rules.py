# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server's version, read once per run, and the one table of the rules that depend on it.

ML Commons drops a field it does not know without an error (``ConnectorClientConfig.parse`` and
``ConnectorAction.parse`` skip unknown keys; seen on 2.19.1, docs/local-cluster.md), so a field
newer than the server would be reported as drift by every later run. Every row of :data:`RULES`
names a field, option, protocol or server rule, the first ML Commons version that has it, and the
source it comes from. A field a server is too old for fails before any write (:func:`require`).

The versions are read lazily, only when a rule needs them, and once per run: ``GET /`` gives the
OpenSearch version, ``GET _cat/plugins?format=json`` the ``opensearch-ml`` component. A user who
may not read ``_cat/plugins`` gets the ML Commons version of an OpenSearch distribution from the
OpenSearch version (ML Commons is released with the same number); a user who may read neither
gets no version check, with a warning.
"""

from __future__ import annotations

import re
from collections import namedtuple

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import snapshot
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ModuleFailure

FIELD = "field"
PROTOCOL = "protocol"
SETTING = "setting"
RULE = "rule"

Rule = namedtuple("Rule", "key kind since source")

# One row per versioned thing; ``since`` is the first ML Commons version that has it.
RULES = (
    Rule("client_config", FIELD, (2, 13, 0),
         "ML Commons 2.13 release notes; ConnectorClientConfig (max_connection, connection_timeout, read_timeout)"),
    Rule("client_config.retry_backoff_millis", FIELD, (2, 15, 0), "ML Commons 2.15; ConnectorClientConfig retry fields"),
    Rule("client_config.retry_timeout_seconds", FIELD, (2, 15, 0), "ML Commons 2.15; ConnectorClientConfig retry fields"),
    Rule("client_config.max_retry_times", FIELD, (2, 15, 0), "ML Commons 2.15; ConnectorClientConfig retry fields"),
    Rule("client_config.retry_backoff_policy", FIELD, (2, 15, 0), "ML Commons 2.15; ConnectorClientConfig, "
         "RetryBackoffPolicy"),
    Rule("client_config.skip_ssl_verification", FIELD, (3, 5, 0),
         "ml-commons PR #4394 and #4616 (ConnectorClientConfig.skipSslVerification); observed: 2.19.1 drops it, "
         "3.6.0 keeps it"),
    Rule("actions[].name", FIELD, (3, 5, 0),
         "ml-commons PR #4538 (issue #4569, v3.5.0), ConnectorAction.name; observed: 2.19.1 drops it, 3.6.0 keeps it"),
    Rule("actions[].method PUT or DELETE", FIELD, (3, 5, 0), "ml-commons PR #4538, ConnectorAction"),
    Rule("actions[].supports_structured_output", FIELD, (3, 7, 0),
         "ml-commons PR #4824, ConnectorAction supports_structured_output; observed: 3.6.0 drops it"),
    Rule("protocol mcp_sse", PROTOCOL, (3, 0, 0), "ML Commons 3.0 release notes; McpConnector, ConnectorProtocols"),
    Rule("protocol mcp_streamable_http", PROTOCOL, (3, 3, 0),
         "ml-commons PR #4169 (issue #4307, v3.3.0); McpStreamableHttpConnector, ConnectorProtocols"),
    Rule("interface", FIELD, (2, 14, 0), "ML Commons 2.14 release notes; MLModel interface"),
    Rule("is_enabled", FIELD, (2, 12, 0), "ML Commons 2.12 release notes; MLModel isEnabled"),
    Rule("rate_limiter", FIELD, (2, 12, 0), "ML Commons 2.12 release notes; MLRateLimiter"),
    Rule("guardrails", FIELD, (2, 13, 0), "ML Commons 2.13 release notes; Guardrails"),
    Rule("plugins.ml_commons.safe_delete_model", SETTING, (2, 19, 0),
         "ML Commons 2.19 release notes; MLCommonsSettings.ML_COMMONS_SAFE_DELETE_WITH_USAGE_CHECK (read as a "
         "setting by model.safe_delete_enabled: an older server has no such setting, so it counts as off)"),
    Rule("update in-use check answers 400", RULE, (2, 12, 0),
         "UpdateConnectorTransportAction: 'models are still using this connector, please undeploy the models "
         "first' (HTTP 500 in 2.11)"),
    Rule("delete in-use check answers 409", RULE, (2, 12, 0),
         "DeleteConnectorTransportAction: 'models are still using this connector, please delete or update the "
         "models first' (HTTP 500 in 2.11)"),
    Rule("connector update merges parameters", RULE, (2, 16, 0),
         "HttpConnector.update: parameters putAll since 2.16 (replaced whole in 2.12 to 2.15)"),
    Rule("name and description safe characters", RULE, (3, 1, 0),
         "MLCreateConnectorRequest, StringUtils (3.1); the collection applies it on every version"),
)
BY_KEY = {rule.key: rule for rule in RULES}

ML_COMPONENT = "opensearch-ml"


class Versions:
    """The versions one run read: ``opensearch`` and ``ml_commons`` (tuples, or ``None`` when unknown)."""

    def __init__(self, opensearch=None, ml_commons=None, distribution=None, note=None):
        self.opensearch = opensearch
        self.ml_commons = ml_commons
        self.distribution = distribution
        self.note = note


def parse_version(text):
    """``"2.19.1.0"`` or ``"3.6.0-SNAPSHOT"`` as ``(2, 19, 1)``; ``None`` when it is no version."""
    match = re.match(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?", str(text or ""))
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


def show(version):
    return ".".join(str(part) for part in version) if version else "an unknown version"


def _read(client, path, params=None):
    """A read whose refusal (any HTTP error: 403 for a user without cluster_monitor, or a gateway that
    does not pass the API on) means "not known", never a failure of the run. A 2xx answer of another
    shape, or no answer at all, still fails: the run could not go on either."""
    try:
        return client.get(path, params=params)
    except PolarSearchError as exc:
        if exc.status is not None and exc.status >= 400:
            return None
        raise


def read_versions(client):
    """Read the OpenSearch and ML Commons versions of the server (two GETs)."""
    root = _read(client, "")
    version = root.get("version") if isinstance(root, dict) else None
    version = version if isinstance(version, dict) else {}
    opensearch = parse_version(version.get("number"))
    distribution = version.get("distribution")
    plugins = _read(client, "_cat/plugins", params={"format": "json"})
    if isinstance(plugins, list):
        found = [parse_version(p.get("version")) for p in plugins
                 if isinstance(p, dict) and p.get("component") == ML_COMPONENT]
        found = [v for v in found if v]
        if found:
            return Versions(opensearch, min(found), distribution)
        if plugins:
            return Versions(opensearch, None, distribution, "the server lists no %s plugin" % ML_COMPONENT)
    if opensearch and distribution in (None, "opensearch"):
        return Versions(opensearch, opensearch, distribution, "ML Commons version taken from the OpenSearch version")
    return Versions(opensearch, None, distribution, "the server's ML Commons version could not be read")


def versions(client):
    """The versions, read once per run: kept on the run's read cache (which writes do not clear)
    or, without one, on the client (one client serves one run)."""
    holder = snapshot.of(client) or client
    known = getattr(holder, "server_versions", None)
    if known is None:
        known = read_versions(client)
        holder.server_versions = known
        if known.ml_commons is None and getattr(client, "warn", None) is not None:
            client.warn("%s, so options newer than the server are not checked before they are sent" % known.note)
    return known


def has(client, key):
    """True when the server has the rule ``key`` (or its version is unknown)."""
    running = versions(client).ml_commons
    return running is None or running >= BY_KEY[key].since


def require(client, key, option=None):
    """Fail before any write when the server is older than the rule ``key``; ``option`` names the
    option as the user wrote it."""
    if has(client, key):
        return
    rule = BY_KEY[key]
    raise ModuleFailure("%s needs ML Commons %s or later; this server runs %s (the server would drop it without an "
                        "error, so every later run would see drift): remove it, or upgrade the server"
                        % (option or key, show(rule.since[:2]), show(versions(client).ml_commons)),
                        needs=show(rule.since[:2]), server_version=show(versions(client).ml_commons))


def connector_needs(params):
    """``(rule key, option path)`` of every versioned field a connector's options set."""
    needs = []
    protocol = params.get("protocol")
    if protocol in ("mcp_sse", "mcp_streamable_http"):
        needs.append(("protocol %s" % protocol, "protocol %s" % protocol))
    client_config = params.get("client_config") or {}
    if any(v is not None for v in client_config.values()):
        needs.append(("client_config", "client_config"))
    for key, value in sorted(client_config.items()):
        if value is not None and "client_config.%s" % key in BY_KEY:
            needs.append(("client_config.%s" % key, "client_config.%s" % key))
    for index, action in enumerate(params.get("actions") or []):
        if action.get("name") is not None:
            needs.append(("actions[].name", "actions[%d].name" % index))
        if str(action.get("method") or "").upper() in ("PUT", "DELETE"):
            needs.append(("actions[].method PUT or DELETE", "actions[%d].method %s" % (index, action["method"])))
        if action.get("supports_structured_output"):
            needs.append(("actions[].supports_structured_output", "actions[%d].supports_structured_output" % index))
    return needs


# model options whose field the server stores under the same name (a row of RULES each)
MODEL_FIELDS = ("interface", "is_enabled", "rate_limiter", "guardrails")


def check_model(client, params, prefix=""):
    """Fail, before any write, on a model option the server is too old to keep (read only when one is set)."""
    for key in MODEL_FIELDS:
        if params.get(key) is not None:
            require(client, key, prefix + key)


def check_connector(client, params, prefix=""):
    """Fail, before any write, on a connector option the server is too old to keep. The version
    is read only when the options set a versioned field."""
    for key, option in connector_needs(params):
        require(client, key, prefix + option)
