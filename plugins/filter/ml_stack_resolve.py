# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: ml_stack_resolve
short_description: Check the ml_stack role's model entries and resolve each against its preset
version_added: 0.2.0
description:
  - Used by the role C(polardb.polarsearch.ml_stack); checks every entry of C(ml_stack_models) (names, kinds,
    states, presets, endpoints, API keys) and resolves each to the connector, model options, endpoint and
    trusted endpoint entry the role manages.
  - Talks to no server. The result carries no secret; each entry's credential comes from
    P(polardb.polarsearch.ml_stack_credential#filter).
positional: _input, builtin_presets, options
options:
  _input:
    description: The entries of C(ml_stack_models).
    type: list
    elements: dict
    required: true
  builtin_presets:
    description: The presets shipped with the role, keyed by name.
    type: dict
    required: true
  options:
    description:
      - The role variables that apply to every entry, C(state), C(name_prefix), C(preset), C(endpoint), C(scheme),
        C(has_api_key) (whether C(ml_stack_api_key) is set), C(presets) (C(ml_stack_presets), merged over
        the built-in presets key by key), C(pipelines), C(text_field), C(vector_field), C(index)
        (C(ml_stack_index), which needs C(pipelines) unless C(state) is C(absent)), C(index_method),
        C(index_recreate) and C(delete_index).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Resolve the stack
  ansible.builtin.set_fact:
    stack: >-
      {{ ml_stack_models | polardb.polarsearch.ml_stack_resolve(presets,
         {'state': 'deployed', 'name_prefix': 'dev-', 'preset': 'dashscope',
          'endpoint': 'dashscope.aliyuncs.com', 'scheme': 'https', 'has_api_key': true}) }}
"""

RETURN = r"""
_value:
  description:
    - C(problems), every problem of the input (when there is one, no entry is resolved), C(models), each entry
      resolved (C(name), C(kind), C(state), C(endpoint), C(regex), C(connector), C(model_options), C(verify) and
      C(index), its position in the input), and C(present), C(deployed) and C(absent), the resolved entries by
      state.
    - C(pipelines), the search pipelines of the stack (C(name), C(type), C(model), C(state), C(definition) with
      model references by name), and C(pipelines_present) and C(pipelines_absent), the same by state.
    - C(index), the stack's k-NN index (C(name), C(state), C(model), C(vector_field); present, C(text_field),
      C(method), C(recreate), C(pipeline) and the embedding model's C(verify) parameters; absent, C(delete)), or
      V(null).
  type: dict
"""

from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_input import resolve


class FilterModule:
    def filters(self):
        return {"ml_stack_resolve": resolve}
