# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""scripts/polarsearch-local restarts a node whose every ID shares a term (its part of the IDs, drawn at start,
holds two '-'): on such a node ML Commons counts every model as a user of every connector the node made. A
3.6.0 node started on 2026-12-06 had the part "Hoe-cd6-"."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import polarsearch_local  # noqa: E402 pylint: disable=wrong-import-position

LOOK_ALIKE = "QE7DS6IBHoe-cd6-6H-v"
PLAIN = "e9GwSaIBXZM_9YTAuTN2"


class Probe:
    """The node's answers to the ID probe, one per start, and what the start-up did."""

    def __init__(self, monkeypatch, ids):
        self.ids = list(ids)
        self.calls = []
        self.events = []
        probe = self

        class Node:
            def try_call(self, method, path, body=None, timeout=5):
                probe.calls.append((method, path))
                if method == "POST":
                    return 201, {"_id": probe.ids[0]}
                return 200, {"acknowledged": True}

        class Cfg:
            def admin(self):
                return Node()

        self.cfg = Cfg()
        monkeypatch.setattr(polarsearch_local, "os_pid", lambda cfg: 4242)
        monkeypatch.setattr(polarsearch_local, "stop_process", self.stop)
        monkeypatch.setattr(polarsearch_local, "start_opensearch", self.start)
        monkeypatch.setattr(polarsearch_local, "wait_ready", lambda cfg, started: "green")

    def stop(self, pid, name, grace):
        self.events.append(("stop", name))
        self.ids.pop(0)

    def start(self, cfg, java_home):
        self.events.append(("start", java_home))
        return 5000 + len(self.events)


def test_the_id_probe_reads_the_terms_the_nodes_ids_all_share(monkeypatch):
    assert polarsearch_local.node_terms(LOOK_ALIKE) == {"cd6"}
    probe = Probe(monkeypatch, [LOOK_ALIKE])
    assert polarsearch_local.look_alike_terms(probe.cfg) == {"cd6"}
    # the scratch index goes again at once
    assert probe.calls == [("POST", "/%s/_doc" % polarsearch_local.ID_PROBE_INDEX),
                           ("DELETE", "/%s" % polarsearch_local.ID_PROBE_INDEX)]


def test_a_node_without_a_term_of_its_own_is_kept(monkeypatch):
    probe = Probe(monkeypatch, [PLAIN])
    launched = [("OpenSearch", 4242, 60)]
    assert polarsearch_local.draw_node_part(probe.cfg, "/jdk", launched, "yellow") == "yellow"
    assert probe.events == [] and launched == [("OpenSearch", 4242, 60)]


def test_a_node_whose_ids_all_share_a_term_is_started_again(monkeypatch):
    probe = Probe(monkeypatch, [LOOK_ALIKE, PLAIN])
    launched = [("model service", 11, 10), ("OpenSearch", 4242, 60)]
    assert polarsearch_local.draw_node_part(probe.cfg, "/jdk", launched, "yellow") == "green"
    assert probe.events == [("stop", "OpenSearch"), ("start", "/jdk")]
    # a failed start-up later stops the new process, not the old one
    assert launched == [("model service", 11, 10), ("OpenSearch", 5002, 60)]


def test_a_node_that_keeps_drawing_such_a_part_fails_the_start(monkeypatch):
    probe = Probe(monkeypatch, [LOOK_ALIKE] * polarsearch_local.NODE_DRAWS)
    with pytest.raises(polarsearch_local.Failure, match="cd6"):
        polarsearch_local.draw_node_part(probe.cfg, "/jdk", [("OpenSearch", 4242, 60)], "green")
    assert [e for e in probe.events if e[0] == "start"] == [("start", "/jdk")] * (polarsearch_local.NODE_DRAWS - 1)
