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
# MLCreateConnectorRequest / StringUtils (3.1+): the safe-character rule for name and description.
SAFE_TEXT = re.compile(r"^[\w\s.,!?():@\-/'\"]*$")


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
    for key, value in (params.get("credential") or {}).items():
        if isinstance(value, (dict, list)):
            raise ModuleFailure("credential.%s must be a string, not a %s" % (key, type(value).__name__))
