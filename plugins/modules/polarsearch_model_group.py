#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: polarsearch_model_group
short_description: Create, update and delete ML Commons model groups on PolarSearch
version_added: 0.1.0
description:
  - Manages a model group, the unit of access control for models in ML Commons.
  - A group is identified by O(name) (group names are unique on the server) or O(model_group_id).
  - O(access_mode), O(backend_roles) and O(add_all_backend_roles) need the security plugin and
    C(plugins.ml_commons.model_access_control_enabled=true); when they are set the module reads that setting and
    fails before writing anything if it is off. Backend roles go only with O(access_mode=restricted), and the
    server accepts only roles the user has (an admin may set any); the module checks both first, reading the
    user's roles from the security plugin.
  - When two runs create the same group at the same moment, both end with the same group; a run whose own new
    group lost deletes it.
  - M(polardb.polarsearch.polarsearch_model) registers models into a group with its C(model_group) or
    C(model_group_id) option.
extends_documentation_fragment:
  - polardb.polarsearch.connection
attributes:
  check_mode:
    support: full
    description: Check mode reads the group and reports the plan a real run would carry out.
  diff_mode:
    support: full
    description: Shows the group before and after.
options:
  name:
    description:
      - The group name. Required unless O(model_group_id) is set; with O(model_group_id) it renames the group.
    type: str
  model_group_id:
    description: The ID of the group to manage.
    type: str
  description:
    description: A description of the group; compared only when set.
    type: str
  access_mode:
    description:
      - Who may use the group's models; compared only when set. A new group without it is V(private) on a
        cluster with model access control and V(public) without.
      - Changing it to V(public) or V(private) clears the group's backend roles (the server does so).
    type: str
    choices: [public, private, restricted]
  backend_roles:
    description:
      - The backend roles that may use the group's models; needs O(access_mode=restricted) (implied when
        O(access_mode) is not set). Compared as a set, only when set. Every role must be one the user has,
        unless the user is an admin.
      - Mutually exclusive with O(add_all_backend_roles).
    type: list
    elements: str
  add_all_backend_roles:
    description:
      - Give the group all the backend roles of the user that runs the module (restricted access). Compared
        with the user's current backend roles. Admin users cannot use it (the server refuses).
    type: bool
  state:
    description:
      - V(present) creates the group or updates the fields that differ.
      - V(absent) deletes the group. It fails, naming them, while any model (of any function) is in the group.
        A group that is already gone is success.
    type: str
    choices: [present, absent]
    default: present
author:
  - PolarDB PolarSearch team (@polardb)
"""

EXAMPLES = r"""
- name: A group that only team_a may use
  polardb.polarsearch.polarsearch_model_group:
    name: team-a-rerankers
    description: Rerank models of team A
    access_mode: restricted
    backend_roles: [team_a]

- name: A private group (only the owner and admins)
  polardb.polarsearch.polarsearch_model_group:
    name: my-llms
    access_mode: private

- name: Register a model into it
  polardb.polarsearch.polarsearch_model:
    name: qwen-max
    connector: dashscope-qwen-max
    model_group: my-llms
    state: deployed

- name: Delete a group once its models are gone
  polardb.polarsearch.polarsearch_model_group:
    name: my-llms
    state: absent
"""

RETURN = r"""
model_group:
  description: The group after the run (predicted in check mode); empty when it is absent.
  returned: success
  type: dict
  sample:
    model_group_id: wcnrvJIBq2x1oHuO2a1Z
    name: team-a-rerankers
    description: Rerank models of team A
    access_mode: restricted
    backend_roles: [team_a]
    latest_version: 2
model_group_id:
  description: The ID of the group. V(null) in check mode for a group still to be created.
  returned: success, when the group exists
  type: str
  sample: wcnrvJIBq2x1oHuO2a1Z
diff:
  description: The group before and after.
  returned: success
  type: dict
  contains:
    before:
      description: The group before the run.
      type: dict
      returned: success
    after:
      description: The group after the run.
      type: dict
      returned: success
plan:
  description: The writes the run made (in check mode, would make), in order, one entry per write.
  returned: always
  type: list
  elements: dict
  contains:
    operation:
      description: The write, C(create), C(update) or C(delete).
      type: str
      returned: always
    kind:
      description: Always C(model_group).
      type: str
      returned: always
    name:
      description: The group name.
      type: str
      returned: always
    id:
      description: The group ID; V(null) for a group this run creates.
      type: str
      returned: always
    fields:
      description: The names of the fields a create sets or an update changes.
      type: list
      elements: str
      returned: always
  sample:
    - {operation: update, kind: model_group, name: team-a-rerankers, id: wcnrvJIBq2x1oHuO2a1Z,
       fields: [backend_roles]}
models:
  description: On failure of O(state=absent), the IDs of the models still in the group.
  returned: when they block a delete
  type: list
  elements: str
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import specs
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import PolarSearchModule
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_group import ensure_model_group


def main():
    module = PolarSearchModule(**specs.model_group())
    module.run(ensure_model_group)


if __name__ == "__main__":
    main()
