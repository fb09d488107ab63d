# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole ML stack in one run: the resources the ml_stack role resolves, converged by the same
``ensure_*`` functions the resource modules run, in the same order, with the state read in one
request per kind of object (``snapshot``).

Present: the trusted endpoint settings, the connectors, the declared model groups, the models, the
pipelines, the k-NN index (its vector dimension read from a predict on the embedding model). Absent: the
index (only with ``delete``, only one the collection created), the pipelines, the models, the connectors
(in check mode, instead, a check that no other model keeps the server from deleting them), the trusted
endpoint entries nothing needs any more. Then, with ``verify``, a predict on each deployed model.

Each resource's options are checked against the specification of its module (``specs``) before
anything is written, and each runs in a ``Context`` of its own, so its ``changed``, ``plan`` and
``diff`` are what its module would return. They are returned under ``resources`` (ansible-core 2.16 renames a
top-level ``results`` mapping), by step: a step of one resource (the settings) holds its result, a step of
several holds each result under the name of its entry (``{"models_present": {"qwen-max": {...}}}``), in the
order they ran. The report reads them.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import server_rules, snapshot, specs
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import (
    Context,
    ModuleFailure,
    check_wait_timeout,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.connector import ensure_connector
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_rules import validate as check_connector
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.index import ensure_index
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.index_request import name_problem
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.index_request import validate as check_index
from ansible_collections.polardb.polarsearch.plugins.module_utils.stack.info import connector_info
from ansible_collections.polardb.polarsearch.plugins.module_utils.stack.ml_stack_teardown import (
    check_unseen_users,
    deleted_names,
    deployed_ids,
    foreign_blockers,
    removable_regexes,
    unused_regexes,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import ensure_model, find_model
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_request import validate as check_model
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_group import ensure_model_group
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_group import validate as check_group
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.names import PENDING_DELETE_NAME
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.pipeline import ensure_pipeline
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.pipeline import validate as check_pipeline
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.predict import run_predict
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.settings import ensure_settings
from ansible_collections.polardb.polarsearch.plugins.module_utils.stack.verify import problems as answer_problems

TRUSTED_KEY = "plugins.ml_commons.trusted_connector_endpoints_regex"
PRIVATE_IP_KEY = "plugins.ml_commons.connector.private_ip_enabled"
CONNECTOR_FIELDS = ("description", "version", "protocol", "parameters", "actions", "client_config", "access_mode",
                    "backend_roles")
GROUP_FIELDS = ("access_mode", "backend_roles", "add_all_backend_roles")
MODEL_FIELDS = ("model_group", "interface", "is_enabled", "rate_limiter", "guardrails")
KINDS = ("settings", "connectors", "model_groups", "models", "pipelines")


# -- the options of each resource ------------------------------------------------------------
def checked(spec, params, what, check=None):
    """``params`` validated by the resource module's specification (defaults filled in), then by its
    own rules; a bad value fails, naming the resource, before anything is written."""
    spec = dict(spec)
    spec.pop("secret_options", None)
    result = ArgumentSpecValidator(**spec).validate(params)
    if result.error_messages:
        raise ModuleFailure("stack: %s: %s" % (what, "; ".join(result.error_messages)))
    validated = result.validated_parameters
    if check is not None:
        try:
            check(validated)
        except ModuleFailure as exc:
            raise ModuleFailure("stack: %s: %s" % (what, exc.message), hidden=exc.hidden, **exc.details)
    return validated


def _set(params, source, fields):
    params.update((f, source[f]) for f in fields if source.get(f) is not None)
    return params


def settings_present(stack, params):
    regexes = []
    for entry in stack.get("present") or []:
        if entry["regex"] not in regexes:
            regexes.append(entry["regex"])
    persistent = {TRUSTED_KEY: regexes}
    if params["private_ip_enabled"]:
        persistent[PRIVATE_IP_KEY] = True
    return {"list_mode": "append", "persistent": persistent}


def connector_present(entry, params):
    connector = entry["connector"]
    out = {"name": connector["name"], "state": "present", "on_deployed_models": params["on_deployed_models"],
           "duplicates": params["duplicates"], "wait_timeout": params["wait_timeout"],
           "credential": credential_of(entry, params)}
    if params.get("fingerprint_key"):
        out["fingerprint_key"] = params["fingerprint_key"]
    return _set(out, connector, CONNECTOR_FIELDS)


def credential_of(entry, params):
    credentials = params.get("credentials") or []
    index = entry.get("index")
    if isinstance(index, int) and 0 <= index < len(credentials):
        return credentials[index] or {}
    return {}


def group_present(group):
    return _set({"name": group["name"], "description": group["description"], "state": "present"}, group,
                GROUP_FIELDS)


def model_present(entry, params):
    options = entry.get("model_options") or {}
    out = {"name": entry["name"], "connector": entry["connector"]["name"], "description": options.get("description"),
           "duplicates": params["duplicates"], "wait_timeout": params["wait_timeout"], "state": entry["state"]}
    return _set(out, options, MODEL_FIELDS)


def pipeline_params(pipeline, state):
    out = {"name": pipeline["name"], "type": pipeline["type"], "state": state}
    if state == "present":
        out["definition"] = pipeline["definition"]
    return out


def index_params(index, dimension=None):
    """The stack's index: a text field, a k-NN vector field (with the dimension once it is known), and the
    ingest pipeline as default pipeline; or, absent, a delete of an index the collection created."""
    if index["state"] == "absent":
        return {"name": index["name"], "only_if_managed": True, "state": "absent"}
    vector = dict({"type": "knn_vector", "method": index["method"]}, **({"dimension": dimension} if dimension else {}))
    return {"name": index["name"], "recreate": index["recreate"], "state": "present",
            "mappings": {"properties": {index["text_field"]: {"type": "text"}, index["vector_field"]: vector}},
            "settings": {"index.knn": True, "index.default_pipeline": index["pipeline"]}}


def predict_params(name, parameters, model_id=None):
    """A predict on the model the run converged: by the ID it returned when there is one (a GET by ID sees a
    deploy at once; a search by name can still show the model as REGISTERED, seen on 2.19.1 right after a
    deploy, until the models index refreshes), else by name."""
    which = {"model_id": model_id} if model_id else {"name": name}
    return checked(specs.predict(), dict(which, parameters=parameters, require_deployed=True), "model %s" % name)


def index_model_ready(index, context, deploys, model_id=None):
    """Whether the index's embedding model is deployed now, in check mode as in a real run; a model the run
    does not deploy (``deploys``) and that is not deployed fails, the same way in both modes."""
    model = find_model(context.client, name=index["model"], model_id=model_id)
    if (model or {}).get("model_state") == "DEPLOYED":
        return True
    if deploys:
        return False
    raise ModuleFailure(
        "index %s needs the vector dimension of model %s, which only a predict on the deployed model gives, and "
        "the model is not deployed (%s) and this stack does not deploy it: deploy it (stack state deployed, or "
        "polarsearch_model with state=deployed), or leave the index out" % (
            index["name"], index["model"], (model or {}).get("model_state") or "not registered yet"))


def vector_dimension(index, context, model_id=None, deploys=True):
    """The length of the vector a predict on the index's embedding model answers, and whether it is known: in
    check mode a model that the run deploys but that is not deployed yet is not sent a predict (the server
    could deploy it); a model the run does not deploy must be deployed already, in both modes."""
    if (context.check_mode or not deploys) and not index_model_ready(index, context, deploys, model_id):
        return None, False
    answer = run_predict(predict_params(index["model"], index["verify"], model_id), context)
    vectors = answer.get("embeddings") or [[]]
    return len(vectors[0]) or None, True


def deploys_model(stack, name):
    """Whether the stack's run deploys the model ``name``."""
    return any(entry.get("name") == name for entry in stack.get("deployed") or [])


def ensure_stack_index(params, context, index, model_id=None, deploys=True):
    """The index step; a present index learns its vector dimension first."""
    known = True
    if params["state"] == "present":
        dimension, known = vector_dimension(index, context, model_id, deploys)
        if dimension:
            params = dict(params, mappings=index_params(index, dimension)["mappings"])
    return dict(ensure_index(params, context), dimension_known=known)


def plan_stack(stack, params, model_id_of=lambda name: None):
    """Every resource of the stack as ``(key, name, params, handler)`` in the order it runs, each
    checked before any of them runs; the absent side's connector deletes and settings come later,
    from what the teardown finds. ``model_id_of(name)`` is the ID of a model the run converged."""
    present, absent = stack.get("present") or [], stack.get("absent") or []
    todo = []
    if present:
        todo.append(("settings_present", None, checked(specs.cluster_settings(), settings_present(stack, params),
                                                       "cluster settings"), ensure_settings))
    todo += [("connectors_present", e["name"], checked(specs.connector(), connector_present(e, params),
                                                       "connector %s" % e["connector"]["name"], check_connector),
              ensure_connector) for e in present]
    todo += [("groups_present", g["name"], checked(specs.model_group(), group_present(g), "model group %s" % g["name"],
                                                   check_group), ensure_model_group)
             for g in stack.get("groups_present") or []]
    todo += [("models_present", e["name"], checked(specs.model(), model_present(e, params), "model %s" % e["name"],
                                                   check_model), ensure_model) for e in present]
    todo += [("pipelines_present", p["name"], checked(specs.pipeline(), pipeline_params(p, "present"),
                                                      "pipeline %s" % p["name"], check_pipeline), ensure_pipeline)
             for p in stack.get("pipelines_present") or []]
    index = stack.get("index") or {}
    if index.get("state") == "present" or index.get("delete"):
        todo.append(("index_" + index["state"], index["name"], checked(
            specs.index(), index_params(index), "index %s" % index["name"], check_index),
            lambda p, c: ensure_stack_index(p, c, index, model_id_of(index["model"]),
                                            deploys_model(stack, index["model"]))))
    todo += [("pipelines_absent", p["name"], checked(specs.pipeline(), pipeline_params(p, "absent"),
                                                     "pipeline %s" % p["name"], check_pipeline), ensure_pipeline)
             for p in stack.get("pipelines_absent") or []]
    todo += [("models_absent", e["name"], checked(specs.model(), {
        "name": e["name"], "wait_timeout": params["wait_timeout"], "removed_first": stack.get("removed_first") or [],
        "duplicates": params["duplicates"], "state": "absent"}, "model %s" % e["name"]), ensure_model)
        for e in absent]
    return todo


def resource_label(key, name, params):
    """How messages and diff headers name a resource: its kind and its own name."""
    if name is None:
        return "cluster settings"
    kind = {"connectors": "connector", "groups": "model group", "models": "model", "pipelines": "pipeline",
            "index": "index", "verify": "model"}[
        key.rsplit("_", 1)[0]]
    return "%s %s" % (kind, params.get("name") or name)


# -- the run -----------------------------------------------------------------------------------
class StackRun:
    """One stack run: the shared client, the run's read cache (made by ``converge`` and ended with it;
    every read of the run's client goes through it, every write drops it), the results by resource."""

    def __init__(self, stack, params, context):
        self.stack = stack
        self.params = params
        self.context = context
        self.client = context.client
        self.results = {}
        self.diffs = []
        self.warnings = []
        self.cache = None

    # -- reading -------------------------------------------------------------------------
    def names(self, side):
        entries = self.stack.get(side) or []
        return [e["connector"]["name"] for e in entries], [e["name"] for e in entries]

    def refresh(self, *kinds):
        """Read what the next step looks up, one request per kind, unless the cache still holds it
        (it does until the first write)."""
        connectors, models = [], []
        for side in ("present", "absent"):
            c, m = self.names(side)
            connectors += c
            models += m
        if "settings" in kinds:
            snapshot.prefetch_settings(self.client)
        if "connectors" in kinds or "models" in kinds:
            # with the connectors set aside for their names (look-alike IDs), which a run deletes once it may
            snapshot.prefetch(self.client, snapshot.CONNECTORS,
                              connectors + [PENDING_DELETE_NAME % name for name in connectors])
        if "model_groups" in kinds:
            groups = [g["name"] for g in self.stack.get("groups") or []]
            snapshot.prefetch(self.client, snapshot.MODEL_GROUPS, groups)
        if "models" in kinds:
            found = (self.cache.names.get(snapshot.CONNECTORS) or {}).values()
            snapshot.prefetch(self.client, snapshot.MODELS, models,
                              connector_ids=[hit["_id"] for hits in found for hit in hits])
        if "pipelines" in kinds:
            for kind in ("ingest", "search"):
                snapshot.prefetch_pipelines(self.client, kind, [p["name"] for p in self.stack.get("pipelines") or []
                                                                if p["type"] == kind])

    # -- one resource ----------------------------------------------------------------------
    def run(self, key, name, params, handler):
        """Run one resource in a context of its own and keep its result as its module returns it."""
        context = Context(self.client, self.context.check_mode, sleep=self.context.sleep, clock=self.context.clock)
        what = resource_label(key, name, params)
        try:
            result = handler(params, context)
        except ModuleFailure as exc:
            self.absorb(context)
            raise ModuleFailure("%s: %s" % (what, exc.message), **exc.details)
        except PolarSearchError as exc:
            self.absorb(context)
            details = {"status": exc.status} if exc.status else {}
            raise ModuleFailure("%s: %s" % (what, exc), **details)
        self.absorb(context)
        result.setdefault("changed", context.changed)
        result.setdefault("plan", context.plan_data())
        if name is None:
            self.results[key] = result
        else:
            self.results.setdefault(key, {})[name] = result
        if result["changed"] and isinstance(result.get("diff"), dict):
            self.diffs.append(dict(result["diff"], before_header=what, after_header=what))
        return result

    def absorb(self, context):
        self.context.plan.extend(context.plan)
        self.context.changed = self.context.changed or context.changed
        for kind, ids in context.touched.items():
            self.context.touched.setdefault(kind, set()).update(ids)

    # -- the stack -------------------------------------------------------------------------
    def converge(self):
        """Converge every resource of the stack, in order, with the run's read cache."""
        self.cache = snapshot.attach(self.client)
        try:
            return self.converge_all()
        finally:
            snapshot.detach(self.client)

    def converge_all(self):
        todo = plan_stack(self.stack, self.params, self.model_id_of)
        for key, name, params, dummy in todo:
            if key == "connectors_present":
                # A field the server would drop fails here, before the first write of the stack.
                server_rules.check_connector(self.client, params, "stack: connector %s: " % params["name"])
            if key == "models_present":
                server_rules.check_model(self.client, params, "stack: model %s: " % params["name"])
        index = self.stack.get("index") or {}
        if index.get("state") == "present" and not deploys_model(self.stack, index["model"]):
            # Before any write: the index step would fail on a model that is not deployed.
            index_model_ready(index, self.context, False)
        self.refresh(*KINDS)
        phase, listed = None, []
        for key, name, params, handler in todo:
            if key != phase:
                phase = key
                self.before(key)
                if key == "models_absent":
                    listed = self.list_connectors()
            self.run(key, name, params, handler)
        if self.stack.get("absent"):
            self.teardown_tail(listed)
        self.index_result()
        if self.params.get("verify") and not self.context.check_mode and self.stack.get("deployed"):
            self.verify()
        out = {"resources": self.results, "check_mode": self.context.check_mode, "diff": self.diffs}
        if self.warnings:
            out["warnings"] = self.warnings
        return out

    def model_id_of(self, name):
        """The ID of the model ``name`` as this run's converge returned it (None in check mode for a new one)."""
        return ((self.results.get("models_present") or {}).get(name) or {}).get("model_id")

    def index_result(self):
        """The index step's result as the report reads it, under ``index``; an absent index that is kept
        (no ``delete``) has an empty result."""
        index = self.stack.get("index")
        if not index:
            return
        ran = (self.results.pop("index_" + index["state"], None) or {}).get(index["name"]) or {}
        self.results["index"] = {"name": index["name"], "model": index["model"], "vector_field": index["vector_field"],
                                 "dimension_known": ran.get("dimension_known", True), "result": ran}

    def verify(self):
        """A predict on each deployed model; an error or an answer without the shape of its kind fails the
        run once every model has answered, with the results of the converge kept."""
        failures, answers = [], []
        for entry in self.stack.get("deployed") or []:
            try:
                result = self.run("verify", entry["name"], predict_params(
                    entry["name"], entry["verify"], self.model_id_of(entry["name"])), run_predict)
            except ModuleFailure as exc:
                failures.append(exc.message)
                continue
            answers.append((entry, result))
        failures += answer_problems(answers)
        if failures:
            raise ModuleFailure("verify: %s" % "; ".join(failures), resources=self.results,
                                check_mode=self.context.check_mode, diff=self.diffs)

    def before(self, key):
        """Read, in one request per kind, what the step ``key`` looks up, and what the teardown lists."""
        kinds = {
            "settings_present": ("settings",),
            "connectors_present": ("connectors", "models"),
            "groups_present": ("model_groups",),
            "models_present": ("models", "connectors", "model_groups"),
            "pipelines_present": ("pipelines", "models"),
            "pipelines_absent": ("pipelines",),
            "models_absent": ("models", "model_groups"),
            "index_present": (),
            "index_absent": (),
        }[key]
        self.refresh(*kinds)
        if key == "models_absent":
            # all or nothing: models the caller cannot see would leave a connector behind
            check_unseen_users(self.context, self.stack)

    def list_connectors(self):
        """Before the teardown deletes anything: the connectors on the whole cluster (which trusted
        entries another connector still needs, and, in check mode, what blocks a delete). The ones the
        teardown deletes go into the results as ``connectors``, which the report reads."""
        if not (self.context.check_mode or not self.params["keep_trusted_endpoints"]):
            return []
        listing = connector_info({}, Context(self.client, self.context.check_mode))
        gone = deleted_names(self.stack)
        self.results["connectors"] = dict(listing, connectors=[c for c in listing["connectors"]
                                                               if c.get("name") in gone])
        return listing["connectors"]

    def teardown_tail(self, listed):
        """After the models of the absent entries: their connectors, then the trusted entries nothing
        in ``listed`` (the connectors read before the teardown) needs any more."""
        absent = self.stack.get("absent") or []
        if self.context.check_mode:
            # The models are still there, so a delete would be refused: check instead that the server
            # would count no model but those this run deletes as users of the connectors.
            blocked = foreign_blockers(self.stack, listed, self.results.get("models_absent"),
                                       lambda ids: deployed_ids(self.client, ids))
            if blocked:
                raise ModuleFailure("; ".join(blocked))
        else:
            self.refresh("connectors", "models")
            for entry in absent:
                name = entry["connector"]["name"]
                params = checked(specs.connector(), {"name": name, "wait_timeout": self.params["wait_timeout"],
                                                     "duplicates": self.params["duplicates"], "state": "absent"},
                                 "connector %s" % name)
                self.run("connectors_absent", entry["name"], params, ensure_connector)
        if self.params["keep_trusted_endpoints"]:
            return
        unused, kept = removable_regexes(self.client, unused_regexes(self.stack, listed),
                                         self.params.get("remove_unseen_trusted_endpoints"))
        if kept:
            self.warnings.append(kept)
        if unused:
            params = checked(specs.cluster_settings(), {"list_mode": "remove", "persistent": {TRUSTED_KEY: unused}},
                             "cluster settings")
            self.refresh("settings")
            self.run("settings_absent", None, params, ensure_settings)


STACK_LISTS = ("present", "absent", "deployed", "groups", "groups_present", "pipelines", "pipelines_present",
               "pipelines_absent", "removed_first", "models")
# The keys each entry of a list must have (as ml_stack_input resolves them).
STACK_KEYS = {"present": ("name", "state", "regex", "connector"), "absent": ("name", "connector"),
              "groups_present": ("name",), "pipelines_present": ("name", "type", "definition"),
              "pipelines_absent": ("name", "type")}
ENTRY_EXAMPLE = "resolve it with the ml_stack role or polarsearch_ml_stack_apply, which make the stack"


def check_stack(stack, params):
    """The shape of ``stack`` and the run's options, checked before the first request; each problem names its
    path inside ``stack``."""
    check_wait_timeout(params)
    for key in STACK_LISTS:
        value = stack.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise ModuleFailure("stack.%s is %r, not a list of mappings: %s" % (key, value, ENTRY_EXAMPLE))
        for index, entry in enumerate(value):
            if not isinstance(entry, dict):
                raise ModuleFailure("stack.%s[%d] is %r, not a mapping: %s" % (key, index, entry, ENTRY_EXAMPLE))
            missing = [k for k in STACK_KEYS.get(key, ()) if entry.get(k) in (None, "")]
            if key in ("present", "absent") and not isinstance(entry.get("connector"), dict):
                missing += [] if "connector" in missing else ["connector"]
            if missing:
                raise ModuleFailure("stack.%s[%d] has no %s: %s" % (key, index, ", ".join(missing), ENTRY_EXAMPLE))
    index = stack.get("index")
    if index is not None:
        if not isinstance(index, dict):
            raise ModuleFailure("stack.index is %r, not a mapping: %s" % (index, ENTRY_EXAMPLE))
        problem = name_problem(index.get("name"), "stack.index.name (ml_stack_index in the ml_stack role)")
        if problem:
            raise ModuleFailure(problem)


def ensure_stack(params, context):
    """Converge the resolved stack ``params['stack']``; one result per resource under ``resources``."""
    check_stack(params["stack"], params)
    return StackRun(params["stack"], params, context).converge()
