# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of several same-named objects stays: one rule that every run applies the same way.

Two runs that create the same object at the same moment can both succeed (ML Commons names are
not unique, and even model-group names are checked by a search before the write). Each run then
looks the name up, and all agree on the winner without talking to each other: the oldest
``created_time``, then the smallest ID. A run whose own new object lost deletes it (nothing uses
it yet) and adopts the winner.
"""

from __future__ import annotations

NEVER = float("inf")


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
