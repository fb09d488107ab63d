# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An index with the mappings and settings the user declares, such as a k-NN index for a stack.

Only what the user set is compared: the mapping properties (and their parameters) they declare, the
top-level mapping keys they give (``dynamic``, ``_meta``), and the settings they give, normalised as
the server returns them with ``flat_settings`` (``index.`` prefix, every value a string).

What the server can change on an open index is changed in place: new properties, ``dynamic``,
``_meta`` and dynamic settings (``index.default_pipeline``, ``index.search.default_pipeline``,
``index.number_of_replicas``...). A changed parameter of an existing field (a type, a vector
dimension) or a static setting (``index.knn``, ``index.number_of_shards``) cannot be changed in place:
that fails before any write, naming the field or setting and the fix, unless ``recreate`` allows
deleting the index (and its documents) and creating it anew.

An index this module creates carries ``_meta.managed_by: polardb.polarsearch`` in its mappings, so a
teardown can delete only the indexes the collection created (``only_if_managed``).

``ensure_index`` reads the options once into an ``IndexRequest`` (``index_request``, where the input
rules are); everything below it takes the request.
"""

from __future__ import annotations

from urllib.parse import quote

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import (
    ModuleFailure,
    diff_of,
    to_server_string,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.plan import Step
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.index_request import (
    IndexRequest,
    flat_properties,
    server_value,
)

MARKER_KEY = "managed_by"
MARKER = "polardb.polarsearch"
# Settings an open index cannot change (OpenSearch IndexScopedSettings without Property.Dynamic,
# and the k-NN plugin's index.knn); the analysis and similarity settings need a closed index.
STATIC_SETTINGS = frozenset((
    "index.number_of_shards", "index.number_of_routing_shards", "index.routing_partition_size", "index.codec",
    "index.knn", "index.soft_deletes.enabled", "index.load_fixed_bitset_filters_eagerly",
    "index.shard.check_on_startup", "index.store.type", "index.replication.type", "index.format",
))
STATIC_PREFIXES = ("index.sort.", "index.analysis.", "index.similarity.", "index.store.")
# Field parameters the server updates on an existing field (PUT _mapping merges them).
UPDATABLE_FIELD_PARAMETERS = frozenset(("ignore_above",))
RECREATE_FIX = ("give the field a new name, or set recreate: true to delete the index with all its documents "
                "and create it anew")


# -- paths and static settings -------------------------------------------------------------
def index_path(name, tail=""):
    return quote(name, safe="") + tail


def is_static(key):
    return key in STATIC_SETTINGS or key.startswith(STATIC_PREFIXES)


# -- reading -------------------------------------------------------------------------------
def get_index(client, name):
    """``{mappings, settings}`` (settings flat) of the index ``name``, or ``None`` when it does not exist."""
    answer = client.get(index_path(name), params={"flat_settings": "true"}, missing_ok=True)
    if not isinstance(answer, dict) or not answer:
        return None
    if name not in answer:
        raise ModuleFailure("name %s is an alias of the index %s, not an index: give the index name, or another "
                            "name for a new index" % (name, ", ".join(sorted(answer))))
    body = answer[name]
    return {"mappings": body.get("mappings") or {}, "settings": body.get("settings") or {}}


def is_managed(index):
    meta = ((index or {}).get("mappings") or {}).get("_meta") or {}
    return isinstance(meta, dict) and meta.get(MARKER_KEY) == MARKER


# -- comparing -----------------------------------------------------------------------------
def same(desired, current):
    """Scalars compare by their server string (``3`` and ``"3"``, ``false`` and ``"false"``)."""
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(same(v, current.get(k)) for k, v in desired.items()
                                                 if v is not None)
    if isinstance(desired, list):
        return isinstance(current, list) and len(desired) == len(current) and all(
            same(d, c) for d, c in zip(desired, current))
    return server_value(desired) == server_value(current) if current is not None else False


def project(desired, current):
    """``current`` reduced to the keys set in ``desired`` (what the user sees compared)."""
    if isinstance(desired, dict) and isinstance(current, dict):
        return {k: project(v, current[k]) for k, v in desired.items() if k in current and v is not None}
    return current


def mapping_changes(desired, current):
    """``(new fields, in-place field updates, refused changes)`` between the declared and stored properties.

    A field the index does not have is added. A declared parameter of an existing field that differs
    from the stored one cannot change in place (the server refuses to change a type, a dimension, an
    analyzer...), except the parameters in UPDATABLE_FIELD_PARAMETERS.
    """
    new, updates, refused = {}, {}, []
    stored = flat_properties(current)
    for field, spec in flat_properties(desired).items():
        have = stored.get(field)
        if have is None:
            parent = field.rpartition(".")[0]
            if not parent or parent in stored:
                new[field] = spec
            continue
        for key, value in spec.items():
            if key == "properties" or value is None or same(value, have.get(key)):
                continue
            if key in UPDATABLE_FIELD_PARAMETERS:
                updates.setdefault(field, {})[key] = value
            else:
                refused.append((field, key, have.get(key), value))
    return new, updates, refused


def nest_fields(fields, current_properties):
    """A ``properties`` body for PUT _mapping that adds the dotted ``fields`` or updates them (an update
    repeats the field's stored type, which the server requires)."""
    body = {}
    stored = flat_properties(current_properties)
    for field, spec in fields.items():
        parts = field.split(".")
        node = body
        for part in parts[:-1]:
            node = node.setdefault(part, {}).setdefault("properties", {})
        leaf = node.setdefault(parts[-1], {})
        if field in stored:
            leaf["type"] = stored[field].get("type")
            leaf.update({k: v for k, v in spec.items() if k != "properties"})
        else:
            leaf.update(spec)
    return body


def plan_changes(request, current):
    """What a run must write to make ``current`` match the request: a dict with ``recreate`` (a change
    that cannot happen in place, with the reason), ``properties`` (PUT _mapping body of fields),
    ``mapping_keys`` (top-level mapping keys such as dynamic and _meta), ``settings`` (dynamic ones)."""
    mappings = request.mappings or {}
    settings = request.settings
    stored_mappings = current["mappings"]
    new, updates, refused = mapping_changes(mappings.get("properties") or {}, stored_mappings.get("properties") or {})
    reasons = ["mappings.properties.%s.%s is %s on the server and %s in the input" % (
        field, key, "unset" if have is None else to_server_string(have), to_server_string(want))
        for field, key, have, want in refused]
    mapping_keys = {}
    for key, value in mappings.items():
        if key == "properties" or value is None:
            continue
        if key == "_meta":
            meta = dict(stored_mappings.get("_meta") or {})
            if not same(value, meta):
                meta.update(value)
                mapping_keys["_meta"] = meta
        elif not same(value, stored_mappings.get(key)):
            mapping_keys[key] = value
    changed_settings = {k: v for k, v in settings.items() if not same(v, current["settings"].get(k))}
    reasons += ["settings.%s is %s on the server and %s in the input, and it is a static setting" % (
        key, current["settings"].get(key, "unset"), value)
        for key, value in changed_settings.items() if is_static(key)]
    return {"reasons": reasons, "new": new, "updates": updates, "mapping_keys": mapping_keys,
            "settings": changed_settings}


def create_body(request):
    mappings = request.declared_mappings()
    mappings["_meta"] = dict(mappings.get("_meta") or {}, **{MARKER_KEY: MARKER})
    body = {"mappings": {k: v for k, v in mappings.items() if v is not None}}
    settings = request.flat_settings()
    if settings:
        body["settings"] = settings
    return body


def view(request, index):
    """What the run shows and returns of an index: the declared mapping keys and the given settings,
    as stored, plus the marker; ``{}`` when there is no index."""
    if index is None:
        return {}
    mappings = request.declared_mappings()
    mappings["_meta"] = dict(mappings.get("_meta") or {}, **{MARKER_KEY: None})
    meta = (index["mappings"].get("_meta") or {})
    shown = project({k: v for k, v in mappings.items() if k != "_meta"}, index["mappings"])
    shown_meta = {k: meta[k] for k in list(mappings["_meta"]) if k in meta}
    if shown_meta:
        shown["_meta"] = shown_meta
    settings = {k: index["settings"][k] for k in request.settings if k in index["settings"]}
    return {"mappings": shown, "settings": settings}


def predicted(current, changes, request):
    """The index after the changes, as a re-read would show it (check mode)."""
    if current is None:
        body = create_body(request)
        return {"mappings": body["mappings"], "settings": dict(body.get("settings") or {})}
    mappings = dict(current["mappings"])
    stored = mappings.get("properties") or {}
    properties = merge(stored, nest_fields(dict(changes["new"], **changes["updates"]), stored))
    mappings.update(changes["mapping_keys"], properties=properties)
    return {"mappings": mappings, "settings": dict(current["settings"], **changes["settings"])}


def merge(current, change):
    out = dict(current)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


# -- writes --------------------------------------------------------------------------------
def step(operation, name, fields=()):
    """One plan entry on the index ``name``: create, update_mappings, update_settings or delete."""
    return Step(operation, "index", name, None, tuple(fields))


def write(context, entry, func, predicted_answer=None):
    """Every index write goes through here (and so through Context.act)."""
    return context.act(entry, func, predicted_answer)


def create_index(context, request):
    name = request.name
    body = create_body(request)
    fields = ["mappings.properties.%s" % f for f in flat_properties(body["mappings"].get("properties") or {})]
    fields += ["mappings.%s" % k for k in body["mappings"] if k != "properties"]
    fields += ["settings.%s" % k for k in body.get("settings") or {}]

    def lookup():
        # A create whose answer was lost: the index it made, found as it was sent (the marker and the
        # declared fields and settings), counts as made by this run; another index of the name does not.
        found = get_index(context.client, name)
        if found is None or not is_managed(found):
            return None
        changes = plan_changes(request, found)
        if changes["reasons"] or changes["new"] or changes["updates"] or changes["settings"]:
            return None
        return {"acknowledged": True, "index": name}

    write(context, step("create", name, fields),
          lambda: context.client.put(index_path(name), body=body, lookup=lookup))


def update_index(context, request, current, changes):
    name, client = request.name, context.client
    fields = dict(changes["new"], **changes["updates"])
    if fields or changes["mapping_keys"]:
        body = dict(changes["mapping_keys"])
        if fields:
            body["properties"] = nest_fields(fields, current["mappings"].get("properties") or {})
        names = ["mappings.properties.%s" % f for f in fields] + ["mappings.%s" % k for k in changes["mapping_keys"]]
        write(context, step("update", name, names), lambda: client.put(index_path(name, "/_mapping"), body=body))
    if changes["settings"]:
        body = dict(changes["settings"])

        def put_settings():
            try:
                return client.put(index_path(name, "/_settings"), body=body)
            except PolarSearchError as exc:
                if exc.status == 400 and "non dynamic settings" in str(exc):
                    raise ModuleFailure("the server cannot change the setting(s) %s of the open index %s (%s): "
                                        "remove them from settings, or set recreate: true to delete the index with "
                                        "all its documents and create it anew" % (
                                            ", ".join(sorted(body)), name, exc.reason or exc))
                raise

        write(context, step("update", name, ["settings.%s" % k for k in sorted(body)]), put_settings)


def delete_index(context, name):
    write(context, step("delete", name), lambda: context.client.delete(index_path(name)))


def ensure_index(params, context):
    """The module's entry: the options become an :class:`IndexRequest` once; ``converge_index`` takes it."""
    return converge_index(IndexRequest.from_params(params), context)


def converge_index(request, context):
    """Make the index what ``request`` asks for: delete it (``absent``), create it, change it in place,
    or recreate it (``recreate``) when a change cannot happen in place."""
    name = request.name
    current = get_index(context.client, name)
    managed = is_managed(current)

    if request.state == "absent":
        if current is not None and request.only_if_managed and not managed:
            return {"index": view(request, current), "managed": False, "deleted": False, "diff": diff_of(None, None),
                    "msg": "index %s was not created by polardb.polarsearch (no _meta.%s: %s in its mappings); "
                           "left in place because only_if_managed is true" % (name, MARKER_KEY, MARKER)}
        if current is not None:
            delete_index(context, name)
        return {"index": {}, "managed": managed, "deleted": current is not None,
                "diff": diff_of(view(request, current), None)}

    after = current
    if current is None:
        create_index(context, request)
        after = predicted(None, None, request)
    else:
        changes = plan_changes(request, current)
        if changes["reasons"]:
            if not request.recreate:
                raise ModuleFailure(
                    "index %s cannot be changed in place: %s. Nothing was changed. Either %s; the setting or "
                    "field mapping of an existing index can only change by recreating it"
                    % (name, "; ".join(changes["reasons"]), RECREATE_FIX), reasons=changes["reasons"])
            delete_index(context, name)
            create_index(context, request)
            after = predicted(None, None, request)
        elif changes["new"] or changes["updates"] or changes["mapping_keys"] or changes["settings"]:
            update_index(context, request, current, changes)
            after = predicted(current, changes, request)
    if context.changed and not context.check_mode:
        after = get_index(context.client, name)
    shown_after = view(request, after)
    return {"index": shown_after, "managed": is_managed(after), "diff": diff_of(view(request, current), shown_after)}
