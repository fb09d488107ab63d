# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nodes that start at once share scripts/polarsearch-local's download cache (scripts/test starts the benchmark's
plain node beside the plain one): on an empty cache both download the same artifacts, and both must come up. A
run from an empty HOME failed here with FileNotFoundError on the rename of the shared ``.part`` file."""

from __future__ import annotations

import hashlib
import sys
import threading
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import polarsearch_local  # noqa: E402 pylint: disable=wrong-import-position

CONTENT = b"opensearch distribution " * 4096
SHA512 = hashlib.sha512(CONTENT).hexdigest()


def test_two_nodes_downloading_into_one_empty_cache_both_get_the_artifact(tmp_path, monkeypatch):
    both_fetching = threading.Barrier(2, timeout=10)

    def fetch(url, dest, timeout=60):
        with open(dest, "wb") as out:
            out.write(CONTENT[:100])
            both_fetching.wait()          # both downloads are under way at once
            out.write(CONTENT[100:])

    def fetch_text(url):
        return SHA512 if url.endswith(".sha512") else None

    monkeypatch.setattr(polarsearch_local, "_fetch", fetch)
    monkeypatch.setattr(polarsearch_local, "_fetch_text", fetch_text)
    monkeypatch.setattr(polarsearch_local, "say", lambda msg: None)
    art = {"key": "opensearch", "path": "org/opensearch/opensearch-3.6.0.zip", "sha512": SHA512}
    cfg = types.SimpleNamespace(downloads=str(tmp_path), maven="https://repo.invalid",
                                profile=types.SimpleNamespace(artifacts=[art]))
    results, errors = [], []

    def node():
        try:
            results.append(polarsearch_local.ensure_downloads(cfg))
        except Exception as exc:  # pylint: disable=broad-exception-caught
            errors.append(repr(exc))

    threads = [threading.Thread(target=node) for dummy in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(results) == 2
    assert (tmp_path / "opensearch-3.6.0.zip").read_bytes() == CONTENT
    assert not list(tmp_path.glob("*.part*")), "no part file is left behind"
