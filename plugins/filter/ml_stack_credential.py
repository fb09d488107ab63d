# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: ml_stack_credential
short_description: The connector credential of one ml_stack model entry
version_added: 0.2.0
description:
  - Used by the role C(polardb.polarsearch.ml_stack) to build the C(credential) of a connector, C({api_key}) from the
    entry's C(api_key) or the default key, with the entry's C(connector_overrides.credential) merged over it.
  - The result is a secret; pass it only to an option that is not logged.
positional: _input, default_api_key
options:
  _input:
    description: One entry of C(ml_stack_models).
    type: dict
    required: true
  default_api_key:
    description: The key of an entry without its own C(api_key).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Create a connector with the entry's credential
  polardb.polarsearch.polarsearch_connector:
    name: my-connector
    credential: "{{ ml_stack_models[0] | polardb.polarsearch.ml_stack_credential(ml_stack_api_key) }}"
"""

RETURN = r"""
_value:
  description: The credential; empty when there is no key.
  type: dict
"""

from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_input import credential


class FilterModule:
    def filters(self):
        return {"ml_stack_credential": credential}
