# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A connector as the collection reads it: a typed record, and the view modules return."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import drop_none, to_server_string
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_rules import (
    FINGERPRINT,
    INTERNAL_PARAMETERS,
    REPLACES,
    normalize_action,
)

# The fields of a connector, in the order a view shows them (server names; ``access`` is the
# ``access_mode`` option).
PUBLIC_FIELDS = ("connector_id", "name", "description", "version", "protocol", "parameters", "url", "headers",
                 "actions", "client_config", "access", "backend_roles")


@dataclass(frozen=True)
class Connector:
    """One connector. ``fingerprint`` and ``replaces`` come from the internal parameters and never
    show in a view; ``connector_id`` is ``None`` for one a check-mode run would create."""

    connector_id: str | None
    name: str | None = None
    description: str | None = None
    version: str | None = None
    protocol: str | None = None
    parameters: dict = field(default_factory=dict)
    url: str | None = None
    headers: dict | None = None
    actions: list = field(default_factory=list)
    client_config: dict | None = None
    access: str | None = None
    backend_roles: list | None = None
    fingerprint: str | None = None
    replaces: str | None = None
    created_time: int | None = None

    @classmethod
    def from_source(cls, connector_id, source):
        """The connector from a server document (``_source`` of a search hit, or a GET answer)."""
        if source is None:
            return None
        parameters = dict(source.get("parameters") or {})
        return cls(
            connector_id=connector_id,
            name=source.get("name"),
            description=source.get("description"),
            version=to_server_string(source.get("version")),
            protocol=source.get("protocol"),
            parameters={k: v for k, v in parameters.items() if k not in INTERNAL_PARAMETERS},
            url=source.get("url"),
            headers=source.get("headers"),
            actions=[normalize_action(a) for a in source.get("actions") or []],
            client_config=source.get("client_config"),
            access=source.get("access"),
            backend_roles=source.get("backend_roles"),
            fingerprint=parameters.get(FINGERPRINT),
            replaces=parameters.get(REPLACES),
            created_time=source.get("created_time"),
        )

    def public(self):
        """The connector as modules return it and diffs show it: option names, no internal data."""
        return drop_none({name: getattr(self, name) for name in PUBLIC_FIELDS})

    def get(self, name, default=None):
        value = getattr(self, name, None)
        return default if value is None else value

    def changed(self, **fields):
        return replace(self, **fields)


def public(connector):
    """The view of a connector, or ``None``."""
    return None if connector is None else connector.public()
