# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: ml_stack_delete_blockers
short_description: Why an ml_stack teardown would fail to delete a connector
version_added: 0.2.0
description:
  - Used by the role C(polardb.polarsearch.ml_stack) in check mode, where the models are not deleted and the
    connector deletes cannot run. For each connector of an absent model, the models the server counts as its users
    (C(delete_blocked_by) of M(polardb.polarsearch.polarsearch_connector_info)) other than those the teardown
    deletes (the C(delete) steps of the model results' C(plan)).
positional: _input, connectors, models_absent
options:
  _input:
    description: The resolved stack, as P(polardb.polarsearch.ml_stack_resolve#filter) returns it.
    type: dict
    required: true
  connectors:
    description: The connectors, as M(polardb.polarsearch.polarsearch_connector_info) lists them.
    type: list
    elements: dict
    required: true
  models_absent:
    description: The registered loop result of the model removals.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check that no other model keeps the connectors from being deleted
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: "{{ stack | polardb.polarsearch.ml_stack_delete_blockers(listing.connectors, removed_models) }}"
"""

RETURN = r"""
_value:
  description: One message per blocked connector; empty when every delete would succeed.
  type: list
  elements: str
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.ml_stack_teardown import foreign_blockers


class FilterModule:
    def filters(self):
        return {"ml_stack_delete_blockers": foreign_blockers}
