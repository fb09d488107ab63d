# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: ml_stack_report
short_description: The ml_stack role's drift report, from the plan and diff of each resource
version_added: 0.2.0
description:
  - Used by the role C(polardb.polarsearch.ml_stack). Reads the structured C(plan) (one step per write,
    C({operation, kind, name, id, fields})) and the C(diff) of each module result the role registered, and makes
    one row per model and resource, C(setting), C(connector), C(model) and C(deploy), then one per pipeline, and one for the index.
  - Fields are names only; a credential shows as C(credential).
positional: _input, results, check_mode
options:
  _input:
    description: The resolved stack, as P(polardb.polarsearch.ml_stack_resolve#filter) returns it.
    type: dict
    required: true
  results:
    description:
      - The C(results) that M(polardb.polarsearch.polarsearch_ml_stack) returns, C(settings_present), C(settings_absent),
        C(connectors_present), C(connectors_absent), C(groups_present), C(models_present), C(models_absent),
        C(pipelines_present), C(pipelines_absent) and C(connectors) (the connector listing a teardown reads); the loop
        results a play registers from the resource modules have the same shape. A missing or skipped one counts as
        no change.
      - C(index), the stack's index (C(name), C(model), C(vector_field), C(dimension_known) and the
        M(polardb.polarsearch.polarsearch_index) C(result)), when the role manages one.
    type: dict
    required: true
  check_mode:
    description: Whether the run is in check mode (the title says what would change rather than what changed).
    type: bool
    required: true
"""

EXAMPLES = r"""
- name: Build the report
  ansible.builtin.set_fact:
    report: "{{ stack | polardb.polarsearch.ml_stack_report({'models_present': registered_models}, false) }}"
"""

RETURN = r"""
_value:
  description:
    - C(rows), each C({model, resource, name, action, fields}); C(drift), V(true) when a row has an action other than
      C(none); C(table), the rows as aligned lines under a title.
  type: dict
"""

from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_report import report


class FilterModule:
    def filters(self):
        return {"ml_stack_report": report}
