# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the user asked of one index, read once from the module's options at the door.

Everything below ``index.ensure_index`` takes this record, not the options: ``mappings`` is the
mappings option as given (``None`` when unset) and ``settings`` the settings option in the form the
server returns them with ``flat_settings`` (``index.`` prefix, every value a string; empty when unset).
The input rules (``validate``) run first, before any request, and their messages name the options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field as dataclass_field
from types import MappingProxyType

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ModuleFailure, to_server_string

# Set by the server at creation; never settable.
PRIVATE_SETTINGS = frozenset(("index.uuid", "index.creation_date", "index.provided_name", "index.version.created",
                              "index.version.upgraded"))


# -- input ---------------------------------------------------------------------------------
def name_problem(name, option="name"):
    """Why ``name`` is not a valid index name, naming ``option``, or None."""
    if not name or name != name.lower() or name.startswith(("_", "-", "+")) or name in (".", "..") \
            or any(c in name for c in ' \\/*?"<>|,#:'):
        example = re.sub(r'[\s\\/*?"<>|,#:]+', "-", str(name).lower()).lstrip("_-+") or "my-index"
        return ("%s %r is not a valid index name: use lower case, no spaces or any of \\/*?\"<>|,#: and no leading "
                "_, - or +, such as %r" % (option, name, example))
    return None


def property_path(dotted):
    """``a.b`` (a flat_properties name) as the option path ``mappings.properties.a.properties.b``."""
    return "mappings.properties." + ".properties.".join(dotted.split("."))


def check_dimension(field, spec):
    """A knn_vector's dimension is a whole number of 1 or more."""
    if spec.get("type") != "knn_vector" or "dimension" not in spec:
        return
    value = spec["dimension"]
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise ModuleFailure("%s.dimension is %r: give the vector length as a whole number of 1 or more, the length "
                            "of the embedding model's vectors, such as 1024" % (property_path(field), value))


def validate(params):
    """Bad input fails here, before any request, with the option and the fix."""
    problem = name_problem(params["name"])
    if problem:
        raise ModuleFailure(problem)
    mappings = params.get("mappings")
    if mappings is not None:
        if "properties" in mappings and not isinstance(mappings["properties"], dict):
            raise ModuleFailure("mappings.properties must be a mapping of field names to field mappings, for "
                                "example {text: {type: text}}")
        for field, spec in flat_properties(mappings.get("properties") or {}).items():
            if not isinstance(spec, dict):
                raise ModuleFailure("%s must be a mapping such as {type: keyword}" % property_path(field))
            check_dimension(field, spec)
        if "_meta" in mappings and not isinstance(mappings["_meta"], dict):
            raise ModuleFailure("mappings._meta must be a mapping")
    for key in normalise_settings(params.get("settings")):
        if key in PRIVATE_SETTINGS:
            raise ModuleFailure("settings.%s is set by the server when it creates the index and cannot be given: "
                                "remove it from settings" % key)


def flat_properties(properties, prefix=""):
    """``{dotted field name: its mapping}`` for every field, objects' sub-fields included."""
    out = {}
    for field, spec in (properties or {}).items():
        name = prefix + str(field)
        out[name] = spec
        if isinstance(spec, dict) and isinstance(spec.get("properties"), dict):
            out.update(flat_properties(spec["properties"], name + "."))
    return out


def server_value(value):
    """A setting value as the server returns it with flat_settings: a string (lists: of strings)."""
    if isinstance(value, (list, tuple)):
        return [server_value(v) for v in value]
    return to_server_string(value)


def normalise_settings(settings, prefix=""):
    """Flat ``index.``-prefixed keys with string values, as ``GET NAME/_settings?flat_settings=true`` answers."""
    flat = {}
    for key, value in (settings or {}).items():
        name = "%s.%s" % (prefix, key) if prefix else str(key)
        if isinstance(value, dict):
            flat.update(normalise_settings(value, name))
        elif value is not None:
            flat[name if name.startswith("index.") else "index." + name] = server_value(value)
    return flat


# -- the request ---------------------------------------------------------------------------
@dataclass(frozen=True)
class IndexRequest:
    """One index as the task asks for it."""

    state: str
    name: str
    mappings: MappingProxyType | None = None
    settings: MappingProxyType = dataclass_field(default_factory=lambda: MappingProxyType({}))
    recreate: bool = False
    only_if_managed: bool = False

    @classmethod
    def from_params(cls, params):
        """Check the options (``validate``) and read them into a request."""
        validate(params)
        mappings = params.get("mappings")
        return cls(
            state=params.get("state") or "present",
            name=params["name"],
            mappings=MappingProxyType(dict(mappings)) if mappings is not None else None,
            settings=MappingProxyType(normalise_settings(params.get("settings"))),
            recreate=bool(params.get("recreate")),
            only_if_managed=bool(params.get("only_if_managed")),
        )

    def declared_mappings(self):
        """The mappings the task declares (a copy the caller may change; ``{}`` when it declares none)."""
        return dict(self.mappings or {})

    def flat_settings(self):
        """The settings the task gives, flat (a copy the caller may change; ``{}`` when it gives none)."""
        return dict(self.settings)
