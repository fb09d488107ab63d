# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: ml_stack_unused_endpoints
short_description: The trusted endpoint entries an ml_stack teardown may remove
version_added: 0.2.0
description:
  - Used by the role C(polardb.polarsearch.ml_stack). Of the trusted endpoint entries derived for the absent models,
    returns those that no model that stays uses and that match the URL of no connector left on the cluster (a
    connector the teardown does not delete, whoever made it).
  - A connector's URL is its action URL with its parameters filled in, as the server checks it.
positional: _input, connectors
options:
  _input:
    description: The resolved stack, as P(polardb.polarsearch.ml_stack_resolve#filter) returns it.
    type: dict
    required: true
  connectors:
    description: Every connector on the cluster, as M(polardb.polarsearch.polarsearch_connector_info) lists them.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Remove the entries nothing needs any more
  polardb.polarsearch.polarsearch_cluster_settings:
    list_mode: remove
    persistent:
      plugins.ml_commons.trusted_connector_endpoints_regex: "{{ stack | polardb.polarsearch.ml_stack_unused_endpoints(listing.connectors) }}"
"""

RETURN = r"""
_value:
  description: The entries to remove, in the order of the models.
  type: list
  elements: str
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.ml_stack_teardown import unused_regexes


class FilterModule:
    def filters(self):
        return {"ml_stack_unused_endpoints": unused_regexes}
