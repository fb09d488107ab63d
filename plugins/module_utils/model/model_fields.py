# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the server stores the structured model fields: one table, used to validate input, to predict
what the server keeps and to compare it with what it returns.

Each rule names the keys ML Commons parses (``MLModel`` and the field classes it builds); the parser
skips any other key without a word, so a task carrying one would report a change on every run. Such
a key is refused before anything is written. Checked against a 3.6 node:

- ``interface``: only ``input`` and ``output`` are kept, each stored as a compact JSON string.
- ``rate_limiter``: ``limit`` is stored as a string; ``unit`` must be a java ``TimeUnit`` name in upper
  case (``minutes`` is refused with 400 "No enum constant java.util.concurrent.TimeUnit.minutes").
- ``guardrails``: ``type``, ``input_guardrail``, ``output_guardrail``; a guardrail keeps ``stop_words``
  and ``regex`` (``local_regex``) or ``model_id``, ``response_filter`` and
  ``response_validation_regex`` (``model``); an empty list is not stored.
- An update (PUT) merges each of these objects key by key into the stored one (an OpenSearch partial
  update), so a key the user leaves out keeps its server value: compare only the keys given.
"""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import (
    ModuleFailure,
    drop_none,
    parse_json_text,
    subset_differs,
    to_server_string,
)

TIME_UNITS = ("NANOSECONDS", "MICROSECONDS", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS")
GUARDRAIL_KEYS = ("stop_words", "regex", "model_id", "response_filter", "response_validation_regex")

FIELD_RULES = {
    "interface": {"keys": ("input", "output"), "json_values": True},
    "rate_limiter": {"keys": ("limit", "unit"), "choices": {"unit": TIME_UNITS}, "strings": ("limit",)},
    "guardrails": {"keys": ("type", "input_guardrail", "output_guardrail"),
                   "nested": {"input_guardrail": GUARDRAIL_KEYS, "output_guardrail": GUARDRAIL_KEYS}},
}


def _unknown(option, value, keys):
    unknown = sorted(k for k in value if k not in keys)
    if unknown:
        raise ModuleFailure("%s: the server keeps only %s and drops %s; remove %s" % (
            option, ", ".join(keys), ", ".join(unknown), ", ".join(unknown)))


def _json_object(option, value):
    """An interface schema: a mapping, or the JSON text of one."""
    if value is None or isinstance(value, dict):
        return
    parsed = parse_json_text(value) if isinstance(value, str) else value
    if not isinstance(parsed, dict):
        raise ModuleFailure("%s must be a JSON schema object (a mapping, or its JSON text), not %r: give, such as, "
                            "{type: object, properties: {parameters: {type: object}}}" % (option, value))


def check_fields(params):
    """Refuse what the server would drop or refuse, naming the option, the key and the accepted ones."""
    for field, rule in FIELD_RULES.items():
        value = params.get(field)
        if value is None:
            continue
        _unknown(field, value, rule["keys"])
        if rule.get("json_values"):
            for key in rule["keys"]:
                _json_object("%s.%s" % (field, key), value.get(key))
        for key, keys in rule.get("nested", {}).items():
            if isinstance(value.get(key), dict):
                _unknown("%s.%s" % (field, key), value[key], keys)
        for key, choices in rule.get("choices", {}).items():
            if value.get(key) is not None and value[key] not in choices:
                raise ModuleFailure("%s.%s must be one of %s (upper case), not %r" % (
                    field, key, ", ".join(choices), value[key]))


def _drop_empty(value):
    if isinstance(value, dict):
        return {k: _drop_empty(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def server_form(field, value):
    """The value as the server will return it (for prediction and comparison)."""
    if value is None:
        return None
    rule = FIELD_RULES[field]
    out = _drop_empty(drop_none(value))
    if rule.get("json_values"):
        out = {k: parse_json_text(v) for k, v in out.items()}
    for key in rule.get("strings", ()):
        if out.get(key) is not None:
            out[key] = to_server_string(out[key])
    return out


def merged(field, current, change):
    """What the server keeps after an update: the change merged key by key into the stored value."""
    out = dict(server_form(field, current) or {})
    for key, value in (server_form(field, change) or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not FIELD_RULES[field].get("json_values"):
            out[key] = dict(out[key], **value)
        else:
            out[key] = value
    return out


def differs(field, wanted, current):
    """True when a key the user set differs from the server's value (the others are left alone)."""
    if FIELD_RULES[field].get("json_values"):
        # Each value is one JSON text on the server, replaced as a whole: compare it whole.
        current = server_form(field, current) or {}
        return any(current.get(k) != v for k, v in server_form(field, wanted).items())
    return subset_differs(server_form(field, wanted), server_form(field, current) if current is not None else None)
