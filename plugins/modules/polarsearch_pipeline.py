#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: polarsearch_pipeline
short_description: Manage PolarSearch ingest and search pipelines that refer to remote models by name
version_added: 0.1.0
description:
  - Creates, updates and deletes an ingest pipeline (C(_ingest/pipeline)) or a search pipeline
    (C(_search/pipeline)), such as a C(text_embedding) ingest pipeline, or a search pipeline with a
    C(rerank) (C(ml_opensearch)) or C(retrieval_augmented_generation) processor.
  - "A model is referenced by B(name) with the mapping C({model: NAME}) where the pipeline expects a
    model ID: the value of a C(model_id) key or of a key ending in C(_model_id) (for example
    C(neural_query_enricher.default_model_id)), at any depth, and the values of
    C(neural_field_default_id). The module replaces each reference with the ID of the remote model of
    that name (C(name.keyword), algorithm C(REMOTE)) before comparing and writing."
  - Why a mapping. The server reads those places as strings only and refuses anything else, so a
    mapping there can never be a real value; a string (a model ID) is written unchanged; and a mapping
    anywhere else (for example a C(set) processor's C(value)) is never taken for a reference.
  - ML Commons has no model alias, so a model that is deleted and registered again gets a new ID. A
    pipeline that holds another ID than the current one of the referenced name (left by a restore from
    another environment, or by a model that was registered again) is drift, and a run points it at the
    current ID.
  - Only the keys set in O(definition) are compared with the stored pipeline (the server stores the
    body as it was sent). A write sends the whole O(definition), because the server replaces a
    pipeline whole.
  - "A model named in a reference that does not exist fails the run, naming the pipeline, the model and
    the place of the reference, before anything is written. In check mode it is predicted instead as a
    model that an earlier task of the same play registers (as M(polardb.polarsearch.polarsearch_model)
    predicts a connector still to be created); the place shows C(<model NAME: to be created>), the
    model is listed in RV(missing_models), and the real run fails if the play does not create it."
  - References inside JSON texts (such as an C(ml_inference) C(query_template) string) are not
    resolved; write such a template with the model ID, for example from
    M(polardb.polarsearch.polarsearch_model_info).
extends_documentation_fragment:
  - polardb.polarsearch.connection
attributes:
  check_mode:
    support: full
    description: Check mode reads the pipeline and the referenced models and reports the plan a real run carries out.
  diff_mode:
    support: full
    description: Shows the stored pipeline before and after, with model IDs.
options:
  name:
    description: The pipeline name.
    type: str
    required: true
  type:
    description: V(ingest) for an ingest pipeline, V(search) for a search pipeline.
    type: str
    choices: [ingest, search]
    required: true
  definition:
    description:
      - "The pipeline body, as the server takes it, with model references C({model: NAME}) where a model ID goes."
      - For V(ingest), C(description), C(processors) (required), C(on_failure) and C(version).
      - For V(search), C(description), C(version), C(request_processors), C(response_processors) and
        C(phase_results_processors).
      - Other top-level keys fail before anything is written (the server refuses them).
      - Required with O(state=present).
    type: dict
  state:
    description:
      - V(present) creates the pipeline or makes it match O(definition).
      - V(absent) deletes it; a pipeline that is already gone is success.
    type: str
    choices: [present, absent]
    default: present
author:
  - PolarDB PolarSearch team (@polardb)
"""

EXAMPLES = r"""
- name: Embed the text field of every document at ingest with the model named text-embedding-v4
  polardb.polarsearch.polarsearch_pipeline:
    name: embedding-ingest
    type: ingest
    definition:
      description: text -> embedding
      processors:
        - text_embedding:
            model_id: {model: text-embedding-v4}
            field_map:
              text: embedding

- name: Rerank the hits with qwen3-rerank, then answer with qwen-max
  polardb.polarsearch.polarsearch_pipeline:
    name: rag-search
    type: search
    definition:
      request_processors:
        - neural_query_enricher:
            default_model_id: {model: text-embedding-v4}
      response_processors:
        - rerank:
            ml_opensearch:
              model_id: {model: qwen3-rerank}
            context:
              document_fields: [text]
        - retrieval_augmented_generation:
            model_id: {model: qwen-max}
            context_field_list: [text]
            system_prompt: You are a helpful assistant.

- name: Delete the pipeline
  polardb.polarsearch.polarsearch_pipeline:
    name: rag-search
    type: search
    state: absent
"""

RETURN = r"""
pipeline:
  description:
    - The pipeline as stored after the run, with model IDs (predicted in check mode); empty when it is absent.
  returned: success
  type: dict
  sample:
    description: text -> embedding
    processors:
      - text_embedding:
          model_id: x8nrvJIBq2x1oHuO3a0b
          field_map: {text: embedding}
resolved_models:
  description:
    - Each referenced model name with the ID it resolved to; V(null) for a model that does not exist yet
      (check mode only).
  returned: success
  type: dict
  sample: {text-embedding-v4: x8nrvJIBq2x1oHuO3a0b}
missing_models:
  description: The referenced models that do not exist yet (check mode; a real run fails instead).
  returned: success
  type: list
  elements: str
  sample: []
diff:
  description: The stored pipeline before and after.
  returned: success
  type: dict
  contains:
    before:
      description: The pipeline before the run.
      type: dict
      returned: success
    after:
      description: The pipeline after the run.
      type: dict
      returned: success
plan:
  description: The writes the run made (in check mode, would make), in order.
  returned: always
  type: list
  elements: str
  sample: ["update ingest pipeline embedding-ingest: processors[0].text_embedding.model_id"]
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import specs
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import PolarSearchModule
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.pipeline import ensure_pipeline


def main():
    module = PolarSearchModule(**specs.pipeline())
    module.run(ensure_pipeline)


if __name__ == "__main__":
    main()
