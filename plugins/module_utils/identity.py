# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of several same-named objects stays: one rule that every run applies the same way.

Two runs that create the same object at the same moment can both succeed (ML Commons names are
not unique, and even model-group names are checked by a search before the write). Each run then
looks the name up, and all agree on the winner: the oldest ``created_time``, then the smallest ID.
A run whose own new object lost deletes it and uses the winner.
"""

from __future__ import annotations


def _created(item):
    value = item.get("created_time")
    try:
        return int(value)
    except (TypeError, ValueError):
        return float("inf")


def winner(items, id_key):
    """The object that stays among ``items`` (dicts with ``created_time`` and ``id_key``)."""
    return min(items, key=lambda item: (_created(item), str(item.get(id_key))))
