# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of several same-named objects stays: one rule that every run applies the same way.

Two runs that create the same object at the same moment can both succeed (ML Commons names are
not unique, and even model-group names are checked by a search before the write). Each run then
looks the name up, and all agree on the winner without talking to each other: the oldest
``created_time``, then the smallest ID. A run whose own new object lost deletes it (nothing uses
it yet) and adopts the winner.

A run decides only once its view is complete enough (:func:`settled_view`): searches are
near-real-time and ``created_time`` is stamped before the write, so right after its create a run
may not see another run's create yet, not even its own. It first waits until its own new object
shows in a search of the name (which proves the search reflects a refresh after its own write),
then until the search has shown the same objects for ``QUIET`` seconds. docs/faults.md argues
each ordering of two and three runs.
"""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ModuleFailure

NEVER = float("inf")
# How long the name search must stay the same, after the run's own object showed in it, before the
# run decides: a create stamped before this run's own whose write reaches the index later (a busy
# node) shows up within it.
QUIET = 1.0
# The most a run waits for its own new object to show in a search of its name; then it keeps it.
VISIBLE_TIMEOUT = 60.0
POLL_INITIAL = 0.2
POLL_MAX = 0.5


def _epoch_ms(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return NEVER


def winner(objects, created_time, object_id):
    """The object every run keeps among ``objects`` (``created_time(o)`` in epoch ms, ``object_id(o)``)."""
    return min(objects, key=lambda obj: (_epoch_ms(created_time(obj)), str(object_id(obj) or "")))


def winner_by_key(items, id_key):
    """:func:`winner` for dicts with ``created_time`` and ``id_key``."""
    return winner(items, lambda item: item.get("created_time"), lambda item: item.get(id_key))


def settled_view(context, kind, name, own_id, search, object_id, timeout=VISIBLE_TIMEOUT, gone=None):
    """The same-named objects ``search()`` returns once the run may decide: its own ``own_id`` is among
    them and the set of IDs has not changed for ``QUIET`` seconds. ``None`` when its own object does not
    show within ``timeout`` seconds (a search that never lists it): the run keeps what it made, with a
    warning. ``gone()``, when given, is asked (by a GET, which is real time) while ``own_id`` is not in
    the view: once it says the object was deleted, the view is returned without it."""
    own_id = str(own_id)
    seen = {}

    def probe():
        found = search()
        ids = frozenset(str(object_id(obj)) for obj in found)
        seen["last"] = found
        if own_id not in ids:
            seen.pop("ids", None)
            return found if gone is not None and gone() else None
        now = context.clock()
        if seen.get("ids") != ids:
            seen.update(ids=ids, since=now)
        return found if now - seen["since"] >= QUIET else None

    try:
        return context.wait_for("%s %s (%s) to show in a search of its name" % (kind, name, own_id), probe,
                                timeout, initial=POLL_INITIAL, factor=1.5, max_interval=POLL_MAX)
    except ModuleFailure:
        if "ids" in seen:
            return seen["last"]
        warn = getattr(context.client, "_warn", None)
        if warn is not None:
            warn("%s %s (%s) did not show in a search of its name within %.0f s, so same-named %ss that other "
                 "runs made at the same moment could not be settled; it is kept" % (kind, name, own_id, timeout, kind))
        return None
