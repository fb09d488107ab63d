# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The contract scenarios against the fake server; tests/integration/test_contract.py runs the same
scenarios against the real cluster, so the fake cannot drift from ML Commons unnoticed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[2]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from contract_scenarios import SCENARIOS, VERSIONS, expected_for  # noqa: E402
from fake_server import FakeServer  # noqa: E402


def fake_api(server):
    def api(method, path, body=None):
        response = server.handle(None, method, "https://search.example.com:9200/" + path, body=body)
        return response.status_code, (response.json() if response.content else {})
    return api


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_the_fake_answers_as_ml_commons(scenario, version):
    server = FakeServer(version=version)
    assert scenario.run(fake_api(server), "contract") == expected_for(scenario, version)
    assert server.connectors == {}, "the scenario deletes what it created"
