# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IDs OpenSearch gives the documents it names itself (connectors, models, groups, tasks).

OpenSearch's time-based ID generator (``TimeBasedUUIDGenerator``, the same on 2.19.1 and 3.6.0)
packs 15 bytes and encodes them base64url without padding, 20 characters:

- bytes 0-1: the low and the third byte of a sequence number;
- bytes 2-5: bits 16-47 of the time the ID was made, in milliseconds (byte 2 changes every 65.5 s);
- bytes 6-11: the node's part, drawn at random when the node starts (characters 8-15);
- bytes 12-14: bits 8-15 of the time, the second byte of the sequence number, bits 0-7 of the time.

ML Commons compares connector IDs as analyzed text (``converge.in_use``), and the standard
analyzer splits an ID at ``-``, one of the 64 characters. Character 3 holds bits 16-21 of the time
and character 16 bits 10-15. While one of them is ``-`` and the node's part holds a ``-`` too, the
term between them is made only of bits that stay fixed for hours and of the node's part: every ID
the node makes in that stretch (65.5 s every 70 minutes for character 3; 1 s every 65.5 s for
character 16) shares it. Waiting until the stretch is over is the only way to a new ID that does not.
"""

from __future__ import annotations

import base64
import binascii

ID_LENGTH = 20
# the characters of the node's part (bytes 6-11)
NODE_CHARACTERS = range(8, 16)
# the characters that hold only bits of the time: {position: the lowest bit of the time it holds}
TIME_CHARACTERS = {3: 16, 16: 10}


def created_ms(generated_id):
    """The time (ms since the epoch) the server made ``generated_id``; ``None`` for an ID of another
    shape (an ID the user chose, or from another generator)."""
    if not isinstance(generated_id, str) or len(generated_id) != ID_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(generated_id + "=" * (-len(generated_id) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 15:
        return None
    return (raw[5] << 40) | (raw[4] << 32) | (raw[3] << 24) | (raw[2] << 16) | (raw[12] << 8) | raw[14]


def split_stretch_left(generated_id):
    """Seconds from the making of ``generated_id`` until the node's IDs no longer split where this one
    splits because of its time (a ``-`` in character 3 or 16); 0 when no time character is ``-``, and
    ``None`` for an ID of another shape."""
    made = created_ms(generated_id)
    if made is None:
        return None
    left = 0
    for position, low_bit in TIME_CHARACTERS.items():
        if generated_id[position] == "-":
            # the character changes when the bits from ``low_bit`` up count one further
            left = max(left, (((made >> low_bit) + 1) << low_bit) - made)
    return left / 1000.0


def node_terms(generated_id):
    """The terms of ``generated_id`` made only of characters of the node's part and split off at both
    ends by a ``-`` of the node's part: every ID the node makes shares them, whatever the time (an empty
    set for an ID of another shape)."""
    if created_ms(generated_id) is None:
        return set()
    dashes = [position for position in NODE_CHARACTERS if generated_id[position] == "-"]
    return {generated_id[start + 1:end].lower() for start, end in zip(dashes, dashes[1:])
            if end > start + 1 and generated_id[start + 1:end].strip("_")}
