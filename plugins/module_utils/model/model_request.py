# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the user asked of one remote model, read once from the module's options at the door.

Everything below ``model.ensure_model`` takes this record, not the options: only the options set are
in it (``None`` for the others, and ``fields`` holds the optional stored fields the task sets). The
options themselves stay in ``options`` only for the input rules whose messages name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ModuleFailure, check_wait_timeout
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_fields import check_fields

# The optional fields a model stores under the option's name (``register`` sends them, ``update`` changes them).
OPTIONAL_FIELDS = ("interface", "is_enabled", "rate_limiter", "guardrails")


def validate(params):
    """The model's options, checked before any request: the wait and the structured fields."""
    check_wait_timeout(params)
    if params.get("wait_timeout") == 0 and params.get("state") == "deployed" and params.get("wait", True):
        raise ModuleFailure("wait_timeout is 0 with state deployed, so the deploy could never be waited for: give "
                            "the seconds to wait, such as 300, or set wait to false")
    check_fields(params)


@dataclass(frozen=True)
class ModelRequest:
    """One remote model as the task asks for it."""

    state: str
    name: str | None = None
    model_id: str | None = None
    description: str | None = None
    connector: str | None = None
    connector_id: str | None = None
    model_group: str | None = None
    model_group_id: str | None = None
    fields: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    wait: bool = True
    wait_timeout: int = 300
    duplicates: str | None = None
    force_delete_referenced: bool = False
    removed_first: tuple = ()
    options: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_params(cls, params):
        """Check the options (``validate``) and read them into a request."""
        validate(params)
        return cls(
            state=params.get("state") or "present",
            name=params.get("name"),
            model_id=params.get("model_id"),
            description=params.get("description"),
            connector=params.get("connector"),
            connector_id=params.get("connector_id"),
            model_group=params.get("model_group"),
            model_group_id=params.get("model_group_id"),
            fields=MappingProxyType({k: params[k] for k in OPTIONAL_FIELDS if params.get(k) is not None}),
            wait=params.get("wait", True) is not False,
            wait_timeout=params.get("wait_timeout") if params.get("wait_timeout") is not None else 300,
            duplicates=params.get("duplicates"),
            force_delete_referenced=bool(params.get("force_delete_referenced")),
            removed_first=tuple(params.get("removed_first") or ()),
            options=MappingProxyType({k: v for k, v in params.items() if v is not None}),
        )

    @property
    def group_wanted(self):
        """The task names a model group (``model_group`` or ``model_group_id``)."""
        return bool(self.model_group or self.model_group_id)
