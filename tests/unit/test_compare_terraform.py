# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/tools/compare_terraform.py: the speed finding is read from the measured cells, never written by hand."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SCRIPT = Path(__file__).resolve().parents[2] / "tests" / "tools" / "compare_terraform.py"
_spec = importlib.util.spec_from_file_location("polarsearch_compare_terraform", _SCRIPT)
ct = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = ct
_spec.loader.exec_module(ct)


def cells(**times):
    return {"results": dict(times)}


def test_the_speed_finding_compares_the_cases_both_tools_carried_out():
    tofu = cells(**{"create": "Apply complete!; 4.4 s, 33 req (2.48 s on the server)",
                    "no-op check": "no changes; 0.7 s, 9 req (0.08 s on the server)",
                    "rotated key: fixed": "failed: update ML Connector failed; 0.5 s, 12 req (0.11 s on the server)"})
    ansible = cells(**{"create": "ok=3 changed=1 failed=0; 3.9 s, 65 req (0.84 s on the server)",
                       "no-op check": "no changes; 2.8 s, 3 req (0.02 s on the server)",
                       "rotated key: fixed": "ok=3 changed=1 failed=0; 2.9 s, 33 req (0.57 s on the server)"})
    text = ct.speed_finding(tofu, ansible)
    assert text.startswith("- Speed: of the 2 cases both tools carried out, Terraform was faster in 1 "
                           "(the playbook took 4.0-4.0x its time); the collection was as fast or faster in "
                           "Create from empty (apply / provision) (3.9 s against 4.4 s).")
    assert ct.speed_finding({}, {}) == "- Speed: not measured in this run."
