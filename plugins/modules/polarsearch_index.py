#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: polarsearch_index
short_description: Manage a PolarSearch index's mappings and settings, such as a k-NN index for embeddings
version_added: 0.1.0
description:
  - Creates, updates and deletes an index, for example a k-NN index with a C(knn_vector) field and an ingest
    pipeline as its C(index.default_pipeline).
  - Only what is set is compared. In O(mappings), the fields declared under C(properties) (and only the
    parameters given for them), and the other top-level keys given (C(dynamic), C(_meta)); fields and
    parameters the server adds are ignored. In O(settings), the settings given, normalised the way the server
    returns them (flat keys with the C(index.) prefix, every value a string), so C(knn=true),
    C(index.knn="true") and C(index={knn=true}) are the same setting.
  - What the server can change on an open index is changed in place, keeping the documents; new fields,
    C(dynamic), C(_meta), the C(ignore_above) of a field, and dynamic settings such as C(index.default_pipeline),
    C(index.search.default_pipeline), C(index.number_of_replicas) or C(index.refresh_interval).
  - A change the server cannot make in place, a parameter of an existing field (its C(type), a vector
    C(dimension) or C(method), an analyzer) or a static setting (C(index.knn), C(index.number_of_shards),
    C(index.codec)), fails before anything is written, naming each field or setting and the fix, unless
    O(recreate=true).
  - An index this module creates carries C(_meta.managed_by=polardb.polarsearch) in its mappings, so a teardown
    with O(only_if_managed=true) deletes only the indexes the collection created.
extends_documentation_fragment:
  - polardb.polarsearch.connection
attributes:
  check_mode:
    support: full
    description: Check mode reads the index and reports the plan a real run carries out, including a change
      that would fail.
  diff_mode:
    support: full
    description: Shows the declared mappings and the given settings before and after, as the server stores them.
options:
  name:
    description: The index name (lower case, no spaces or any of C(\/*?"<>|,#:), no leading C(_), C(-) or C(+)).
    type: str
    required: true
  mappings:
    description:
      - The mappings, as the create index API takes them, for example C(properties), C(dynamic) and C(_meta).
      - A field under C(properties) that the index does not have is added; a declared parameter of an existing
        field is compared with the stored one.
      - C(_meta) keys are merged into the stored C(_meta), which keeps the C(managed_by) marker.
    type: dict
  settings:
    description:
      - Index settings, flat (C(index.knn), or C(knn) without the prefix) or nested (C(index={knn=true})).
      - Static settings are only written when the index is created (or re-created with O(recreate)).
    type: dict
  recreate:
    description:
      - When a change cannot be made in place, delete the index and create it anew with O(mappings) and
        O(settings).
      - B(This deletes every document in the index.) Documents are not copied; re-index them afterwards.
      - With V(false), such a change fails before any write and names what differs.
    type: bool
    default: false
  only_if_managed:
    description:
      - With O(state=absent), delete the index only when its mappings carry the marker
        C(_meta.managed_by=polardb.polarsearch) that this module writes when it creates an index. Another
        index of that name is left in place, and RV(deleted) is V(false).
    type: bool
    default: false
  state:
    description:
      - V(present) creates the index or makes it match O(mappings) and O(settings).
      - V(absent) deletes it with all its documents; an index that is already gone is success.
    type: str
    choices: [present, absent]
    default: present
author:
  - PolarDB PolarSearch team (@polardb)
"""

EXAMPLES = r"""
- name: A k-NN index whose documents get an embedding from the ingest pipeline embedding-ingest
  polardb.polarsearch.polarsearch_index:
    name: docs
    mappings:
      properties:
        text:
          type: text
        embedding:
          type: knn_vector
          dimension: 1024
          method:
            name: hnsw
            engine: lucene
            space_type: l2
    settings:
      index.knn: true
      index.default_pipeline: embedding-ingest

- name: Add a field and a default search pipeline (in place, documents kept)
  polardb.polarsearch.polarsearch_index:
    name: docs
    mappings:
      properties:
        title:
          type: text
    settings:
      index.search.default_pipeline: rerank-search

- name: Change the vector dimension, deleting every document of the index
  polardb.polarsearch.polarsearch_index:
    name: docs
    mappings:
      properties:
        embedding:
          type: knn_vector
          dimension: 1536
    settings:
      index.knn: true
    recreate: true

- name: Delete the index, only if this collection created it
  polardb.polarsearch.polarsearch_index:
    name: docs
    only_if_managed: true
    state: absent
"""

RETURN = r"""
index:
  description:
    - The declared mappings (only the keys given, plus C(_meta.managed_by)) and the given settings, as stored
      after the run (predicted in check mode); empty when the index is absent.
  returned: success
  type: dict
  sample:
    mappings:
      properties:
        embedding: {type: knn_vector, dimension: 1024}
      _meta: {managed_by: polardb.polarsearch}
    settings:
      index.knn: "true"
      index.default_pipeline: embedding-ingest
managed:
  description: Whether the index carries the marker of an index this collection created.
  returned: success
  type: bool
  sample: true
deleted:
  description: With O(state=absent), whether the index was (in check mode, would be) deleted.
  returned: when state is absent
  type: bool
  sample: true
reasons:
  description: On failure, each change that cannot be made in place.
  returned: failure
  type: list
  elements: str
  sample: ["mappings.properties.embedding.dimension is 1024 on the server and 1536 in the input"]
diff:
  description: RV(index) before and after.
  returned: success
  type: dict
  contains:
    before:
      description: The index before the run.
      type: dict
      returned: success
    after:
      description: The index after the run.
      type: dict
      returned: success
plan:
  description: The writes the run made (in check mode, would make), in order, each C({operation, kind, name, id,
    fields}) with the kind C(index).
  returned: always
  type: list
  elements: dict
  sample:
    - {operation: update, kind: index, name: docs, id: null, fields: [settings.index.search.default_pipeline]}
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import specs
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import PolarSearchModule
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.index import ensure_index


def main():
    module = PolarSearchModule(**specs.index())
    module.run(ensure_index)


if __name__ == "__main__":
    main()
