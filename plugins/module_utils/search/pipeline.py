# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ingest and search pipelines whose processors refer to remote models by name.

A model reference is a mapping ``{model: NAME}`` written where the server expects a model ID
string: the value of a ``model_id`` key or of a key ending in ``_model_id`` (``default_model_id``),
and the values of ``neural_field_default_id``. The server reads those places as strings only (it
fails with "property isn't a string" otherwise), so a mapping there can never be a real value, and
a mapping anywhere else (a ``set`` processor's ``value``) is never taken for a reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import snapshot
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import (
    ModuleFailure,
    diff_of,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import find_model
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.plan import Step

KINDS = {
    # type option -> (REST path, the top-level keys the server accepts, the processor lists)
    "ingest": ("_ingest/pipeline", ("description", "processors", "on_failure", "version"),
               ("processors", "on_failure")),
    "search": ("_search/pipeline", ("description", "version", "request_processors", "response_processors",
                                    "phase_results_processors"),
               ("request_processors", "response_processors", "phase_results_processors")),
}
REFERENCE_KEY = "model"
MAP_OF_MODEL_IDS = ("neural_field_default_id",)
TO_BE_CREATED = "<model %s: to be created>"


# -- model references -----------------------------------------------------------------------
def holds_model_id(key):
    return key == "model_id" or key.endswith("_model_id")


def is_reference(value):
    return isinstance(value, dict) and list(value) == [REFERENCE_KEY] and isinstance(value[REFERENCE_KEY], str) \
        and bool(value[REFERENCE_KEY].strip())


def _child(path, key):
    if isinstance(key, int):
        return "%s[%d]" % (path, key)
    return "%s.%s" % (path, key) if path else str(key)


def _check_position(value, path):
    """A value at a model-ID position: a string, or a well-formed reference."""
    if isinstance(value, dict) and not is_reference(value):
        raise ModuleFailure(
            "definition.%s: a model reference is a mapping with the one key %r and the model name as its "
            "value, for example {model: my-embedding-model}; write a model ID as a plain string" % (path, REFERENCE_KEY))
    return is_reference(value)


def walk(value, replace, path=""):
    """A copy of ``value`` where each reference at a model-ID place is ``replace(path, name)``.

    A mapping at a model-ID place that is not a well-formed reference fails, naming the place.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            where = _child(path, key)
            if holds_model_id(str(key)):
                out[key] = replace(where, item[REFERENCE_KEY]) if _check_position(item, where) else item
            elif key in MAP_OF_MODEL_IDS and isinstance(item, dict):
                out[key] = {field: (replace(_child(where, field), model_id[REFERENCE_KEY])
                                    if _check_position(model_id, _child(where, field)) else model_id)
                            for field, model_id in item.items()}
            else:
                out[key] = walk(item, replace, where)
        return out
    if isinstance(value, list):
        return [walk(item, replace, _child(path, index)) for index, item in enumerate(value)]
    return value


def references(value):
    """Every ``(path, model name)`` reference in ``value``, in document order; bad references fail."""
    found = []

    def collect(path, name):
        found.append((path, name))
        return name

    walk(value, collect)
    return found


def substitute(value, ids):
    """A copy of ``value`` with each reference replaced by ``ids[name]``."""
    return walk(value, lambda path, name: ids[name])


def resolve_model(client, name, paths):
    """The ID of the remote model ``name``, or ``None``; two models of that name fail with their IDs."""
    try:
        model = find_model(client, name=name)
    except ModuleFailure as exc:
        ids = exc.details.get("ids") or []
        raise ModuleFailure(
            "definition.%s: %d remote models are named %r (IDs: %s); model names must be unique to be "
            "referenced: delete or rename the extra models, or write the model ID as a plain string"
            % (paths[0], len(ids), name, ", ".join(ids)), ids=ids)
    return model["model_id"] if model else None


def resolve_references(context, name, definition):
    """The definition with model IDs, ``{name: id}`` and the names of the models that do not exist.

    In a real run a missing model fails, naming the pipeline, the model and where it is referenced.
    In check mode it is predicted as created by an earlier task of the same play (as a model's
    missing connector is): its place shows ``<model NAME: to be created>``.
    """
    found = references(definition)
    paths = {}
    for path, model in found:
        paths.setdefault(model, []).append(path)
    resolved = {model: resolve_model(context.client, model, where) for model, where in paths.items()}
    missing = [model for model, model_id in resolved.items() if model_id is None]
    if missing and not context.check_mode:
        details = "; ".join("model %r (referenced at %s)" % (model, ", ".join("definition." + p for p in paths[model]))
                            for model in missing)
        raise ModuleFailure("pipeline %s refers to remote models that do not exist: %s. Register them first "
                            "(polardb.polarsearch.polarsearch_model) or correct the names" % (name, details),
                            missing_models=missing)
    ids = {model: (model_id if model_id is not None else TO_BE_CREATED % model)
           for model, model_id in resolved.items()}
    return substitute(definition, ids), resolved, missing


# -- validation ---------------------------------------------------------------------------
def validate(params):
    """Bad input fails here, before any request that writes, with the option and the fix."""
    name = params["name"]
    if not name or name.strip() != name or "/" in name or name.startswith("_"):
        raise ModuleFailure("name %r is not a valid pipeline name: use a non-empty name without '/', surrounding "
                            "spaces or a leading '_'" % name)
    if params["state"] == "absent":
        return
    definition = params.get("definition")
    if definition is None:
        raise ModuleFailure("definition is required with state=present: give the pipeline body (for an ingest "
                            "pipeline at least processors)")
    accepted, lists = KINDS[params["type"]][1:]
    unknown = sorted(str(k) for k in definition if k not in accepted)
    if unknown:
        raise ModuleFailure("definition has key(s) a %s pipeline does not accept: %s; accepted: %s (the server "
                            "refuses the others)" % (params["type"], ", ".join(unknown), ", ".join(accepted)))
    if params["type"] == "ingest" and "processors" not in definition:
        raise ModuleFailure("definition.processors is required for an ingest pipeline (a list, may be empty)")
    for key in lists:
        processors = definition.get(key)
        if processors is None:
            continue
        if not isinstance(processors, list):
            raise ModuleFailure("definition.%s must be a list of processors, each a mapping of one processor "
                                "type to its settings" % key)
        for index, processor in enumerate(processors):
            if not isinstance(processor, dict) or len(processor) != 1 or \
                    not isinstance(next(iter(processor.values())), dict):
                raise ModuleFailure("definition.%s[%d] must be a mapping of one processor type to its settings, "
                                    "for example {text_embedding: {model_id: {model: NAME}, field_map: {...}}}"
                                    % (key, index))
    references(definition)


@dataclass(frozen=True)
class PipelineRequest:
    """One pipeline as the task asks for it, read once from the module's options after the input rules
    (``validate``): ``kind`` is the ``type`` option, ``definition`` the body as given (``None`` when unset)."""

    state: str
    name: str
    kind: str
    definition: MappingProxyType | None = None

    @classmethod
    def from_params(cls, params):
        """Check the options (``validate``) and read them into a request."""
        validate(params)
        definition = params.get("definition")
        return cls(state=params.get("state") or "present", name=params["name"], kind=params["type"],
                   definition=MappingProxyType(dict(definition)) if definition is not None else None)


# -- reading and comparing -----------------------------------------------------------------
def pipeline_path(kind, name):
    return "%s/%s" % (KINDS[kind][0], quote(name, safe=""))


def get_pipeline(client, kind, name):
    """The stored body, or ``None`` (the server answers 404 with ``{}`` for a missing pipeline)."""
    path = pipeline_path(kind, name)
    answer = snapshot.read(client, path, lambda: client.get(path, missing_ok=True))
    if not isinstance(answer, dict):
        return None
    return answer.get(name)


def changed_paths(desired, current, path=""):
    """The places where the stored value differs from the desired one (for the plan)."""
    if isinstance(desired, dict) and isinstance(current, dict):
        out = []
        for key in list(desired) + [k for k in current if k not in desired]:
            if desired.get(key) != current.get(key):
                out.extend(changed_paths(desired.get(key), current.get(key), _child(path, key)))
        return out
    if isinstance(desired, list) and isinstance(current, list) and len(desired) == len(current):
        out = []
        for index, (want, have) in enumerate(zip(desired, current)):
            if want != have:
                out.extend(changed_paths(want, have, _child(path, index)))
        return out
    return [path or "definition"]


def compared(desired, current):
    """The top-level keys the user set, with their stored values: what is compared.

    The server stores a pipeline exactly as it was sent (it refuses unknown keys and adds no
    defaults), so below the top level the comparison is exact: a key removed from a ``field_map``
    is a change. A top-level key the user did not set is neither compared nor changed.
    """
    keys = [key for key, value in desired.items() if value is not None]
    return {key: desired[key] for key in keys}, {key: current[key] for key in keys if key in current}


# -- writes -------------------------------------------------------------------------------
def step(operation, kind, name, fields=()):
    """One plan entry: the operation (create, update, delete), the pipeline kind (``ingest_pipeline``
    or ``search_pipeline``) and name, and for an update the places that change. Every entry is made
    here."""
    return Step(operation, "%s_pipeline" % kind, name, None, tuple(fields))


def write(context, entry, func, predicted=None):
    """Every pipeline write goes through here (and so through Context.act)."""
    return context.act(entry, func, predicted)


def put_pipeline(context, kind, name, body, entry):
    client = context.client

    def run():
        client.put(pipeline_path(kind, name), body=body)
        return get_pipeline(client, kind, name)

    return write(context, entry, run, body)


def ensure_pipeline(params, context):
    """The module's entry: the options become a :class:`PipelineRequest` once; ``converge_pipeline`` takes it."""
    return converge_pipeline(PipelineRequest.from_params(params), context)


def converge_pipeline(request, context):
    """Make the pipeline what ``request`` asks for: delete it (``absent``), create it, or change the
    top-level keys the definition sets, with its model references resolved to IDs."""
    kind, name = request.kind, request.name
    client = context.client
    current = get_pipeline(client, kind, name)

    if request.state == "absent":
        if current is not None:
            write(context, step("delete", kind, name), lambda: client.delete(pipeline_path(kind, name)))
        return {"pipeline": {}, "resolved_models": {}, "missing_models": [], "diff": diff_of(current, None)}

    desired, resolved, missing = resolve_references(context, name, dict(request.definition))
    stored = current
    if current is None:
        stored = put_pipeline(context, kind, name, compared(desired, {})[0], step("create", kind, name))
    else:
        wanted, have = compared(desired, current)
        if wanted != have:
            # The server replaces a pipeline whole: keep the top-level keys the user did not set.
            body = dict(current, **wanted)
            stored = put_pipeline(context, kind, name, body, step("update", kind, name, changed_paths(wanted, have)))
    return {"pipeline": stored, "resolved_models": resolved, "missing_models": missing,
            "diff": diff_of(current, stored)}
