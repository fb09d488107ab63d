# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ml_stack role's teardown may remove, decided from the connectors on the whole cluster."""

from __future__ import annotations

import re

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.names import PENDING_DELETE_NAME, SET_ASIDE_NAME
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_lookup import search_connectors
from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.in_use import hidden_users_failure, unseen_users
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import (
    get_model,
    is_deployed,
    models_using_connector,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_group import user_info
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.settings import is_enabled

# ML Commons fills an action URL from the connector's parameters (a StringSubstitutor with the prefix
# "${parameters." and the suffix "}"; "name:-default" gives a default) before it checks the URL
# against the trusted endpoint regexes, which must match the whole URL (Matcher.matches()).
PLACEHOLDER = re.compile(r"\$\{parameters\.([^}:]+)(?::-([^}]*))?\}")
# With it true, a non-admin user's connector _search finds only the connectors it may access
# (ConnectorAccessControlHelper adds the access filter to the search); an admin (all_access) finds all.
CONNECTOR_ACCESS_CONTROL = "plugins.ml_commons.connector_access_control_enabled"


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
        name = entry["connector"]["name"]
        names |= {name, SET_ASIDE_NAME % name, PENDING_DELETE_NAME % name}
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


def foreign_blockers(stack, connectors, models_absent, deployed=None):
    """Check mode: why a real teardown would fail to delete a connector of the stack.

    The server refuses to delete a connector while models it counts as its users exist (see
    ``delete_blocked_by`` of polarsearch_connector_info); the models the teardown deletes first do
    not count. One message per connector that other models block. With ``deployed`` (model IDs ->
    those deployed now), a model of another connector that only shares a term of the ID counts only
    when deployed: the real run sets the connector aside (renamed) for an undeployed one
    (``connector_replace.delete_or_set_aside``).
    """
    deleted = {step.get("id") for result in (models_absent or {}).values()
               for step in result.get("plan") or []
               if isinstance(step, dict) and step.get("kind") == "model" and step.get("operation") == "delete"}
    names = {entry["connector"]["name"] for entry in stack.get("absent") or []}
    problems = []
    for connector in connectors or []:
        if connector.get("name") not in names:
            continue
        foreign = set(connector.get("delete_blocked_by") or []) - deleted
        if deployed is not None:
            sharing = foreign - set(connector.get("models") or [])
            foreign -= sharing - set(deployed(sorted(sharing)) if sharing else ())
        foreign = sorted(foreign)
        if foreign:
            problems.append(
                "the server counts model(s) %s, which are not absent models of this stack, as users of connector %s; "
                "a real run would fail to delete it" % (", ".join(foreign), connector.get("name")))
    return problems


def check_unseen_users(context, stack):
    """Before the teardown deletes anything: fail when the server counts models the caller cannot see
    (model access control) as users of a connector the teardown deletes. The teardown would delete
    the stack's models and then be refused the connector; so it changes nothing and names them.
    The server is asked while the stack's own models still use the connector (``in_use.unseen_users``)."""
    for entry in stack.get("absent") or []:
        for connector in search_connectors(context.client, entry["connector"]["name"]):
            users = models_using_connector(context.client, connector.connector_id)
            unseen, count = unseen_users(context, connector, users)
            if count:
                raise hidden_users_failure(context.client, connector, unseen, count, "deleted by this teardown")


def sees_every_connector(client):
    """True when the caller's connector search finds every connector: no security plugin, an admin, or
    connector access control off. A caller that may not read the settings is taken not to."""
    user = user_info(client)
    if user is None or user["admin"]:
        return True
    try:
        return not is_enabled(client, CONNECTOR_ACCESS_CONTROL)
    except PolarSearchError:
        return False


def removable_regexes(client, unused, told):
    """(entries to remove, warning or None): the entries nothing the caller sees needs are removed only
    when it sees every connector (another team's connector it cannot see may need one; on 3.7+ the
    server checks the entries on every predict), or when ``told`` (remove_unseen_trusted_endpoints)."""
    if not unused or told or sees_every_connector(client):
        return unused, None
    return [], ("kept the trusted endpoint entries %s although no connector this user can see needs them: with %s "
                "true it cannot see other users' connectors, which may need them. An admin can remove them, or set "
                "remove_unseen_trusted_endpoints (ml_stack_remove_unseen_trusted_endpoints) to remove them anyway"
                % (", ".join(unused), CONNECTOR_ACCESS_CONTROL))


def deployed_ids(client, model_ids):
    """Of ``model_ids``, those deployed now (a GET is real time; a model it cannot read counts)."""
    out = []
    for model_id in model_ids:
        try:
            model = get_model(client, model_id)
        except PolarSearchError:
            model = {"model_state": "DEPLOYED"}
        if model is None:
            continue
        if is_deployed(model):
            out.append(model_id)
    return out
