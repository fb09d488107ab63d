# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: ml_stack_verify
short_description: Check the shape of the ml_stack role's verify predictions
version_added: 0.2.0
description:
  - Used by the role C(polardb.polarsearch.ml_stack). Each answer must have the shape of its model's kind, a
    non-empty vector (embedding), a score for every document (rerank) or a non-empty text (llm).
positional: _input
options:
  _input:
    description:
      - The registered loop result of M(polardb.polarsearch.polarsearch_predict) over the resolved models (each
        result's C(item) is the resolved entry).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the shape of each answer
  ansible.builtin.assert:
    that: predictions | polardb.polarsearch.ml_stack_verify | length == 0
"""

RETURN = r"""
_value:
  description: One message per model whose answer has the wrong shape, with the start of the answer.
  type: list
  elements: str
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.verify import problems


class FilterModule:
    def filters(self):
        return {"ml_stack_verify": problems}
