#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: polarsearch_connector_info
short_description: List ML Commons connectors on PolarSearch
version_added: 0.1.0
description:
  - Returns the connectors named O(name) (exact match; names are not unique, so there may be several),
    the connector O(connector_id), or, with neither, every connector.
  - Each connector is returned with the option names of M(polardb.polarsearch.polarsearch_connector), so an
    entry, without its read-only C(models) and C(delete_blocked_by) keys, can be passed back to that module.
  - A credential is never returned; the server does not return it, and the collection's own
    credential fingerprint parameter is left out too.
  - A listing of every connector reads at most 10000 of them and warns when there are more.
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
    description: The connector name, matched exactly. Mutually exclusive with O(connector_id).
    type: str
  connector_id:
    description:
      - The ID of the connector. When it does not exist, RV(connectors) is empty; this is not an error.
    type: str
author:
  - PolarDB PolarSearch team (@polardb)
"""

EXAMPLES = r"""
- name: Read one connector
  polardb.polarsearch.polarsearch_connector_info:
    name: dashscope-qwen-max
  register: found

- name: Fail when the name is ambiguous
  ansible.builtin.assert:
    that: found.connectors | length == 1

- name: List every connector
  polardb.polarsearch.polarsearch_connector_info:
  register: all_connectors

- name: Show the connectors that no model uses
  ansible.builtin.debug:
    msg: "{{ all_connectors.connectors | selectattr('models', 'equalto', []) | map(attribute='name') }}"

- name: Copy a connector's settings to a new connector with its own credential
  polardb.polarsearch.polarsearch_connector:
    name: dashscope-qwen-max-copy
    description: "{{ found.connectors[0].description | default(omit) }}"
    version: "{{ found.connectors[0].version }}"
    parameters: "{{ found.connectors[0].parameters }}"
    actions: "{{ found.connectors[0].actions }}"
    credential:
      api_key: "{{ dashscope_api_key }}"
"""

RETURN = r"""
connectors:
  description:
    - The connectors found, sorted by name and ID; an empty list when there is none.
    - The keys are options of M(polardb.polarsearch.polarsearch_connector), except the read-only C(models) and
      C(delete_blocked_by).
  returned: success
  type: list
  elements: dict
  contains:
    connector_id:
      description: The ID of the connector.
      type: str
    name:
      description: The connector name.
      type: str
    description:
      description: The description.
      type: str
      returned: when set
    version:
      description: The connector version, as a string.
      type: str
    protocol:
      description: The protocol, such as V(http).
      type: str
    parameters:
      description:
        - The connector parameters, values as the strings the server stores.
        - Without the parameters the collection uses for its own bookkeeping (C(polarsearch_credential_fingerprint),
          C(polarsearch_replaces)).
      type: dict
    actions:
      description: The actions; C(action_type) is upper-case as the server stores it.
      type: list
      elements: dict
    client_config:
      description: The HTTP client settings, with the server's defaults filled in.
      type: dict
      returned: when set
    access_mode:
      description: C(public), C(private) or C(restricted).
      type: str
      returned: when connector access control is on
    backend_roles:
      description: The backend roles that may use the connector.
      type: list
      elements: str
      returned: when connector access control is on
    models:
      description: Read-only. The IDs of the remote models that use the connector.
      type: list
      elements: str
    delete_blocked_by:
      description:
        - Read-only. The IDs of the models the server counts as users of the connector when asked to delete
          it; while there is one, a delete is refused.
        - The models in C(models), and any model whose connector ID shares a term with this connector's ID,
          because ML Commons compares connector IDs as analyzed text (split at C(-), case folded).
      type: list
      elements: str
  sample:
    - connector_id: 3ZxYvJIBq2x1oHuOlq6Y
      name: dashscope-qwen-max
      description: DashScope qwen-max (OpenAI compatible mode)
      version: "1"
      protocol: http
      parameters: {endpoint: dashscope.aliyuncs.com, model: qwen-max}
      actions:
        - action_type: PREDICT
          method: POST
          url: https://${parameters.endpoint}/compatible-mode/v1/chat/completions
          headers: {Authorization: "Bearer ${credential.api_key}", Content-Type: application/json}
          request_body: '{ "model": "${parameters.model}", "messages": ${parameters.messages} }'
      models: [x8nrvJIBq2x1oHuO3a0b]
      delete_blocked_by: [x8nrvJIBq2x1oHuO3a0b]
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import PolarSearchModule
from ansible_collections.polardb.polarsearch.plugins.module_utils.stack.info import connector_info


def main():
    module = PolarSearchModule(
        argument_spec=dict(
            name=dict(type="str"),
            connector_id=dict(type="str"),
        ),
        mutually_exclusive=[("name", "connector_id")],
        writes=False,
    )
    module.run(connector_info)


if __name__ == "__main__":
    main()
