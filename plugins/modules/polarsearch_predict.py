#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: polarsearch_predict
short_description: Run a prediction on an ML Commons remote model on PolarSearch
version_added: 0.1.0
description:
  - Sends C(POST _plugins/_ml/models/<model_id>/_predict) with O(parameters) to a remote model and returns
    the raw C(inference_results), plus the embeddings, rerank results and reply text read from them.
  - The model is identified by O(name) (exact match) or O(model_id). Names are not unique in ML Commons;
    when two or more remote models carry the name the module fails and lists their IDs.
  - A predict changes nothing on the server, so the module always reports C(changed=false). One exception
    is not reported as a change - when the model is not deployed and model auto-deploy is enabled
    (the default since OpenSearch 2.13), the server deploys the model to serve the predict; the module
    then warns. Set O(require_deployed) to fail instead.
  - Errors of the remote model service come back as the server's error, for example
    C(Error from remote service) followed by the remote body, with the HTTP method, path and status.
extends_documentation_fragment:
  - polardb.polarsearch.connection
attributes:
  check_mode:
    support: full
    description:
      - A predict on a model that is C(DEPLOYED) or C(PARTIALLY_DEPLOYED) changes nothing, so check mode
        runs it and returns its results.
      - On any other model a predict may make the server deploy it; check mode then does not send it and
        returns C(skipped=true) with a C(msg) saying why.
  diff_mode:
    support: none
    description: The module changes nothing, so there is no diff.
options:
  name:
    description:
      - The name of the remote model. One of O(name) and O(model_id) is required.
    type: str
  model_id:
    description: The ID of the model.
    type: str
  parameters:
    description:
      - The predict parameters, sent as the C(parameters) object of the request; the names are those the connector's
        C(request_body) uses as C(${parameters.<name>}), for example C(input) for text embedding,
        C(query) and C(documents) for rerank, C(messages) for chat.
      - The server turns every value into a string; a list or dict is inserted into the request body as JSON.
      - With such a body the server skips the connector's built-in C(pre_process_function); its
        C(post_process_function) still runs.
    type: dict
    required: true
  action_type:
    description:
      - The connector action to run, sent as the top-level C(action_type); the server uses V(predict)
        when it is not set.
    type: str
  require_deployed:
    description:
      - Fail when the model is not C(DEPLOYED) or C(PARTIALLY_DEPLOYED), instead of letting the server
        deploy it on this predict.
      - A model read as C(DEPLOY_FAILED) or C(DEPLOYING) is read again for up to 20 seconds first; when another
        run's C(_deploy) of a deployed model is refused, ML Commons writes C(DEPLOY_FAILED) into it until its
        sync-up job writes C(DEPLOYED) again.
    type: bool
    default: false
  retry_predict:
    description:
      - Send the predict again when its answer was lost after it was sent (read timeout, connection
        reset, HTTP 502 or 504 from a proxy). The model service may then run, and bill, the
        prediction twice.
      - By default a predict is sent again only when it never reached the server or the server
        refused it before acting on it (connection refused, HTTP 429, 503, master key not ready);
        see O(retries).
    type: bool
    default: false
author:
  - PolarDB PolarSearch team (@polardb)
"""

EXAMPLES = r"""
- name: Embed two texts
  polardb.polarsearch.polarsearch_predict:
    name: text-embedding-v4
    parameters:
      input: ["What is PolarSearch?", "A search service of PolarDB"]
  register: embedded

- name: Show the dimension of the first vector
  ansible.builtin.debug:
    msg: "{{ embedded.embeddings[0] | length }}"

- name: Rerank documents with qwen3-rerank
  polardb.polarsearch.polarsearch_predict:
    name: qwen3-rerank
    parameters:
      query: What is the capital of France?
      documents:
        - Paris is the capital of France.
        - Berlin is the capital of Germany.
  register: reranked

- name: Show the best document
  ansible.builtin.debug:
    msg: "{{ reranked.rerank[0].document }} ({{ reranked.rerank[0].relevance_score }})"

- name: Ask qwen-max, failing when the model is not deployed yet
  polardb.polarsearch.polarsearch_predict:
    name: qwen-max
    require_deployed: true
    parameters:
      messages:
        - {role: user, content: Say hello in French.}
  register: reply

- name: Show the reply
  ansible.builtin.debug:
    msg: "{{ reply.text }}"
"""

RETURN = r"""
model_id:
  description: The ID of the model.
  returned: success
  type: str
  sample: x8nrvJIBq2x1oHuO3a0b
inference_results:
  description:
    - The C(inference_results) of the predict answer, as the server sent them.
    - Each entry has C(output), a list of tensors, and C(status_code), the remote service's HTTP status.
      A tensor is either named C(response), with the remote JSON body in C(dataAsMap), or, after a built-in
      post-process function, named C(sentence_embedding) or C(similarity), with the numbers in C(data).
  returned: when the predict ran
  type: list
  elements: dict
  sample:
    - output:
        - name: sentence_embedding
          data_type: FLOAT32
          shape: [3]
          data: [0.012, -0.034, 0.056]
      status_code: 200
embeddings:
  description:
    - One vector per input, in input order.
    - Read from tensors named C(sentence_embedding) (their C(data)); otherwise from a remote body in
      OpenAI format (C(data[*].embedding), by C(index)) or DashScope native format
      (C(output.embeddings[*].embedding), by C(index)).
    - An empty list when the answer has none of these shapes.
  returned: when the predict ran
  type: list
  elements: list
  sample: [[0.012, -0.034, 0.056], [0.021, 0.007, -0.013]]
rerank:
  description:
    - The rerank results, highest C(relevance_score) first.
    - Read from a DashScope rerank body (C(output.results[*])), a C(/v1/rerank)-style body (Cohere, Jina,
      vLLM; C(results[*])), or, after a built-in rerank post-process function, from the tensors named
      C(similarity), one per document in input order with the score in C(data[0]).
    - An empty list when the answer has none of these shapes.
  returned: when the predict ran
  type: list
  elements: dict
  contains:
    index:
      description: The position of the document in the request's C(documents).
      type: int
    relevance_score:
      description: The relevance score.
      type: float
    document:
      description:
        - The document text, from the answer (C(document.text) or C(document)) or, when the answer has none,
          from the C(documents) parameter; V(null) when neither has it.
      type: str
  sample:
    - {index: 0, relevance_score: 0.93, document: Paris is the capital of France.}
    - {index: 1, relevance_score: 0.12, document: Berlin is the capital of Germany.}
text:
  description:
    - The reply text of a chat or text-generation model.
    - Read from an OpenAI chat body (C(choices[0].message.content)), a DashScope native body
      (C(output.text) or C(output.choices[0].message.content)), or a C(response) string (the server
      puts a remote reply that is not JSON there). Content given as a list of parts is joined.
    - V(null) when the answer has none of these shapes.
  returned: when the predict ran
  type: str
  sample: Bonjour !
skipped:
  description: V(true) in check mode when the model is not deployed and the predict was not sent.
  returned: when skipped
  type: bool
  sample: true
msg:
  description: Why the predict was not sent.
  returned: when skipped
  type: str
  sample: "check mode: model qwen-max (x8nrvJIBq2x1oHuO3a0b) is UNDEPLOYED, not DEPLOYED; a predict could make the server deploy it, so it was not sent"
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import specs
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import PolarSearchModule
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.predict import run_predict


def main():
    module = PolarSearchModule(writes=False, **specs.predict())
    module.run(run_predict)


if __name__ == "__main__":
    main()
