# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credential fingerprints: a keyed, salted HMAC of a credential, never reversible to its value."""

from __future__ import annotations

import hashlib
import hmac
import json
import os


def fingerprint(credential, key, salt=None):
    """A keyed, salted HMAC-SHA256 of the canonical credential; never reversible to the value."""
    salt = salt or os.urandom(8).hex()
    canonical = json.dumps({str(k): str(v) for k, v in credential.items()}, sort_keys=True, separators=(",", ":"))
    mac = hmac.new(("%s:%s" % (key or "", salt)).encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256)
    return "hmac-sha256:v1:%s:%s" % (salt, mac.hexdigest())


def fingerprint_matches(stored, credential, key):
    parts = (stored or "").split(":")
    if len(parts) != 4 or parts[:2] != ["hmac-sha256", "v1"]:
        return False
    return hmac.compare_digest(fingerprint(credential, key, parts[2]), stored)
