#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: polarsearch_ml_stack_export
short_description: Export the ML Commons stack of a PolarSearch cluster as tasks of this collection
version_added: 0.1.0
description:
  - Reads the cluster once per kind of object (the cluster settings, every connector, model group and remote model,
    the ingest and the search pipelines, and with O(include_indexes) the indexes whose default pipeline is one of
    the pipelines exported) and returns the tasks that reproduce it with the modules of this collection, in the
    order they depend on each other (settings, connectors, model groups, models, pipelines, indexes).
  - Each task takes the options its module takes, with the names and values the cluster holds (names are kept
    exactly). Run against the same cluster, the exported tasks change nothing but the credentials of connectors
    made outside the collection (see RV(notes) and the collection's docs/export.md).
  - Objects whose names are not unique are exported with their ID (O(polardb.polarsearch.polarsearch_connector#module:connector_id),
    O(polardb.polarsearch.polarsearch_model#module:model_id)); an entry of RV(notes) says so.
  - "Pipelines refer to models by name (C(model_id: {model: NAME})) wherever the ID is the one model of that name;
    otherwise they keep the ID, with a warning."
  - The trusted connector endpoints are exported when they are set on the cluster (not the server's defaults);
    with a selection, only the entries that a selected connector's URLs match.
  - The server never returns a credential. Each credential key a connector's templates use
    (C(${credential.KEY})) becomes a variable reference C({{ <connector>_<key> }}), listed in RV(credentials).
    Nothing secret is read or returned.
  - Models whose connector has the shape the role C(polardb.polarsearch.ml_stack) makes (one of its presets, its
    names) are also returned as RV(ml_stack_models) entries; the others are listed in RV(ml_stack_unmatched)
    with the reasons.
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
  name_prefix:
    description:
      - Export only the connectors, model groups, models and pipelines whose names start with this text.
      - The connector and the model group of an exported model are exported too (an entry of RV(notes) says so
        when their names are not selected).
      - With neither O(name_prefix) nor O(name_pattern), everything the user may see is exported.
    type: str
  name_pattern:
    description:
      - A regular expression (Python syntax) searched in each name; only the objects whose names match are
        exported (with O(name_prefix), both must match).
    type: str
  include_indexes:
    description:
      - Also export the indexes whose C(index.default_pipeline) or C(index.search.default_pipeline) is one of the
        exported pipelines, with their mappings and the settings the server did not set itself.
    type: bool
    default: false
  role_presets_dir:
    description:
      - The directory of the presets of the role C(polardb.polarsearch.ml_stack) (C(roles/ml_stack/vars/presets) of
        this collection), to compare the connectors with. The playbook C(polardb.polarsearch.export) sets it.
      - When not set, RV(ml_stack_models) is empty and each model's reason says so.
    type: path
author:
  - PolarDB PolarSearch team (@polardb)
"""

EXAMPLES = r"""
- name: Export the stack whose names start with "prod "
  polardb.polarsearch.polarsearch_ml_stack_export:
    name_prefix: "prod "
  register: exported

- name: Write the playbook
  ansible.builtin.copy:
    content: "{{ exported.playbook }}"
    dest: /srv/stack/playbook.yml
    mode: "0644"

- name: Export everything, with the indexes that use the pipelines
  polardb.polarsearch.polarsearch_ml_stack_export:
    include_indexes: true
  register: everything
"""

RETURN = r"""
tasks:
  description: The tasks, in order; each is a mapping with C(name) and one fully qualified module name.
  returned: success
  type: list
  elements: dict
  sample:
    - name: Connector text-embedding connector
      polardb.polarsearch.polarsearch_connector:
        name: text-embedding connector
        credential: {api_key: "{{ text_embedding_connector_api_key }}"}
credentials:
  description: The credential variables the tasks use, one per connector and credential key, sorted; never a value.
  returned: success
  type: list
  elements: dict
  contains:
    variable:
      description: The variable name.
      type: str
      returned: always
    connector:
      description: The connector name.
      type: str
      returned: always
    connector_id:
      description: The connector ID.
      type: str
      returned: always
    key:
      description: The credential key (C(${credential.KEY})).
      type: str
      returned: always
notes:
  description:
    - What a user should know about the export, object by object (IDs used for names that are not unique,
      connectors without a credential fingerprint, models whose connector is gone, pipelines that keep a model ID).
  returned: success
  type: list
  elements: dict
  contains:
    kind:
      description: The kind of object.
      type: str
      returned: always
    name:
      description: Its name.
      type: str
      returned: always
    id:
      description: Its ID (null for a pipeline).
      type: str
      returned: always
    note:
      description: The note.
      type: str
      returned: always
ml_stack_models:
  description: C(ml_stack_models) entries of the role C(polardb.polarsearch.ml_stack) for the models that have its shape.
  returned: success
  type: list
  elements: dict
ml_stack_unmatched:
  description: The models that have not the role's shape, each with C(model), C(model_id) and C(reasons).
  returned: success
  type: list
  elements: dict
playbook:
  description: The tasks as a ready playbook (YAML text), whose connection comes from the C(polarsearch_*) variables
    or the C(POLARSEARCH_*) environment; the same text for the same cluster.
  returned: success
  type: str
credentials_file:
  description: A YAML mapping of every credential variable to an empty value, to fill in (or vault).
  returned: success
  type: str
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import PolarSearchModule
from ansible_collections.polardb.polarsearch.plugins.module_utils.stack.export import export_stack


def main():
    module = PolarSearchModule(
        argument_spec=dict(
            name_prefix=dict(type="str"),
            name_pattern=dict(type="str"),
            include_indexes=dict(type="bool", default=False),
            role_presets_dir=dict(type="path"),
        ),
        writes=False,
    )
    module.run(export_stack)


if __name__ == "__main__":
    main()
