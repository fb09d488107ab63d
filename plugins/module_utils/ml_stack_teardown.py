# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ml_stack role's teardown may remove, decided from the connectors on the whole cluster."""

from __future__ import annotations

import re

from ansible_collections.polardb.polarsearch.plugins.module_utils.names import SET_ASIDE_NAME

# ML Commons fills an action URL from the connector's parameters (a StringSubstitutor with the prefix
# "${parameters." and the suffix "}"; "name:-default" gives a default) before it checks the URL
# against the trusted endpoint regexes, which must match the whole URL (Matcher.matches()).
PLACEHOLDER = re.compile(r"\$\{parameters\.([^}:]+)(?::-([^}]*))?\}")


def action_urls(connector):
    """The URLs a connector calls, with its parameters filled in as the server does."""
    parameters = connector.get("parameters") or {}

    def fill(match):
        value = parameters.get(match.group(1))
        if value is not None:
            return str(value)
        return match.group(2) if match.group(2) is not None else match.group(0)

    return [PLACEHOLDER.sub(fill, str(action.get("url") or "")) for action in connector.get("actions") or []]


def deleted_names(stack):
    """Names of the connectors the teardown deletes: the absent entries' and their set-aside twins."""
    names = set()
    for entry in stack.get("absent") or []:
        names |= {entry["connector"]["name"], SET_ASIDE_NAME % entry["connector"]["name"]}
    return names


def remaining(stack, connectors):
    """The listed connectors the teardown does not delete."""
    gone = deleted_names(stack)
    return [c for c in connectors or [] if c.get("name") not in gone]


def needed_by(regex, connectors):
    """The names of the connectors whose URL the trusted endpoint entry ``regex`` matches."""
    pattern = re.compile(regex)
    return sorted({c.get("name") or c.get("connector_id") for c in connectors
                   if any(pattern.fullmatch(url) for url in action_urls(c))})


def unused_regexes(stack, connectors):
    """The derived trusted endpoint entries of the absent entries that nothing needs any more: no
    entry that stays uses them, and no connector left on the cluster has a URL they match."""
    staying = {entry["regex"] for entry in stack.get("present") or []}
    others = remaining(stack, connectors)
    out = []
    for entry in stack.get("absent") or []:
        regex = entry["regex"]
        if regex not in out and regex not in staying and not needed_by(regex, others):
            out.append(regex)
    return out


def foreign_blockers(stack, connectors, models_absent):
    """Check mode: why a real teardown would fail to delete a connector of the stack.

    The server refuses to delete a connector while models it counts as its users exist (see
    ``delete_blocked_by`` of polarsearch_connector_info); the models the teardown deletes first do
    not count. One message per connector that other models block.
    """
    deleted = {step.get("id") for result in (models_absent or {}).get("results") or []
               for step in result.get("plan") or []
               if isinstance(step, dict) and step.get("kind") == "model" and step.get("operation") == "delete"}
    names = {entry["connector"]["name"] for entry in stack.get("absent") or []}
    problems = []
    for connector in connectors or []:
        if connector.get("name") not in names:
            continue
        foreign = sorted(set(connector.get("delete_blocked_by") or []) - deleted)
        if foreign:
            problems.append(
                "the server counts model(s) %s, which are not absent models of this stack, as users of connector %s; "
                "a real run would fail to delete it" % (", ".join(foreign), connector.get("name")))
    return problems
