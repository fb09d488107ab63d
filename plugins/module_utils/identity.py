# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which one of several same-named objects stays, when runs at the same time each created one.

Every run picks the same winner without talking to the others: the oldest (``created_time``),
then the smallest ID. A run whose own new object lost deletes it (nothing uses it yet) and adopts
the winner.
"""

from __future__ import annotations

NEVER = float("inf")


def winner(objects, created_time, object_id):
    """The object every run keeps among ``objects`` (``created_time(o)`` in epoch ms, ``object_id(o)``)."""
    def rank(obj):
        created = created_time(obj)
        return (NEVER if created is None else created, object_id(obj) or "")
    return min(objects, key=rank)
