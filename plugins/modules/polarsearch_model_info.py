#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: polarsearch_model_info
short_description: List ML Commons remote models on PolarSearch
version_added: 0.1.0
description:
  - Returns the remote models named O(name) (exact match; names are not unique, so there may be several),
    the model O(model_id), or, with neither, every remote model.
  - Each model is returned with the option names of M(polardb.polarsearch.polarsearch_model), plus read-only
    state fields, and with its connector and model group resolved to their names (one request per
    distinct connector and group).
  - A listing of every model reads at most 10000 of them and warns when there are more. Hidden models
    are not listed by the server.
extends_documentation_fragment:
  - polardb.polarsearch.connection
attributes:
  check_mode:
    support: full
    description: The module only reads, and runs the same in check mode.
  diff_mode:
    support: none
    description: The module changes nothing, so there is no diff.
options:
  name:
    description: The model name, matched exactly. Mutually exclusive with O(model_id).
    type: str
  model_id:
    description:
      - The ID of the model. When it does not exist, RV(models) is empty; this is not an error.
    type: str
author:
  - PolarDB PolarSearch team (@polardb)
"""

EXAMPLES = r"""
- name: Read one model
  polardb.polarsearch.polarsearch_model_info:
    name: qwen-max
  register: found

- name: Fail unless exactly one deployed model carries the name
  ansible.builtin.assert:
    that:
      - found.models | length == 1
      - found.models[0].model_state == 'DEPLOYED'

- name: List every remote model
  polardb.polarsearch.polarsearch_model_info:
  register: all_models

- name: Show the models that are not deployed
  ansible.builtin.debug:
    msg: "{{ all_models.models | rejectattr('state', 'equalto', 'deployed') | map(attribute='name') }}"

- name: Deploy every model that is not deployed
  polardb.polarsearch.polarsearch_model:
    model_id: "{{ item.model_id }}"
    state: deployed
  loop: "{{ all_models.models | rejectattr('state', 'equalto', 'deployed') }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
models:
  description:
    - The models found, sorted by name and ID; an empty list when there is none.
    - The keys are options of M(polardb.polarsearch.polarsearch_model), except the read-only C(model_state) and
      C(model_version). C(connector) and C(connector_id) are both returned; pass only one of them back to the
      module. C(model_group) and C(model_group_id) name the same group; the module accepts both when they agree.
  returned: success
  type: list
  elements: dict
  contains:
    model_id:
      description: The ID of the model.
      type: str
    name:
      description: The model name.
      type: str
    description:
      description: The description.
      type: str
      returned: when set
    connector_id:
      description: The ID of the connector the model uses.
      type: str
      returned: when the model uses a stand-alone connector
    connector:
      description: The name of that connector.
      type: str
      returned: when the connector exists and the caller may read it (a 403 on it leaves the name out, with a warning)
    model_group_id:
      description: The ID of the model group.
      type: str
    model_group:
      description: The name of the model group.
      type: str
      returned: when the model group exists and the caller may read it (a 403 on it leaves the name out, with a warning)
    interface:
      description: The input and output JSON schemas, parsed from the strings the server stores.
      type: dict
      returned: when set
    is_enabled:
      description: Whether the model accepts predictions.
      type: bool
      returned: when set
    rate_limiter:
      description: The rate limiter.
      type: dict
      returned: when set
    guardrails:
      description: The guardrails.
      type: dict
      returned: when set
    model_state:
      description: Read-only. The server's model state, such as C(REGISTERED), C(DEPLOYED) or C(UNDEPLOYED).
      type: str
    model_version:
      description: Read-only. The version of the model within its group, as a string.
      type: str
    state:
      description:
        - The O(polardb.polarsearch.polarsearch_model#module:state) that keeps the model as it is -
          V(deployed) when RV(models[].model_state) is C(DEPLOYED), otherwise V(present).
      type: str
      choices: [deployed, present]
  sample:
    - model_id: x8nrvJIBq2x1oHuO3a0b
      name: qwen-max
      description: DashScope qwen-max
      connector_id: 3ZxYvJIBq2x1oHuOlq6Y
      connector: dashscope-qwen-max
      model_group_id: wcnrvJIBq2x1oHuO2a1Z
      model_group: qwen-max
      model_state: DEPLOYED
      model_version: "1"
      state: deployed
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import PolarSearchModule
from ansible_collections.polardb.polarsearch.plugins.module_utils.stack.info import model_info


def main():
    module = PolarSearchModule(
        argument_spec=dict(
            name=dict(type="str"),
            model_id=dict(type="str"),
        ),
        mutually_exclusive=[("name", "model_id")],
        writes=False,
    )
    module.run(model_info)


if __name__ == "__main__":
    main()
