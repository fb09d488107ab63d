#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: polarsearch_cluster_settings
short_description: Manage PolarSearch cluster settings such as the ML Commons trusted connector endpoints
version_added: 0.1.0
description:
  - Sets, appends to, removes from or resets the persistent and transient cluster settings of a
    PolarSearch (OpenSearch) cluster.
  - Only the keys you name are managed; every other setting is left alone.
  - Reads the settings once (C(GET _cluster/settings?flat_settings=true&include_defaults=true)) and
    writes at most once (C(PUT _cluster/settings)).
  - Values are compared the way the server returns them, so V(true) equals V("true") and V(5)
    equals V("5").
  - A key the server does not know fails before anything is written, in check mode too.
extends_documentation_fragment:
  - polardb.polarsearch.connection
attributes:
  check_mode:
    support: full
    description: Check mode reads the settings and reports exactly the change a real run makes.
  diff_mode:
    support: full
    description: Shows the managed keys before and after.
options:
  persistent:
    description:
      - "Persistent settings to manage, nested (C(plugins: {ml_commons: ...})) or flat
        (C(plugins.ml_commons.connector.private_ip_enabled: true))."
      - A V(null) value resets the key to its default; that is a change only when the key was set.
    type: dict
  transient:
    description:
      - Transient settings to manage, in the same forms as O(persistent).
    type: dict
  list_mode:
    description:
      - How list values, such as C(plugins.ml_commons.trusted_connector_endpoints_regex), are applied.
      - V(append) makes sure the listed entries are present on top of the current effective value (the
        default list when the key is unset) and keeps every other entry.
      - V(replace) sets the exact list.
      - V(remove) removes the listed entries and keeps every other one (the rest of the list is written
        explicitly; to go back to the server default use a V(null) value instead).
      - A single value given for a list-valued key counts as a list of one entry.
      - A write always sends the whole resulting list, because the server replaces lists whole.
    type: str
    choices: [append, replace, remove]
    default: append
author:
  - PolarDB PolarSearch team (@polardb)
"""

EXAMPLES = r"""
- name: Trust the DashScope endpoint, keeping every other trusted endpoint
  polardb.polarsearch.polarsearch_cluster_settings:
    host: pc-xxx.polardbsearch.rds.aliyuncs.com:3001
    user_password: "{{ polarsearch_user_password }}"
    persistent:
      plugins.ml_commons.trusted_connector_endpoints_regex:
        - '^https://dashscope\.aliyuncs\.com/.*$'

- name: Allow a model service inside the VPC (private IP)
  polardb.polarsearch.polarsearch_cluster_settings:
    persistent:
      plugins:
        ml_commons:
          connector:
            private_ip_enabled: true

- name: Remove the entry again when the models are gone
  polardb.polarsearch.polarsearch_cluster_settings:
    list_mode: remove
    persistent:
      plugins.ml_commons.trusted_connector_endpoints_regex:
        - '^https://dashscope\.aliyuncs\.com/.*$'

- name: Reset a setting to its default
  polardb.polarsearch.polarsearch_cluster_settings:
    persistent:
      plugins.ml_commons.connector.private_ip_enabled: null
"""

RETURN = r"""
settings:
  description:
    - The effective value of each managed key after the run, by scope, as the server returns it.
    - A key reset to its default shows V(null) when the server does not report that default (it reports
      defaults only for keys that are not set).
  returned: success
  type: dict
  sample:
    persistent:
      plugins.ml_commons.connector.private_ip_enabled: "true"
      plugins.ml_commons.trusted_connector_endpoints_regex:
        - '^https://api\.openai\.com/.*$'
        - '^https://dashscope\.aliyuncs\.com/.*$'
diff:
  description: The managed keys before and after.
  returned: success
  type: dict
  contains:
    before:
      description: Effective values before the run.
      type: dict
      returned: success
    after:
      description: Effective values after the run.
      type: dict
      returned: success
plan:
  description:
    - The writes the run made (in check mode, would make), in order, one entry per write.
    - Check mode returns the same entries as the real run.
  returned: always
  type: list
  elements: dict
  contains:
    operation:
      description: What the step does, for example C(create), C(update), C(delete), C(register), C(deploy), C(undeploy).
      type: str
      returned: always
    kind:
      description: The kind of object, for example C(connector), C(model), C(model_group), C(cluster_settings).
      type: str
      returned: always
    name:
      description: The object's name (null for cluster settings).
      type: str
      returned: always
    id:
      description: The object's ID; null for an object this run creates, the same in check mode and a real run.
      type: str
      returned: always
    fields:
      description: The names of the fields the step writes (never their values); C(credential) for a credential.
      type: list
      elements: str
      returned: always
  sample:
    - operation: update
      kind: cluster_settings
      name: null
      id: null
      fields: [persistent.plugins.ml_commons.trusted_connector_endpoints_regex]
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import specs
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import PolarSearchModule
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.settings import ensure_settings


def main():
    module = PolarSearchModule(**specs.cluster_settings())
    module.run(ensure_settings)


if __name__ == "__main__":
    main()
