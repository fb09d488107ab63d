"""The contract scenarios against the real cluster; tests/unit/contract runs the same scenarios
against the fake server, so a difference between the two fails a test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from contract_scenarios import SCENARIOS, expected_for  # noqa: E402


@pytest.fixture(scope="module")
def api(rest):
    """The raw answer (status, body) of the profile's cluster, as the admin on the secure profile."""

    def call(method, path, body=None):
        response = rest.request(method, "/" + path, json=body)
        return response.status_code, (response.json() if response.content else {})
    return call


@pytest.fixture(scope="module")
def server_version(rest):
    return rest.call("GET", "/")["version"]["number"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_ml_commons_answers_as_the_fake(api, prefix, scenario, server_version):
    assert scenario.run(api, prefix) == expected_for(scenario, server_version)
