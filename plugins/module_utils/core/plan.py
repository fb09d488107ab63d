# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One write of a run, as data: what the modules return in ``plan``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One write: its operation, the kind of object, the object's name and ID, the fields it writes.

    ``id`` is ``None`` for an object that does not exist before the run (so a check-mode plan and
    the real run's plan are equal); ``fields`` holds field names only, never values ("credential"
    for a credential).
    """

    operation: str
    kind: str
    name: str | None = None
    id: str | None = None
    fields: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "fields", tuple(self.fields or ()))

    def as_dict(self):
        return {"operation": self.operation, "kind": self.kind, "name": self.name, "id": self.id,
                "fields": list(self.fields)}

    def __str__(self):
        text = "%s %s" % (self.operation, self.kind.replace("_", " "))
        if self.name:
            text += " %s" % self.name
        if self.id:
            text += " (%s)" % self.id
        if self.fields:
            text += ": %s" % ", ".join(self.fields)
        return text
