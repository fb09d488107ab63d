# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connector writes: each one step through ``Context.act``, returning the predicted connector
in check mode so both runs walk the same path."""

from __future__ import annotations

import re

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError, answer_id
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ML, ModuleFailure
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_lookup import (
    get_connector,
    search_connectors,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_record import Connector
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_rules import FINGERPRINT, REPLACES
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.fingerprint import fingerprint
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.plan import Step

# Protocols whose connectors the server refuses without a credential.
CREDENTIAL_PROTOCOLS = ("http", "aws_sigv4")


def create_body(spec, request, replaces=None):
    """The create request: the spec with the create-only defaults, the credential and its fingerprint."""
    credential = request.credential
    body = dict(spec)
    body.setdefault("version", "1")
    body.setdefault("protocol", "http")
    if not credential and body["protocol"] in CREDENTIAL_PROTOCOLS:
        raise ModuleFailure("credential is required to create connector %r (the server stores it "
                            "encrypted and never returns it): set credential" % spec.get("name"))
    parameters = dict(body.get("parameters") or {})
    if credential:
        body["credential"] = dict(credential)
        parameters[FINGERPRINT] = fingerprint(credential, request.fingerprint_key)
    if replaces:
        parameters[REPLACES] = replaces
    body["parameters"] = parameters
    return body


def create_connector(context, spec, request, replaces=None, known_ids=()):
    """Create a connector. A create whose answer was lost is looked up by name, skipping
    ``known_ids`` (connectors that existed before, or that this run set aside)."""
    body = create_body(spec, request, replaces)
    # the request names the access ``access_mode``; the server stores and shows it as ``access``
    predicted = Connector.from_source(None, dict(body, access=body["access_mode"]) if "access_mode" in body else body)
    name = body["name"]

    def lookup():
        for connector in search_connectors(context.client, name):
            if connector.connector_id not in known_ids:
                return {"connector_id": connector.connector_id}
        return None

    def run():
        answer = context.client.post("%s/connectors/_create" % ML, body=body, lookup=lookup)
        # The predicted connector plus the new ID: the server also fills client_config defaults,
        # which check mode cannot know, so both runs report the same connector.
        return predicted.changed(connector_id=answer_id(answer, "connector_id", "POST %s/connectors/_create" % ML))

    return context.act(Step("create", "connector", name), run, predicted)


def update_connector(context, current, changes, request, rotate):
    """PUT the changed fields (and the credential with its new fingerprint when ``rotate``)."""
    body = dict(changes)
    if rotate:
        body["credential"] = dict(request.credential)
        body["parameters"] = dict(body.get("parameters") or {}, **{
            FINGERPRINT: fingerprint(request.credential, request.fingerprint_key)})
    fields = {k: v for k, v in changes.items() if k not in ("parameters", "access_mode")}
    if "access_mode" in changes:
        fields["access"] = changes["access_mode"]
    if "parameters" in changes:
        fields["parameters"] = dict(current.parameters or {}, **changes["parameters"])
    predicted = current.changed(**fields)
    names = sorted(set(changes) | ({"credential"} if rotate else set()))
    cid = current.connector_id

    def run():
        context.client.put("%s/connectors/%s" % (ML, cid), body=body)
        return get_connector(context.client, cid)

    return context.act(Step("update", "connector", current.name, cid, names), run, predicted)


def rename_connector(context, connector, name):
    """Rename a connector (the server allows it whatever uses the connector)."""
    cid = connector.connector_id

    def run():
        context.client.put("%s/connectors/%s" % (ML, cid), body={"name": name})
        return connector.changed(name=name)

    return context.act(Step("rename", "connector", connector.name, cid, ("name",)), run, connector.changed(name=name))


def delete_connector(context, connector, moved=(), timeout=0):
    """Delete the connector. ``moved``: IDs of the models this run just moved off it.

    The server's in-use check may still count those for a moment: on 2.19.1 the DELETE right after
    the models' PUT answered 409 naming the moved model, and 200 two seconds later (the check
    searches the models index before it refreshed). Such a refusal is waited out for up to
    ``timeout`` seconds; a 409 that names any other model fails at once.
    """
    cid = connector.connector_id
    path = "%s/connectors/%s" % (ML, cid)
    moved = set(moved)

    def attempt():
        try:
            return context.client.delete(path) or {}
        except PolarSearchError as exc:
            named = set(re.findall(r"[A-Za-z0-9_-]{8,}", (exc.reason or "").rsplit(":", 1)[-1]))
            if exc.status == 409 and moved and named <= moved:
                return None
            raise

    def run():
        return context.wait_for("the server to see that no model uses connector %s any more" % cid,
                                attempt, timeout)

    context.act(Step("delete", "connector", connector.name, cid), run)
