# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changing a connector that deployed models use: the zero-downtime replace, finishing a replace
that stopped halfway, and the in-place update around an undeploy."""

from __future__ import annotations

from functools import partial

from ansible.module_utils.common.warnings import warn

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import generated_ids, snapshot
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.names import (
    PENDING_DELETE_NAME,
    SET_ASIDE_NAME,
    set_aside_for,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ModuleFailure
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_drift import full_spec
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_lookup import search_connectors
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_writes import (
    create_connector,
    delete_connector,
    rename_connector,
    update_connector,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.in_use import (
    delete_blockers,
    hidden_deployed_users,
    hidden_users_failure,
    id_terms,
    not_deletable,
    refusal_users,
    sees_every_model,
    shared_terms_text,
    unseen_users,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_group import user_info
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import (
    deploy,
    get_model,
    is_deployed,
    label,
    models_using_connector,
    point_models_at,
    undeploy,
    update_model,
)

# Attempts at a replacement connector whose ID the server's in-use check tells apart from the old one.
DISTINCT_ID_ATTEMPTS = 3
# The pause before the next attempt: a second at least (the last characters of an ID change with the
# time), or until the stretch in which the node's IDs split at a character of the time is over
# (``generated_ids``; at most 65.5 s, and a moment more).
DISTINCT_ID_PAUSE = 1.1
STRETCH_MARGIN = 0.25
DEFAULT_WAIT = 300


def set_aside(client, connector):
    """The replacements an earlier run set aside while the connector's models used it."""
    found = search_connectors(client, SET_ASIDE_NAME % connector.name)
    return [c for c in found if c.replaces == connector.connector_id]


def delete_set_aside(context, connectors, moved=(), timeout=0):
    """Delete replacements set aside (unused, under ``SET_ASIDE_NAME``), each waiting up to ``timeout``
    while the server still counts the ``moved`` models (IDs) as its users.

    One the server refuses to delete only because models of other connectors share a term of its ID
    (``look_alikes``; an ID made in the same stretch, ``core.generated_ids``) stays under its set-aside
    name, with a warning: nothing uses it, and the teardown of the stack (which deletes the set-aside
    name with the connector's) deletes it once the server allows."""
    for other in sorted(connectors, key=lambda c: c.connector_id):
        blockers = delete_unless_look_alikes(context, other, partial(delete_connector, context, other, moved, timeout))
        sharing = [m for m in blockers if id_terms(m.get("connector_id")) & id_terms(other.connector_id)]
        if not sharing:
            if blockers:
                # the models the refusal named have moved on to IDs that share no term: the server allows it now
                delete_connector(context, other, moved, timeout)
            continue
        warn("connector %s (%s), a replacement set aside (unused), stays: the server refuses to delete it while "
             "it counts model(s) %s (of connector(s) %s) as its users, because ML Commons compares connector "
             "IDs as analyzed text%s. Nothing uses it; the teardown of %s (or a delete of it by name) removes it "
             "once those models are deleted or moved" % (
                 other.name, other.connector_id, ", ".join("%s (%s)" % (label(m), m["model_id"]) for m in sharing),
                 ", ".join(sorted(set(str(m.get("connector_id")) for m in sharing))),
                 shared_terms_text(sharing, other.connector_id), set_aside_for(other.name)))


def distinct_replacement(context, name, avoid, create, known):
    """(connector, discarded): a replacement whose ID shares no term with ``avoid`` (the old ID's
    terms and those of replacements set aside before), renamed to ``name``.

    The server compares connector IDs as analyzed text, on update and on delete: a replacement whose
    ID shares a term with the old one's could never let the old connector be deleted once the
    models use it, and could not even be renamed while the models still use the old one. So each
    replacement is created under the set-aside name (no later run takes it for the connector), and
    only one whose ID the server tells apart is renamed to ``name``; the others stay set aside, are
    deleted after the old connector, and another is created later (the terms of an ID depend on the
    time it was made): a second later, or, when the ID split at a character of the time, once the node
    makes IDs that do not (``retry_pause``). When the shared term is the node's own (``node_terms``), no
    later ID differs and the run fails at once, saying so. ``known`` collects the set-aside IDs, so a
    retried create never takes one of them for its own.
    """
    avoid = set(avoid)
    discarded = []
    for attempt in range(DISTINCT_ID_ATTEMPTS):
        if attempt:
            context.sleep(retry_pause(discarded[-1].connector_id))
        new = create()
        shared = id_terms(new.connector_id) & avoid
        if not shared and not rename_blockers(context.client, new):
            return rename_connector(context, new, name), discarded
        known.append(new.connector_id)
        discarded.append(new)
        avoid |= id_terms(new.connector_id)
        own = shared & generated_ids.node_terms(new.connector_id)
        if own:
            # the node's own part of the ID holds the term: every other ID it makes would share it too
            raise ModuleFailure(
                "connector %s could not be replaced: every connector ID the node makes holds the term %s (in "
                "the node's own part of the ID, drawn when the node started; the new ID %s holds it too), which "
                "the old ID or a deployed model's connector ID holds, and the server refuses to update or delete "
                "a connector whose ID shares a term with one its models use. No later ID of that node differs: "
                "restart the node (it draws another part), or set on_deployed_models=redeploy to update the "
                "connector in place. The models still use the old connector. The unused connector %s, named %r, "
                "is deleted with it, or by the next replace" % (
                    name, ", ".join(repr(t) for t in sorted(own)), new.connector_id,
                    ", ".join(c.connector_id for c in discarded), SET_ASIDE_NAME % name))
    raise ModuleFailure(
        "connector %s could not be replaced: each of the %d connector IDs the server gave shares a term "
        "(%s) with the old ID, an earlier one or a deployed model's connector ID, and the server refuses to "
        "update or delete a connector whose ID shares a term with one its models use. The models still use "
        "the old connector. The unused connectors %s, named %r, are deleted with it, or by the next replace. "
        "Set on_deployed_models=redeploy to update the connector in place" % (
            name, DISTINCT_ID_ATTEMPTS, ", ".join(repr(t) for t in sorted(shared)) or "none",
            ", ".join(c.connector_id for c in discarded), SET_ASIDE_NAME % name))


def retry_pause(connector_id):
    """Seconds to wait before a new attempt, after a replacement whose ID shared a term: until the
    stretch in which the node's IDs split where this one split because of its time is over."""
    left = generated_ids.split_stretch_left(connector_id)
    return max(DISTINCT_ID_PAUSE, left + STRETCH_MARGIN) if left else DISTINCT_ID_PAUSE


def rename_blockers(client, connector):
    """Deployed models the server would count as users of a new connector (look-alike IDs)."""
    if connector.connector_id is None:
        return []
    return [m for m in delete_blockers(client, connector.connector_id) if is_deployed(m)]


def replace_connector(context, current, desired, request, users, removals=()):
    """Create the desired connector, move every model to it, then delete the old one.

    All or nothing: models the caller cannot see that use the old connector fail the run before any
    write (see ``in_use.unseen_users``); a later step that fails moves the models back and deletes the
    new connector, so no run leaves two same-named connectors or a half-moved set of models."""
    if not request.credential:
        raise ModuleFailure("connector %s (%s) must be replaced, and its credential cannot be read back from "
                            "the server: set credential" % (current.name, current.connector_id))
    unseen, count = unseen_users(context, current, users)
    if count:
        raise hidden_users_failure(context.client, current, unseen, count, "replaced")
    if not users:
        check_unseen_without_users(context, current)
    leftovers = set_aside(context.client, current)
    known = [current.connector_id] + [c.connector_id for c in leftovers]
    spec = full_spec(current, desired)
    if users:
        avoid = set()
        for connector_id in known:
            avoid |= id_terms(connector_id)
        aside = dict(spec, name=SET_ASIDE_NAME % spec["name"])
        new, discarded = distinct_replacement(
            context, spec["name"], avoid,
            lambda: create_connector(context, aside, request, replaces=current.connector_id, known_ids=known), known)
    else:
        new, discarded = create_connector(context, spec, request, replaces=current.connector_id, known_ids=known), []
    timeout = request.wait_timeout
    moved, blockers = [], []
    try:
        for model in users:
            moved.append(model)
            update_model(context, model, {"connector_id": new.connector_id}, timeout)
        blockers = term_blockers(context.client, current, users)
        if not blockers:
            delete_connector(context, current, [m["model_id"] for m in users], timeout)
    except (ModuleFailure, PolarSearchError) as exc:
        raise undo_replace(context, current, new, moved, discarded, exc, timeout)
    if blockers:
        leave_replaced(current, new, blockers)
    # a set-aside ID may share a term with the old one's (that is why it was set aside), so the server's
    # in-use check counts the moved models as its users too until the models index refreshes (2.19.1)
    delete_set_aside(context, leftovers + discarded, [m["model_id"] for m in users], timeout)
    return new


def check_unseen_without_users(context, connector):
    """Before a replace of a connector the caller sees no model use: a deployed model it cannot see fails
    the run first (``hidden_deployed_users``, asked alike in check mode). One that is not deployed only the
    DELETE that ends the replace reveals (the real run then deletes the new connector again and fails,
    changing nothing); check mode cannot send it, and says so."""
    if sees_every_model(context.client):
        return
    hidden, count = hidden_deployed_users(context, connector, ())
    if count:
        raise hidden_users_failure(context.client, connector, hidden, count, "replaced")
    if context.check_mode:
        user = (user_info(context.client) or {}).get("name") or "(unknown)"
        warn("check mode cannot tell whether models that user %s cannot see, and that are not deployed, use connector "
             "%s (%s): the server counts them when the real run deletes the connector the replace leaves; the real "
             "run then deletes its new connector again and fails naming them, changing nothing" % (
                 user, connector.name, connector.connector_id))


def undo_replace(context, old, new, moved, discarded, failure, timeout):
    """A replace whose move or delete failed: the models go back to the old connector and the new
    connector is deleted (nothing changed); a model that cannot be moved back keeps the new connector,
    which the next run finds as the replacement and finishes. Returns the failure to raise."""
    errors = {}
    for model in moved:
        try:
            update_model(context, model, {"connector_id": old.connector_id}, timeout)
        except (ModuleFailure, PolarSearchError) as exc:
            errors[model["model_id"]] = str(getattr(exc, "message", exc))
    cause = getattr(failure, "message", failure)
    found = refusal_users(failure)
    if found is not None:
        named = found[0] - set(m["model_id"] for m in moved)
        if named:
            cause = "%s (model(s) %s, which this user cannot see or did not move)" % (cause, ", ".join(sorted(named)))
    if errors:
        where = ", ".join("%s (%s): %s" % (label(m), m["model_id"], state_of(context, m).get("connector_id") or "unknown")
                          for m in moved)
        return ModuleFailure(
            "connector %s (%s) was replaced only in part: %s; moving the models back to it failed: %s. The models "
            "now (model: connector): %s. The next run finishes the replace (connector %s), or fix the cause and run "
            "again" % (old.name, old.connector_id, cause, "; ".join("%s: %s" % (k, v) for k, v in sorted(errors.items())),
                       where, new.connector_id),
            models=[m["model_id"] for m in moved])
    try:
        # the server's in-use check may count the models moved back as the new connector's users for a
        # moment (2.19.1: the models index refreshes after the PUT), which is waited out
        delete_connector(context, new, [m["model_id"] for m in moved], timeout)
        delete_set_aside(context, discarded)
    except (ModuleFailure, PolarSearchError) as exc:
        return ModuleFailure(
            "connector %s (%s) was not changed: %s. Its models were moved back to it (%s), but deleting the new "
            "connector %s failed: %s. The next run deletes it" % (
                old.name, old.connector_id, cause, ", ".join(label(m) for m in moved) or "none had moved",
                new.connector_id, getattr(exc, "message", exc)),
            models=sorted(found[0]) if found else [])
    return ModuleFailure(
        "connector %s (%s) was not changed: %s. Its models were moved back to it (%s) and the new connector %s "
        "was deleted" % (old.name, old.connector_id, cause,
                         ", ".join(label(m) for m in moved) or "none had moved", new.connector_id),
        models=sorted(found[0]) if found else [])


def delete_with_set_aside(context, connector, aside=None, moved=(), timeout=0):
    """Delete the connector (waiting, up to ``timeout``, while the server still counts the ``moved``
    models as its users), then the replacements set aside while its models used it (looked up when
    ``aside`` is not given)."""
    aside = set_aside(context.client, connector) if aside is None else aside
    moved_ids = [m["model_id"] for m in moved]
    try:
        delete_connector(context, connector, moved_ids, timeout)
    except PolarSearchError as exc:
        raise refused_for_unseen(context, connector, exc, moved) or exc
    # a set-aside ID may share a term with the connector's: the moved models count for it too for a moment
    delete_set_aside(context, aside, moved_ids, timeout)


def refused_for_unseen(context, connector, exc, moved=()):
    """The failure naming the models the caller cannot see, when they are why the server refused to
    delete ``connector`` (None for another refusal)."""
    found = refusal_users(exc)
    if found is None or sees_every_model(context.client):
        return None
    named, count = found
    seen = set(m["model_id"] for m in moved) | set(
        m["model_id"] for m in delete_blockers(context.client, connector.connector_id))
    # a model the caller can read by GET is not hidden from it (a search may not show it yet)
    unseen = set(model_id for model_id in named - seen if not state_of(context, {"model_id": model_id}))
    if not unseen and (named or count <= len(seen)):
        return None
    return hidden_users_failure(context.client, connector, unseen, len(unseen) or count - len(seen), "deleted",
                                nothing_changed=not moved)


def finish_replace(context, old, new, timeout):
    """Converge a replace that stopped halfway: models move to the new connector, the old one goes.
    Returns the models moved."""
    users = models_using_connector(context.client, old.connector_id)
    unseen, count = unseen_users(context, old, users)
    if count:
        raise hidden_users_failure(context.client, old, unseen, count, "deleted to finish its replace by %s (%s)"
                                   % (new.name, new.connector_id))
    moved = point_models_at(context, users, new.connector_id, timeout)
    blockers = term_blockers(context.client, old, users)
    if blockers:
        leave_replaced(old, new, blockers)
        return moved
    delete_with_set_aside(context, old, moved=users, timeout=timeout)
    return moved


def term_blockers(client, connector, moved=()):
    """The models of other connectors the server counts as users of ``connector`` because their
    connector IDs share an analyzed term with its ID (see ``in_use.delete_blockers``), besides the
    ``moved`` ones (which a search may still show on it for a moment)."""
    cid = connector.connector_id
    skip = set(m["model_id"] for m in moved)
    return sorted((m for m in delete_blockers(client, cid)
                   if m.get("connector_id") != cid and m["model_id"] not in skip), key=lambda m: m["model_id"])


def leave_replaced(old, new, blockers):
    """A replace whose old connector the server will not delete yet, only because models of other
    connectors share a term of its ID: the run still converges. The old connector stays, unused, as
    the replaced half of the pair (the new one names it in ``polarsearch_replaces``, so every run takes
    the new one for the connector), and each later run deletes it once the server allows."""
    warn("connector %s (%s) was replaced by %s and stays, unused, as its replaced half: the server refuses to "
         "delete it while it counts model(s) %s (of connector(s) %s) as its users, because ML Commons compares "
         "connector IDs as analyzed text%s. A later run deletes it once those models are deleted or moved" % (
             old.name, old.connector_id, new.connector_id,
             ", ".join("%s (%s)" % (label(m), m["model_id"]) for m in blockers),
             ", ".join(sorted(set(str(m.get("connector_id")) for m in blockers))),
             shared_terms_text(blockers, old.connector_id)))


def users_of(context, connector, moved=()):
    """Models that use the connector, including those a finished replace just moved to it (check mode)."""
    users = {m["model_id"]: m for m in moved}
    users.update((m["model_id"], m) for m in models_using_connector(context.client, connector.connector_id))
    return sorted(users.values(), key=lambda m: m["model_id"])


def redeploy_update(context, current, changes, request, deployed, rotate):
    """Undeploy the ``deployed`` models, update the connector in place, deploy them again. Whatever step fails,
    every model this run undeployed is deployed again (each one, whatever happened to the others);
    a failure names every error and each model's state."""
    timeout = request.wait_timeout
    taken, failure, updated, step = [], None, None, "undeploying its models"
    try:
        for model in deployed:
            taken.append(model)
            try:
                undeploy(context, model, True, timeout)
            except (ModuleFailure, PolarSearchError):
                if is_deployed(state_of(context, model)):
                    taken.pop()   # the failed undeploy took nothing down
                raise
        step = "updating it in place"
        updated = update_connector(context, current, changes, request, rotate)
    except (ModuleFailure, PolarSearchError) as exc:
        failure = exc
    errors = put_back(context, taken, timeout)
    if failure is None and not errors:
        return updated
    raise half_done(context, current, failure, errors, deployed, step)


def deployed_now(context, models):
    """Of ``models`` (as a search showed them), those deployed now: a search right after a deploy or an
    undeploy can show a model's earlier state (2.19.1, docs/local-cluster.md), a GET is real time. A
    model the search showed deployed that cannot be read stays in."""
    out = []
    for model in models:
        now = state_of(context, model)
        if is_deployed(now or model):
            out.append(dict(model, model_state=(now or model).get("model_state")))
    return out


def state_of(context, model):
    """The model as the server has it now (``{}`` when it cannot be read)."""
    try:
        return get_model(context.client, model["model_id"]) or {}
    except PolarSearchError:
        return {}


def put_back(context, models, timeout=None):
    """Deploy again each of ``models`` (which this run undeployed), going on after a failure.
    Returns {model_id: error message} of those that failed."""
    errors = {}
    for model in models:
        try:
            deploy(context, dict(model, model_state="UNDEPLOYED"), True,
                   timeout if timeout is not None else DEFAULT_WAIT)
        except (ModuleFailure, PolarSearchError) as exc:
            errors[model["model_id"]] = str(getattr(exc, "message", exc))
    return errors


def model_states(context, models):
    """[{model_id, name, model_state}] of the models as the server has them now."""
    out = []
    for model in models:
        now = state_of(context, model) if not context.check_mode else model
        out.append({"model_id": model["model_id"], "name": label(model),
                    "model_state": now.get("model_state") or "unknown (could not be read)"})
    return out


def half_done(context, connector, failure, errors, models, step):
    """The failure of a change that undeployed models: every error, then each model's state now."""
    parts = []
    if failure is not None:
        parts.append("connector %s (%s) was not changed: %s failed: %s" % (
            connector.name, connector.connector_id, step, getattr(failure, "message", failure)))
    else:
        parts.append("connector %s (%s) was changed" % (connector.name, connector.connector_id))
    by_id = {m["model_id"]: m for m in models}
    for model_id, message in sorted(errors.items()):
        parts.append("deploying model %s (%s) again failed: %s" % (label(by_id[model_id]), model_id, message))
    states = model_states(context, models)
    text = "; ".join(parts) + ". The models now: " + ", ".join(
        "%s (%s): %s" % (s["name"], s["model_id"], s["model_state"]) for s in states)
    if errors:
        text += ". Deploy the models that are not DEPLOYED again (polarsearch_model state=deployed) once the " \
                "cause is fixed"
    else:
        text += ". Every model this run undeployed was put back (deployed again)"
    return ModuleFailure(text, model_states=states)


def delete_or_set_aside(context, connector, leave=False, moved=(), timeout=0):
    """Delete an unused connector and the replacements set aside for it. When the server would refuse
    only because models of other connectors share a term of its ID, the run still converges: the
    connector is renamed to ``PENDING_DELETE_NAME`` (unused, clearly named, no longer found by its
    name) and a later run removes it (``delete_pending``). The look-alikes are found by a search
    first and, when the DELETE is refused all the same (models registered a moment ago, which no
    search shows yet), by a GET of each model the refusal names (``look_alikes``).

    A deployed look-alike blocks the rename too (UpdateConnectorTransportAction refuses while a
    deployed model matches). Then the run fails first, naming it, and nothing changes; unless
    ``leave`` (a connector this run made a moment ago and does not need, because another run's
    same-named one stays): it is left unused under its name, with a warning, and a later run of the
    name deletes it (``keep_one``) once the server allows."""
    blockers = term_blockers(context.client, connector, moved)
    if not blockers:
        blockers = delete_unless_look_alikes(context, connector, partial(
            delete_with_set_aside, context, connector, moved=moved, timeout=timeout))
        if not blockers:
            return
    deployed = [m for m in blockers if is_deployed(m)]
    if deployed and leave:
        warn("connector %s (%s), which this run made and does not need (another run's connector of the name "
             "stays), is left unused under its name: the server refuses to delete or rename it while it counts "
             "deployed model(s) %s as its users, because ML Commons compares connector IDs as analyzed text%s. "
             "A later run of %s deletes it once the server allows" % (
                 connector.name, connector.connector_id, ", ".join("%s (%s)" % (label(m), m["model_id"])
                                                                   for m in deployed),
                 shared_terms_text(deployed, connector.connector_id), connector.name))
        return
    if deployed:
        raise not_deletable(connector, blockers, "")
    aside = set_aside(context.client, connector)
    rename_connector(context, connector, PENDING_DELETE_NAME % connector.name)
    warn("connector %s (%s) was renamed to %r instead of deleted: the server refuses to delete it while it counts "
         "model(s) %s (of connector(s) %s) as its users, because ML Commons compares connector IDs as analyzed "
         "text%s. Nothing uses it; a later run deletes it once those models are deleted or moved"
         % (connector.name, connector.connector_id, PENDING_DELETE_NAME % connector.name,
            ", ".join("%s (%s)" % (label(m), m["model_id"]) for m in blockers),
            ", ".join(sorted(set(str(m.get("connector_id")) for m in blockers))),
            shared_terms_text(blockers, connector.connector_id)))
    delete_set_aside(context, aside)


def delete_unless_look_alikes(context, connector, delete):
    """Run ``delete`` (of ``connector``). When the server refuses it only because of models of other
    connectors (``look_alikes``), return those models; ``[]`` once it is deleted (a second time when the
    models the refusal named are gone by the time they are read). Another error is raised."""
    try:
        delete()
        return []
    except PolarSearchError as exc:
        blockers = look_alikes(context, connector, exc)
        if blockers is None:
            raise
    if not blockers:
        delete()
    return blockers


def look_alikes(context, connector, exc):
    """The models an in-use refusal to delete ``connector`` names, read by GET (real time), when none of
    them uses it: the server counted them only because their connector IDs share a term with its ID.
    ``None`` when ``exc`` is another refusal, or names a model that uses the connector or that the caller
    cannot read; ``[]`` when every model it named is gone."""
    found = refusal_users(exc)
    if found is None or len(found[0]) < found[1]:
        return None
    models = []
    for model_id in sorted(found[0]):
        try:
            model = get_model(context.client, model_id)
        except PolarSearchError:
            return None
        if model is None:
            continue
        if model.get("connector_id") == connector.connector_id:
            return None
        models.append(model)
    return models


def delete_pending(context, name, cached_only=False):
    """Delete the connectors an earlier run set aside for ``name`` (``PENDING_DELETE_NAME``), each
    once the server counts no model as its user. ``cached_only``: only when the run's snapshot already
    holds that name (a stack run reads it with the connectors), so a run costs no extra request."""
    pending = PENDING_DELETE_NAME % name
    cache = snapshot.of(context.client)
    if cached_only and (cache is None or not cache.holds(snapshot.CONNECTORS, [pending])):
        return
    for connector in search_connectors(context.client, pending):
        if delete_blockers(context.client, connector.connector_id):
            continue
        try:
            delete_connector(context, connector)
        except PolarSearchError as exc:
            if look_alikes(context, connector, exc) is None:
                raise
