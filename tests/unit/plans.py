# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the structured ``plan`` a module returned, in tests."""

from __future__ import annotations

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.plan import Step


def plan_text(result, model_ids=True):
    """The plan as the text each step reads as. ``model_ids=False`` names model steps by name only
    (the structured entries, IDs included, are still compared between check mode and a real run)."""
    steps = [Step(**entry) for entry in result["plan"]]
    if not model_ids:
        steps = [Step(s.operation, s.kind, s.name, None, s.fields) if s.kind == "model" else s for s in steps]
    return [str(step) for step in steps]
