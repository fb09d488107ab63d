# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the user asked of one connector, read once from the module's options at the door.

Everything below ``connector.ensure_connector`` takes this record, not the options: ``spec`` is the
connector the options describe in the server's field names (only the options set), and the other
fields say how to converge it. The options themselves stay in ``options`` only for the input rules
whose messages name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_drift import desired_spec
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_rules import validate
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.fingerprint import fingerprint_matches

# What a run shows for the credential in its diff (never the value).
SET, CHANGED, UNKNOWN = "set", "changed", "unknown"


@dataclass(frozen=True)
class ConnectorRequest:
    """One connector as the task asks for it."""

    state: str
    name: str | None = None
    connector_id: str | None = None
    spec: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    credential: MappingProxyType | None = None
    credential_update: str = "on_change"
    fingerprint_key: str | None = None
    on_deployed_models: str = "replace"
    duplicates: str | None = None
    add_all_backend_roles: bool = False
    wait_timeout: int = 300
    options: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_params(cls, params):
        """Check the options (``connector_rules.validate``) and read them into a request."""
        validate(params)
        credential = params.get("credential")
        return cls(
            state=params.get("state") or "present",
            name=params.get("name"),
            connector_id=params.get("connector_id"),
            spec=MappingProxyType(desired_spec(params)),
            credential=MappingProxyType({str(k): str(v) for k, v in credential.items()}) if credential else None,
            credential_update=params.get("credential_update") or "on_change",
            fingerprint_key=params.get("fingerprint_key"),
            on_deployed_models=params.get("on_deployed_models") or "replace",
            duplicates=params.get("duplicates"),
            add_all_backend_roles=bool(params.get("add_all_backend_roles")),
            wait_timeout=params.get("wait_timeout") or 300,
            options=MappingProxyType({k: v for k, v in params.items() if v is not None}),
        )

    @property
    def by_name(self):
        """The task names the connector by name only (no ``connector_id``)."""
        return bool(self.name) and not self.connector_id

    def desired(self):
        """The connector's fields the task sets (a copy the caller may change)."""
        return dict(self.spec)

    def credential_plan(self, current, deployed):
        """What this run does with the credential of ``current`` (see :class:`CredentialPlan`)."""
        if self.credential is None or current is None:
            return CredentialPlan(given=self.credential is not None)
        unknown = self.credential_update == "on_change" and not current.fingerprint
        if self.credential_update == "always":
            write = True
        elif self.credential_update == "on_create":
            write = False
        else:
            write = not fingerprint_matches(current.fingerprint, self.credential, self.fingerprint_key)
        if unknown and deployed:
            # Adoption: a credential that cannot be compared is never a reason to replace the connector
            # or undeploy its models; it is written (with its fingerprint) once an update in place can be.
            write = False
        return CredentialPlan(given=True, write=write, unknown=unknown)


@dataclass(frozen=True)
class CredentialPlan:
    """The credential of one run: given by the task, written by it (``write``: a rotation), and whether
    the connector's fingerprint could tell ( ``unknown``: a connector made outside the collection)."""

    given: bool = False
    write: bool = False
    unknown: bool = False

    def shown(self, sent):
        """(before, after) of the credential in the diff, or None to show nothing; ``sent``: this run
        sends the credential (a rotation or a replace)."""
        if self.given and sent:
            return (UNKNOWN if self.unknown else SET,
                    SET if self.unknown else CHANGED if self.write else SET)
        if self.unknown:
            return UNKNOWN, UNKNOWN
        return None

    def compared(self, sent):
        """``credential_compared``: the run knows the stored credential is the one given."""
        return not self.unknown or sent
