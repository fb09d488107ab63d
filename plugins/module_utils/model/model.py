# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remote models: lookup, register, update, deploy, undeploy, delete."""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import server_rules, snapshot
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError, answer_id
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import (
    ML,
    ModuleFailure,
    Unchanged,
    diff_of,
    drop_none,
    first_or_fail,
    parse_json_text,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_lookup import (
    model_hits_using,
    resolve_connector_id,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.identity import (
    VISIBLE_TIMEOUT,
    settled_view,
    winner_by_key,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_fields import (
    FIELD_RULES,
    differs,
    merged,
    server_form,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_group import (
    delete_group_if_left_empty,
    get_group,
    group_for_model,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.references import (
    describe,
    find_model_references,
    references_by_model,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.plan import Step
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.settings import is_enabled
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_request import (
    OPTIONAL_FIELDS,
    ModelRequest,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.stack_twins import models_of_one_stack

DEPLOYED_STATES = ("DEPLOYED", "PARTIALLY_DEPLOYED", "DEPLOYING", "LOADED", "LOADING", "PARTIALLY_LOADED")
FAILED_TASK_STATES = ("FAILED", "COMPLETED_WITH_ERROR", "CANCELLED")
# A remote model's deploy (3.6.0, loopback model service) ends within some tens of milliseconds of the
# _deploy answer: the first read right after the answer finds it DEPLOYING, one 50 ms later DEPLOYED.
DEPLOY_POLL_INITIAL = 0.05
SAFE_DELETE = "plugins.ml_commons.safe_delete_model"
REGISTER_CONFLICT_TRIES = 4
GROUP_UPDATE_FAILED = "Failed to update data object in index .plugins-ml-model-group"
MODEL_UPDATE_FAILED = "Failed to update data object in index .plugins-ml-model"
DUPLICATE_DEPLOY = "Duplicate deploy model task"
DUPLICATE_DEPLOY_TRIES = 5
SETTLE_SECONDS = 2.0


# -- reading ----------------------------------------------------------------------------
def model_view(model_id, source):
    """The model as modules return it (option names, parsed interface, no credential)."""
    if source is None:
        return None
    view = {
        "model_id": model_id,
        "name": source.get("name"),
        "description": source.get("description"),
        "model_state": source.get("model_state"),
        "connector_id": source.get("connector_id"),
        "model_group_id": source.get("model_group_id"),
        "model_version": source.get("model_version"),
        "algorithm": source.get("algorithm"),
    }
    for field in OPTIONAL_FIELDS:
        if source.get(field) is not None:
            view[field] = source[field]
    if isinstance(view.get("interface"), dict):
        view["interface"] = {k: parse_json_text(v) for k, v in view["interface"].items()}
    return drop_none(view)


def get_model(client, model_id):
    source = client.get("%s/models/%s" % (ML, model_id), missing_ok=True)
    return model_view(model_id, source) if source else None


def search_models(client, *filters):
    query = {"bool": {"filter": [{"term": {"algorithm": "REMOTE"}}] + list(filters)}}
    return [model_view(hit["_id"], hit["_source"]) for hit in client.search("%s/models/_search" % ML, query, size=1000)]


def find_model(client, name=None, model_id=None):
    if model_id:
        return get_model(client, model_id)
    hits = snapshot.named(client, snapshot.MODELS, name, lambda: client.search("%s/models/_search" % ML, {
        "bool": {"filter": [{"term": {"algorithm": "REMOTE"}}, {"term": {"name.keyword": name}}]}}))
    hit = first_or_fail(hits, "model", name, "model_id")
    return model_view(hit["_id"], hit["_source"]) if hit else None


def models_using_connector(client, connector_id):
    return [model_view(hit["_id"], hit["_source"]) for hit in model_hits_using(client, connector_id)]


def label(model):
    """How plans and messages name a model: by name, the same in check mode and in a real run."""
    return str(model.get("name") or model.get("model_id"))


def is_deployed(model):
    return (model or {}).get("model_state") in DEPLOYED_STATES


# -- waiting ----------------------------------------------------------------------------
# what ``wait_deployed`` returns when the node refused this run's deploy task because another deploy
# task of the model was running
REFUSED_AS_DUPLICATE = None


def is_duplicate_deploy(task):
    """ML Commons (``MLModelCacheHelper.initModelState``) refuses a deploy task while another deploy task
    of the same model runs on the node: the task ends FAILED with ``Duplicate deploy model task`` per node."""
    return task.get("state") in FAILED_TASK_STATES and DUPLICATE_DEPLOY in str(task.get("error") or "")


def wait_deployed(context, model_id, task_id, timeout, connector_id=None, states=("DEPLOYED",)):
    """Poll the deploy task and the model until the model is in ``states``; fail with the task's error.

    A model read as DEPLOY_FAILED while its deploy task has not failed may be a stale state from an
    earlier attempt, so only a failed task (or, without a task, DEPLOY_FAILED itself) ends the wait.
    A task the node refused as a duplicate (another run's deploy runs) ends the wait with
    ``REFUSED_AS_DUPLICATE``.
    """
    client = context.client
    refused = {}

    def probe():
        if task_id:
            task = client.get("%s/tasks/%s" % (ML, task_id), missing_ok=True) or {}
            if is_duplicate_deploy(task):
                refused["task"] = task_id
                return task
            if task.get("state") in FAILED_TASK_STATES:
                raise ModuleFailure("deploying model %s failed (task %s, %s): %s" % (
                    model_id, task_id, task.get("state"), task.get("error") or "no error text"))
        model = get_model(client, model_id)
        if model is None:
            raise ModuleFailure("model %s disappeared while waiting for it to deploy" % model_id)
        if model.get("model_state") == "DEPLOY_FAILED" and not task_id:
            raise ModuleFailure("model %s is DEPLOY_FAILED: deploy it again (state=deployed)" % model_id)
        if model.get("model_state") in states and (connector_id is None or model.get("connector_id") == connector_id):
            return model
        return None

    found = context.wait_for("model %s to be %s" % (model_id, " or ".join(states)), probe, timeout,
                             initial=DEPLOY_POLL_INITIAL, factor=2.0)
    return REFUSED_AS_DUPLICATE if refused else found


def wait_settled(context, model_id, timeout):
    """After another run's deploy: the model once its state stopped changing (not DEPLOYING, the same
    state read twice ``SETTLE_SECONDS`` apart), since the refused task's DEPLOY_FAILED and the other
    deploy's DEPLOYED reach the model document in either order."""
    seen = {}

    def probe():
        current = get_model(context.client, model_id)
        if current is None:
            raise ModuleFailure("model %s disappeared while another run deployed it" % model_id)
        state = current.get("model_state")
        if state == "DEPLOYING":
            seen.clear()
            return None
        if seen.get("state") == state and context.clock() - seen["at"] >= SETTLE_SECONDS:
            return current
        if seen.get("state") != state:
            seen.update(state=state, at=context.clock())
        return None

    return context.wait_for("model %s to settle after another run's deploy" % model_id, probe, timeout,
                            max_interval=SETTLE_SECONDS)


def wait_not_deploying(context, model, timeout):
    if model.get("model_state") != "DEPLOYING":
        return model

    def probe():
        current = get_model(context.client, model["model_id"])
        return current if current is None or current.get("model_state") != "DEPLOYING" else None

    return context.wait_for("model %s to finish DEPLOYING" % model["model_id"], probe, timeout) or model


def wait_undeployed(context, model_id, timeout):
    def probe():
        current = get_model(context.client, model_id)
        if current is None or current.get("model_state") not in DEPLOYED_STATES:
            return current or {}
        return None

    return context.wait_for("model %s to be undeployed" % model_id, probe, timeout)


# -- writes (each returns the predicted model, so check mode shares the path) --------------
def model_step(operation, model, fields=()):
    """The plan step of a write to ``model`` (``Context.act`` drops the ID of a model this run made)."""
    return Step(operation, "model", name=label(model), id=model.get("model_id"), fields=tuple(fields))


def deploy(context, model, wait=True, timeout=300):
    """Deploy ``model`` and (with ``wait``) wait until it is DEPLOYED.

    Runs at the same moment deploy the same model; the server then refuses all but one ``_deploy`` in
    one of two ways: a version conflict on the model document (409 "Document version conflict" on 3.6,
    500 "Failed to update data object in index .plugins-ml-model" on 2.19.1), or a task the node refuses
    as a "Duplicate deploy model task". Both refusals also write DEPLOY_FAILED into the model, which
    then reads DEPLOY_FAILED and DEPLOYED by turns for seconds (observed on 3.6), although the model is
    deployed on the node. ``deploy_outcome`` decides what that means for this run.
    """
    predicted = dict(model, model_state="DEPLOYED" if wait else "DEPLOYING")
    deadline = context.clock() + timeout

    def time_left():
        # the user's wait_timeout as given (messages name it), less what earlier waits used
        left = max(0.0, deadline - context.clock())
        return timeout if left >= timeout else left

    return context.act(model_step("deploy", model),
                       lambda: deploy_outcome(context, model["model_id"], predicted, wait, time_left), predicted)


def deploy_outcome(context, model_id, predicted, wait, time_left):
    """Send ``_deploy`` until the model is deployed, and decide whether this run deployed it.

    Each ``_deploy`` ends one of three ways:

    - the server takes it and its task deploys the model: this run deployed it (a change), unless an
      earlier ``_deploy`` of this run was refused, when it only repaired the state the refusal wrote;
    - the server refuses it at once (version conflict), or its task is refused as a duplicate: another
      run's deploy is running. The run waits until the model's state has settled (``wait_settled``):
      DEPLOYED means the other run deployed it (no change here); any other state, send again;
    - anything else fails the run.

    Without ``wait``, the first answer decides. The answer is ``Unchanged`` when another run deployed it.
    """
    refused = False
    for dummy in range(DUPLICATE_DEPLOY_TRIES):
        task_id = send_deploy(context, model_id)
        if task_id is None:
            refused = True
            if not wait:
                return Unchanged(get_model(context.client, model_id) or predicted)
        elif not wait:
            return get_model(context.client, model_id) or predicted
        else:
            try:
                deployed = wait_deployed(context, model_id, task_id or None, time_left())
            except (ModuleFailure, PolarSearchError):
                if not refused:
                    context.accepted()   # the server took this run's deploy; only the wait failed
                raise
            if deployed is not REFUSED_AS_DUPLICATE:
                return Unchanged(deployed) if refused else deployed
            refused = True
        current = wait_settled(context, model_id, time_left())
        if current.get("model_state") == "DEPLOYED":
            return Unchanged(current)
    raise ModuleFailure("model %s is %s after %d deploys that the server refused because another deploy of "
                        "it was running: deploy it again (state=deployed)"
                        % (model_id, current.get("model_state"), DUPLICATE_DEPLOY_TRIES))


def send_deploy(context, model_id):
    """One ``_deploy``: its task ID (``""`` without one), or ``None`` when the server refused it because
    another run's deploy wrote the model document first (that deploy wrote DEPLOYING; this refusal
    writes DEPLOY_FAILED)."""

    def lookup():
        # A lost answer: the deploy may have started after all; never send it twice.
        current = get_model(context.client, model_id)
        return {} if current and current.get("model_state") in ("DEPLOYING", "DEPLOYED") else None

    try:
        answer = context.client.post("%s/models/%s/_deploy" % (ML, model_id), lookup=lookup) or {}
    except PolarSearchError as exc:
        current = get_model(context.client, model_id) if model_version_conflict(exc) else None
        if not current or current.get("model_state") not in ("DEPLOYING", "DEPLOYED", "DEPLOY_FAILED"):
            raise
        return None
    return answer.get("task_id") or ""


def undeploy(context, model, wait=True, timeout=300):
    predicted = dict(model, model_state="UNDEPLOYED")
    model_id = model["model_id"]

    def lookup():
        current = get_model(context.client, model_id)
        return {} if current is None or current.get("model_state") not in DEPLOYED_STATES else None

    def run():
        try:
            context.client.post("%s/models/%s/_undeploy" % (ML, model_id), lookup=lookup)
        except PolarSearchError as exc:
            if exc.status != 409 or lookup() is None:
                raise
        context.accepted()
        if not wait:
            return get_model(context.client, model_id) or predicted
        return wait_undeployed(context, model_id, timeout) or predicted

    return context.act(model_step("undeploy", model), run, predicted)


def update_model(context, model, changes, timeout=300):
    """PUT the changed fields; a deployed model is then waited for until it is usable again."""
    predicted = dict(model, **changes)
    for field in FIELD_RULES:
        if field in changes:
            predicted[field] = merged(field, model.get(field), changes[field])

    def run():
        current = wait_not_deploying(context, model, timeout)
        context.client.put("%s/models/%s" % (ML, model["model_id"]), body=changes)
        context.accepted()
        if current.get("model_state") in ("DEPLOYED", "PARTIALLY_DEPLOYED"):
            return wait_deployed(context, model["model_id"], None, timeout,
                                 connector_id=changes.get("connector_id"),
                                 states=("DEPLOYED", "PARTIALLY_DEPLOYED"))
        return get_model(context.client, model["model_id"]) or predicted

    return context.act(model_step("update", model, fields=sorted(changes)), run, predicted)


def point_models_at(context, models, connector_id, timeout):
    """Move models to another connector (allowed while deployed) and wait until each is usable."""
    return [update_model(context, model, {"connector_id": connector_id}, timeout) for model in models]


def delete_model(context, model):
    """DELETE the model. On 2.19.1 without the reindex module (the secure test node) the DELETE can answer
    500 "failed to find action [...DeleteByQueryAction...]" after the model document was deleted (the
    delete-by-query of model chunks that follows fails): the delete is done when a GET finds it gone."""
    path = "%s/models/%s" % (ML, model["model_id"])

    def run():
        try:
            return context.client.delete(path)
        except PolarSearchError as exc:
            if exc.status == 500 and context.client.get(path, missing_ok=True) is None:
                return {}
            raise

    return context.act(model_step("delete", model), run)


# -- the ensure functions ---------------------------------------------------------------
def desired_changes(request, model, connector_id, group_id):
    """The fields of an existing model that differ from what the request asks for.

    Only options the user set are compared; ``group_id`` is the ID of the model group the request
    names (``None`` for a group still to be created in check mode).
    """
    changes = {}
    if request.model_id and request.name and request.name != model.get("name"):
        changes["name"] = request.name
    if request.description is not None and request.description != model.get("description"):
        changes["description"] = request.description
    if connector_id is not None and connector_id != model.get("connector_id"):
        changes["connector_id"] = connector_id
    if request.group_wanted and (group_id is None or group_id != model.get("model_group_id")):
        changes["model_group_id"] = group_id
    if "is_enabled" in request.fields and request.fields["is_enabled"] != model.get("is_enabled", True):
        changes["is_enabled"] = request.fields["is_enabled"]
    for field in FIELD_RULES:
        if field in request.fields and differs(field, request.fields[field], model.get(field)):
            changes[field] = drop_none(request.fields[field])
    return changes


def register(context, request, connector_id, group):
    """Register the model into ``group`` (always an explicit group: never the server's implicit one)."""
    name = request.name
    body = {"name": name, "function_name": "remote", "connector_id": connector_id}
    if request.description is not None:
        body["description"] = request.description
    body["model_group_id"] = group.get("model_group_id")
    for field in OPTIONAL_FIELDS:
        if field in request.fields:
            body[field] = drop_none(request.fields[field])
    predicted = model_view(None, dict(body, model_state="REGISTERED", algorithm="REMOTE"))
    predicted.pop("function_name", None)
    for field in FIELD_RULES:
        if field in body:
            predicted[field] = server_form(field, body[field])

    def lookup():
        hit = find_model(context.client, name=name)
        return {"model_id": hit["model_id"]} if hit else None

    def run():
        for attempt in range(REGISTER_CONFLICT_TRIES):
            try:
                answer = context.client.post("%s/models/_register" % ML, body=body, lookup=lookup)
                break
            except PolarSearchError as exc:
                # Two registers into one group at once: the group's version bump conflicts and that register
                # made nothing. Adopt the other run's model, or register again.
                if not group_version_conflict(exc) or attempt == REGISTER_CONFLICT_TRIES - 1:
                    raise
                others = models_named(context.client, name)
                if others:
                    return get_model(context.client, winner_by_key(others, "model_id")["model_id"])
                context.sleep(0.5 * (attempt + 1))
        return settle_duplicate_models(context, name, answer_id(answer, "model_id", "POST %s/models/_register" % ML))

    return context.act(Step("register", "model", name=name), run, predicted)


def model_version_conflict(exc):
    """A ``_deploy`` refused because another deploy wrote the model document first: 409 "Document version
    conflict ... .plugins-ml-model" on 3.6; on 2.19.1, 500 "Failed to update data object in index
    .plugins-ml-model" (its root cause a ``version_conflict_engine_exception``)."""
    return exc.status == 409 or (exc.status == 500 and MODEL_UPDATE_FAILED in str(exc.reason or exc))


def group_version_conflict(exc):
    """A register refused because another register bumped the model group's version at the same moment:
    409 "Document version conflict ... .plugins-ml-model-group" on 3.6; on 2.19.1, 500 "Failed to update
    data object in index .plugins-ml-model-group" (its root cause a ``version_conflict_engine_exception``).
    A register changes nothing else in that index, so that 500 is the same conflict."""
    if exc.status == 409:
        return True
    return exc.status == 500 and GROUP_UPDATE_FAILED in str(exc.reason or exc)


def models_named(client, name):
    """The remote models named ``name`` as the server stores them (``created_time`` included)."""
    hits = snapshot.named(client, snapshot.MODELS, name, lambda: client.search("%s/models/_search" % ML, {
        "bool": {"filter": [{"term": {"algorithm": "REMOTE"}}, {"term": {"name.keyword": name}}]}}))
    return [dict(hit["_source"], model_id=hit["_id"]) for hit in hits]


def settle_duplicate_models(context, name, own_id):
    """After a register: when a concurrent run registered the same name, keep one model.

    Every run picks the same winner (oldest ``created_time``, then smallest ID, see ``identity``);
    the run whose own new model lost deletes it and adopts the winner. The run decides once its own
    model shows in a search and the search stayed the same for a moment (``identity.settled_view``).
    """
    candidates = settled_view(context, "model", name, own_id, lambda: models_named(context.client, name),
                              lambda m: m["model_id"], gone=lambda: get_model(context.client, own_id) is None)
    if candidates is not None and not any(c["model_id"] == own_id for c in candidates):
        # another run settled the name first and deleted this run's model, which lost there
        if not candidates:
            raise ModuleFailure("model %s (%s), which this run registered, was deleted by another run and no model "
                                "named %s is left: run again" % (name, own_id, name))
        return get_model(context.client, winner_by_key(candidates, "model_id")["model_id"])
    candidates = candidates or ()
    if len(candidates) > 1:
        best = winner_by_key(candidates, "model_id")
        if best["model_id"] != own_id:
            own = get_model(context.client, own_id)
            if own is not None:
                delete_model(context, own)
            return get_model(context.client, best["model_id"])
    return get_model(context.client, own_id)


def settle_same_named(context, request, timeout, failure):
    """Same-named remote models met by a run that registers none. Runs registering the name at this
    moment settle it themselves (a loser deletes its new model once it decided, see ``identity``), so
    while one of the models is not deployed yet the run waits, at most ``identity.VISIBLE_TIMEOUT``
    seconds (``timeout``, the task's wait_timeout, when shorter), until one is left or all are deployed. One left is used; two or more are settled like
    ``duplicates: keep_one`` when they are copies of one stack's model (``stack_twins``), else
    ``failure`` (naming the IDs) is raised."""
    client = context.client
    name = request.name

    def probe():
        found = models_named(client, name)
        if len(found) < 2 or all(m.get("model_state") in DEPLOYED_STATES for m in found):
            return found
        return None

    try:
        found = context.wait_for("the runs that registered model %s at the same moment to settle it" % name, probe,
                                 min(VISIBLE_TIMEOUT, timeout), initial=0.2, factor=1.5, max_interval=0.5)
    except ModuleFailure:
        found = models_named(client, name)
    if len(found) < 2:
        return find_model(client, name=name)
    if not models_of_one_stack(client, request, found):
        raise failure
    return keep_one_model(context, name, timeout)


# How long a connector name that finds nothing is looked up again before a real run fails.
CONNECTOR_APPEAR_WAIT = 10.0


def connector_appearing(context, name, any_duplicates):
    """The ID of connector ``name`` once a search shows it, for up to CONNECTOR_APPEAR_WAIT seconds; None after.

    Runs at the same time settle same-named connectors (identity.settled_view): the one a run's connector task
    found can be deleted by the run that lost, while the winner's create has not reached the searches yet (a
    create stamps ``created_time`` before its write, so on a busy node it reaches searches late). The name finds
    nothing for that moment (seen in the fault matrix on 2.19.1)."""
    cache = snapshot.of(context.client)

    def probe():
        if cache is not None:
            cache.drop()
        return resolve_connector_id(context.client, name, any_duplicates=any_duplicates)

    try:
        return context.wait_for("connector %s to show in a search" % name, probe, CONNECTOR_APPEAR_WAIT,
                                initial=0.5, factor=1.5, max_interval=2.0)
    except ModuleFailure:
        return None


def safe_delete_enabled(client):
    """The server's own check at delete (``plugins.ml_commons.safe_delete_model``, default false)."""
    return is_enabled(client, SAFE_DELETE)


def check_references(context, model, force, removed_first=()):
    """Fail, changing nothing, when pipelines or agents use the model (unless the user opted in).

    ``removed_first``: ``{kind, name}`` of pipelines and agents that the same play deletes before this
    task. Only check mode, where they are still there, counts them as gone; a real run finds them
    gone, or refuses as usual.
    """
    gone = {(r.get("kind"), r.get("name")) for r in removed_first or ()} if context.check_mode else set()
    try:
        references = [r for r in find_model_references(context.client, model["model_id"])
                      if (r["kind"], r["name"]) not in gone]
    except PolarSearchError as exc:
        # A user without read access to pipelines or agents (security plugin: 403) cannot tell.
        if exc.status != 403:
            raise
        if force:
            return
        raise ModuleFailure(
            "cannot tell whether pipelines or agents use model %s (%s): %s, so nothing was changed. Grant the user "
            "read access to ingest and search pipelines and agents, or set force_delete_referenced: true to delete "
            "without this check" % (label(model), model["model_id"], exc))
    if not references:
        return
    names = describe(references)
    if not force:
        raise ModuleFailure(
            "model %s (%s) is used by %s: deleting it would break them. Remove the model from them first, "
            "or set force_delete_referenced: true to delete it anyway" % (label(model), model["model_id"], names),
            references=references)
    if safe_delete_enabled(context.client):
        raise ModuleFailure(
            "model %s (%s) is used by %s and the cluster setting %s is true, so the server refuses to delete it "
            "even with force_delete_referenced; nothing was changed. Remove the model from them first"
            % (label(model), model["model_id"], names, SAFE_DELETE), references=references)


def ensure_model_absent(context, model, timeout, force=False, removed_first=()):
    if model is None:
        return None
    check_references(context, model, force, removed_first)
    undeployed = is_deployed(model)
    if undeployed:
        undeploy(context, model, True, timeout)
    try:
        delete_model(context, model)
    except (ModuleFailure, PolarSearchError) as exc:
        if not undeployed:
            raise
        # a teardown takes the model down on purpose: name the state it is left in, and the next run
        # deletes it
        try:
            now = get_model(context.client, model["model_id"]) if not context.check_mode else None
        except PolarSearchError:
            now = None
        raise ModuleFailure("model %s (%s) was undeployed, but deleting it failed: %s. It is %s now; run again to "
                            "delete it" % (label(model), model["model_id"], getattr(exc, "message", exc),
                                           (now or {}).get("model_state") or "UNDEPLOYED"),
                            model_states=[{"model_id": model["model_id"], "name": label(model),
                                           "model_state": (now or {}).get("model_state") or "UNDEPLOYED"}])
    delete_group_if_left_empty(context, model.get("model_group_id"), model, timeout)
    return None


def keep_one_model(context, name, timeout):
    """``duplicates: keep_one``: of the remote models named ``name``, keep the one pipelines or agents use,
    else the one every run picks (``identity.winner``); undeploy and delete the others, each checked like
    any delete (``ensure_model_absent``). Two or more in use fail, naming them, and nothing is deleted.
    Returns the model kept, or None."""
    candidates = models_named(context.client, name)
    if len(candidates) < 2:
        return find_model(context.client, name=name)
    try:
        references = references_by_model(context.client, [c["model_id"] for c in candidates])
    except PolarSearchError as exc:
        # A user without read access to pipelines or agents (security plugin: 403) cannot tell.
        if exc.status != 403:
            raise
        raise ModuleFailure(
            "%d models are named %r, and which of them pipelines or agents use cannot be read (%s), so none was "
            "deleted. Grant the user read access to ingest and search pipelines and agents"
            % (len(candidates), name, exc))
    used = [(candidate, references[candidate["model_id"]]) for candidate in
            sorted(candidates, key=lambda c: c["model_id"]) if references[candidate["model_id"]]]
    if len(used) > 1:
        ids = [candidate["model_id"] for candidate, dummy in used]
        raise ModuleFailure(
            "%d models are named %r and %d of them are in use (%s), so none was deleted: set model_id to the one "
            "to manage" % (len(candidates), name, len(used), "; ".join(
                "%s by %s" % (candidate["model_id"], describe(references)) for candidate, references in used)),
            ids=ids)
    keep = used[0][0] if used else winner_by_key(candidates, "model_id")
    for other in sorted(candidates, key=lambda c: c["model_id"]):
        if other["model_id"] != keep["model_id"]:
            ensure_model_absent(context, model_view(other["model_id"], other), timeout)
    return get_model(context.client, keep["model_id"])


def ensure_deploy_state(context, model, state, wait, timeout):
    if state == "deployed":
        model = wait_not_deploying(context, model, timeout) if wait else model
        if model.get("model_state") != "DEPLOYED" and not (model.get("model_state") == "DEPLOYING" and not wait):
            return deploy(context, model, wait, timeout)
    elif state == "undeployed" and is_deployed(model):
        return undeploy(context, model, wait, timeout)
    return model


def resolve_group(context, request, model_name):
    """The group the request names (``model_group_id`` or ``model_group``), or None when it names none."""
    if not request.group_wanted:
        return None
    group = group_for_model(context, model_name, request.model_group, request.model_group_id)
    if request.model_group and request.model_group_id and group.get("name") != request.model_group:
        raise ModuleFailure("model_group_id %s is the model group %r, not %r: set only one of model_group and "
                            "model_group_id, or make them agree"
                            % (request.model_group_id, group.get("name"), request.model_group))
    return group


def ensure_model(params, context):
    """The module's entry: the options become a :class:`ModelRequest` once; ``converge`` takes it."""
    return converge(ModelRequest.from_params(params), context)


def converge(request, context):
    """Converge one remote model. The decisions, in order: which model it is (by ID, by name, settling
    same-named copies), whether it goes (``absent``), which connector and group it uses, whether it is
    registered or updated, and its deploy state."""
    client = context.client
    timeout = request.wait_timeout
    keep_one = request.duplicates == "keep_one"
    if keep_one and not request.model_id:
        model = keep_one_model(context, request.name, timeout)
    else:
        try:
            model = find_model(client, name=request.name, model_id=request.model_id)
        except ModuleFailure as exc:
            if request.model_id or not exc.details.get("ids"):
                raise
            model = settle_same_named(context, request, timeout, exc)
    if request.model_id and model is None and request.state != "absent":
        raise ModuleFailure("model_id %s does not exist: remove model_id to register a new model by name"
                            % request.model_id)
    before = dict(model) if model else None

    if request.state == "absent":
        ensure_model_absent(context, model, timeout, request.force_delete_referenced, request.removed_first)
        return {"model": {}, "diff": diff_of(before, None)}

    server_rules.check_model(client, request.options)
    connector_id = request.connector_id
    if request.connector:
        connector_id = resolve_connector_id(context.client, request.connector, any_duplicates=keep_one)
        if not connector_id and not context.check_mode:
            connector_id = connector_appearing(context, request.connector, keep_one)
    missing_connector = bool(request.connector) and not connector_id
    if missing_connector and not context.check_mode:
        raise ModuleFailure("connector %r was not found: create it first (polarsearch_connector) or set "
                            "connector_id" % request.connector)
    if model is None and not request.connector and not connector_id:
        raise ModuleFailure("connector or connector_id is required to register model %r" % request.name)

    if model is None:
        group = resolve_group(context, request, request.name) or group_for_model(context, request.name)
        model = register(context, request, connector_id, group)
    else:
        group = resolve_group(context, request, model.get("name"))
        if group is not None:
            before["model_group"] = group_name(client, before.get("model_group_id"))
        changes = desired_changes(request, model, connector_id, (group or {}).get("model_group_id"))
        if missing_connector:
            # Check mode, with the connector still to be created earlier in the play.
            changes["connector_id"] = None
        if changes:
            old_group_id = model.get("model_group_id")
            model = update_model(context, model, changes, timeout)
            if "model_group_id" in changes:
                delete_group_if_left_empty(context, old_group_id, before, timeout)

    model = ensure_deploy_state(context, model, request.state, request.wait, timeout)
    after = dict(model)
    if group is not None:
        after["model_group"] = group.get("name")
    if request.connector:
        after["connector"] = request.connector
        if before:
            before["connector"] = request.connector if before.get("connector_id") == connector_id else \
                "(connector %s)" % before.get("connector_id")
    return {"model": after, "model_id": after.get("model_id"), "diff": diff_of(before, after)}


def group_name(client, group_id):
    if not group_id:
        return None
    group = get_group(client, group_id)
    return group.get("name") if group else None
