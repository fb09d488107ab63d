#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: polarsearch_connector
short_description: Manage ML Commons connectors to external model services on PolarSearch
version_added: 0.1.0
description:
  - Creates, updates, replaces and deletes an ML Commons connector, the object through which
    PolarSearch calls an external model service (text embedding, rerank, LLM).
  - A connector is identified by O(name) (exact match); names are not unique in ML Commons, so when
    two or more connectors carry the name the module fails and lists their IDs; then set
    O(connector_id).
  - Drift is computed on normalized values (parameters as the strings the server stores,
    C(action_type) case-insensitive, O(client_config) only on the keys you set). An option that is
    not set is left alone.
  - The server never returns a credential. To notice a changed credential without reading it, the
    module stores a salted, keyed HMAC-SHA256 fingerprint of the credential in the connector
    parameter C(polarsearch_credential_fingerprint), which no request template uses, and compares
    fingerprints.
  - The server refuses to update a connector that a deployed model uses. O(on_deployed_models)
    chooses what to do instead; the default replaces the connector without downtime.
  - The server cannot remove a parameter from a connector; when the desired O(parameters) drop a key,
    the connector is replaced.
  - A replace that was interrupted (two connectors with the name, the newer one marked with the ID of
    the one it replaces) is finished on the next run.
extends_documentation_fragment:
  - polardb.polarsearch.connection
attributes:
  check_mode:
    support: full
    description: Check mode reads the connector and its models and reports the plan a real run would carry out.
  diff_mode:
    support: full
    description: Shows the connector before and after; a credential shows only as C(changed), never its value.
options:
  name:
    description:
      - The connector name. Required unless O(connector_id) is set; with O(connector_id) it renames the connector.
      - Letters, numbers, spaces and C(.,!?():@-_'/") only (the server rejects other characters).
    type: str
  connector_id:
    description:
      - The ID of the connector to manage, when the name is ambiguous or should change.
    type: str
  description:
    description: A description of the connector.
    type: str
  version:
    description: The connector version; the server stores it as a string. V(1) when a connector is created without it.
    type: str
  protocol:
    description:
      - The connector protocol.
      - When not set, a new connector gets C(http) and an existing connector keeps its protocol.
      - C(mcp_sse) (ML Commons 3.0+) and C(mcp_streamable_http) (3.3+) make an MCP connector, with O(url) and
        O(headers) instead of O(actions). The server refuses them until
        C(plugins.ml_commons.mcp_connector_enabled) is true (set it with
        M(polardb.polarsearch.polarsearch_cluster_settings)); the module checks that setting before it
        writes anything.
    type: str
    choices: [http, aws_sigv4, mcp_sse, mcp_streamable_http]
  parameters:
    description:
      - Connector parameters, referenced from the actions as C(${parameters.<key>}).
      - Values are stored as strings (numbers, booleans, lists and dicts as their JSON text).
      - This is the complete set; keys present on the server and missing here are removed by replacing
        the connector.
    type: dict
  credential:
    description:
      - "The credential, for example C(api_key: ...), referenced from action headers as
        C(${credential.api_key}). Required when a connector is created or replaced."
      - Write-only on the server; never returned, shown in a diff, or logged.
    type: dict
  credential_update:
    description:
      - When to send O(credential) to an existing connector.
      - V(on_change) sends it when its fingerprint differs from the stored one. A connector made outside this
        collection has no stored fingerprint (adoption). The credential is then written, with its fingerprint,
        only by an update in place, that is when no deployed model uses the connector; while one does, nothing is
        written for the credential alone, so the connector keeps its ID, and RV(credential_compared) is V(false).
      - V(always) sends it on every run (every run then reports a change).
      - V(on_create) only sends it when the connector is created or replaced.
    type: str
    choices: [on_change, always, on_create]
    default: on_change
  fingerprint_key:
    description:
      - A secret mixed into the credential fingerprint, so that the stored fingerprint cannot be used to
        test guesses of the credential. When not set, the environment variable E(POLARSEARCH_FINGERPRINT_KEY) is used.
      - Changing it makes every stored fingerprint look changed once.
    type: str
  url:
    description:
      - The server URL of an MCP connector (O(protocol=mcp_sse) or O(protocol=mcp_streamable_http)); required
        to create one. It must match a trusted endpoint regex, like the URLs of actions.
      - Only for MCP connectors.
    type: str
  headers:
    description:
      - HTTP headers an MCP connector sends, for example C(Authorization) with C(${credential.api_key}).
      - Only for MCP connectors; values are stored as strings.
      - A credential written as it is (an C(Authorization), API key or token header without C(${credential.*})) is
        refused, since the server would show it to anyone who can read the connector; put it into O(credential).
    type: dict
  actions:
    description:
      - The connector actions. Replaced as a whole when they differ.
      - Required to create an C(http) or C(aws_sigv4) connector. MCP connectors have none (the server ignores
        them), so setting actions for one fails.
    type: list
    elements: dict
    suboptions:
      action_type:
        description: The action type, such as V(predict); compared case-insensitively.
        type: str
        required: true
      method:
        description:
          - The HTTP method, such as V(POST); one of C(GET), C(POST), C(PUT), C(PATCH), C(DELETE), C(HEAD), C(OPTIONS).
        type: str
        required: true
      url:
        description:
          - The URL; may use C(${parameters.*}), each naming a parameter of O(parameters) when O(parameters) is given.
          - A key or token in the query, or a C(user:password@), must be a C(${credential.*}) placeholder.
        type: str
        required: true
      headers:
        description:
          - Request headers; may use C(${credential.*}).
          - An C(Authorization), API key or token header must take its secret from C(${credential.*}); a literal
            one is refused (the server would show it to anyone who can read the connector).
        type: dict
      request_body:
        description:
          - The request body template, a JSON text with C(${parameters.*}) placeholders. A dict is JSON-encoded.
          - It must be JSON once each placeholder is filled in; a placeholder may stand for a whole value.
        type: raw
      pre_process_function:
        description: A built-in pre-process function (such as C(connector.pre_process.openai.embedding)) or a script.
        type: str
      post_process_function:
        description: A built-in post-process function (such as C(connector.post_process.openai.embedding)) or a script.
        type: str
      name:
        description: An optional action name (ML Commons 3.5 and later).
        type: str
      supports_structured_output:
        description: Whether the action supports structured output (ML Commons 3.7 and later); compared only when set.
        type: bool
  client_config:
    description:
      - HTTP client settings of the connector. The keys the server reads are C(max_connection),
        C(connection_timeout), C(read_timeout), C(retry_backoff_millis), C(retry_timeout_seconds),
        C(max_retry_times) (whole numbers), C(retry_backoff_policy) (C(constant), C(exponential_equal_jitter)
        or C(exponential_full_jitter), any case) and C(skip_ssl_verification) (boolean).
      - Only the keys you set are compared, after the server's own normalisation (numbers from numeric
        strings, a lower-case C(retry_backoff_policy)); the server fills the others with defaults.
      - Any other key fails before any write, because the server would drop it without a word.
    type: dict
  access_mode:
    description: C(public), C(private) or C(restricted); only with the Security plugin and connector access control.
    type: str
    choices: [public, private, restricted]
  add_all_backend_roles:
    description:
      - On create, give the connector all the backend roles of the user who runs the module (the server's
        C(add_all_backend_roles)); only with the Security plugin and connector access control.
      - Sent on create only and never compared; a replace keeps the connector's backend roles as they are.
    type: bool
  backend_roles:
    description: Backend roles that may use the connector; only with connector access control. Kept by a replace.
    type: list
    elements: str
  on_deployed_models:
    description:
      - What to do when a change is needed and a deployed model uses the connector.
      - V(replace) creates a new connector with the desired spec, points each model at it (allowed while
        deployed), waits until each model is deployed on it again, then deletes the old connector. No downtime.
      - The server refuses to delete a connector while a model's connector ID shares a term with the connector's
        ID (ML Commons compares connector IDs as analyzed text, split at C(-) and case folded). A replacement
        whose ID does is renamed C(<name> (unused replacement)), deleted after the old connector, and another
        is created a moment later, up to 3 times; a connector set aside like that and left by a failed run is
        deleted with the connector it was meant to replace. When a model of another connector blocks the old
        connector's delete, the module fails before any change and names the model.
      - V(redeploy) undeploys the models, updates the connector, deploys them again and waits.
      - V(fail) fails and names the models.
    type: str
    choices: [replace, redeploy, fail]
    default: replace
  duplicates:
    description:
      - What to do when several connectors are named O(name) (ML Commons does not keep names unique; a connector
        created by hand, or by a run that did not use this collection, can share a name).
      - V(fail) fails and names their IDs, so that O(connector_id) can pick one. Connectors that this collection
        made at the same moment (two runs at once) are settled without it, as with V(keep_one).
      - V(keep_one) keeps the one models use, or, when none is used, the oldest (then the smallest ID), and deletes
        the others, which no model uses. When models use two or more of them, it fails, names their IDs, and
        deletes nothing. The deletes show in RV(plan) and are predicted in check mode.
      - Ignored with O(connector_id).
    type: str
    choices: [fail, keep_one]
    default: fail
  wait_timeout:
    description: Seconds to wait for each model to become usable again during a replace or redeploy.
    type: int
    default: 300
  state:
    description:
      - V(present) creates or updates the connector; V(absent) deletes it.
      - V(absent) fails, naming them, while models still use the connector, or while models of other connectors
        keep the server from deleting it (see O(on_deployed_models)); nothing is changed then. A connector that is
        already gone is success.
    type: str
    choices: [present, absent]
    default: present
author:
  - PolarDB PolarSearch team (@polardb)
"""

EXAMPLES = r"""
- name: Text embedding connector for DashScope text-embedding-v4
  polardb.polarsearch.polarsearch_connector:
    name: dashscope-text-embedding-v4
    description: DashScope text-embedding-v4 (OpenAI compatible mode)
    version: "1"
    protocol: http
    parameters:
      endpoint: dashscope.aliyuncs.com
      model: text-embedding-v4
    credential:
      api_key: "{{ dashscope_api_key }}"
    actions:
      - action_type: predict
        method: POST
        url: https://${parameters.endpoint}/compatible-mode/v1/embeddings
        headers:
          Authorization: Bearer ${credential.api_key}
          Content-Type: application/json
        request_body: '{ "model": "${parameters.model}", "input": ${parameters.input} }'
        pre_process_function: connector.pre_process.openai.embedding
        post_process_function: connector.post_process.openai.embedding

- name: Rerank connector for qwen3-rerank
  polardb.polarsearch.polarsearch_connector:
    name: dashscope-qwen3-rerank
    description: DashScope qwen3-rerank
    version: "1"
    parameters:
      endpoint: dashscope.aliyuncs.com
      model: qwen3-rerank
    credential:
      api_key: "{{ dashscope_api_key }}"
    actions:
      - action_type: predict
        method: POST
        url: https://${parameters.endpoint}/api/v1/services/rerank/text-rerank/text-rerank
        headers:
          Authorization: Bearer ${credential.api_key}
          Content-Type: application/json
        request_body: >-
          { "model": "${parameters.model}", "input": { "query": "${parameters.query}",
          "documents": ${parameters.documents} }, "parameters": { "return_documents": true } }

- name: LLM connector for qwen-max
  polardb.polarsearch.polarsearch_connector:
    name: dashscope-qwen-max
    description: DashScope qwen-max (OpenAI compatible mode)
    version: "1"
    parameters:
      endpoint: dashscope.aliyuncs.com
      model: qwen-max
    credential:
      api_key: "{{ dashscope_api_key }}"
    actions:
      - action_type: predict
        method: POST
        url: https://${parameters.endpoint}/compatible-mode/v1/chat/completions
        headers:
          Authorization: Bearer ${credential.api_key}
          Content-Type: application/json
        request_body: '{ "model": "${parameters.model}", "messages": ${parameters.messages} }'

- name: Rotate the API key; deployed models move to a new connector without downtime
  polardb.polarsearch.polarsearch_connector:
    name: dashscope-qwen-max
    credential:
      api_key: "{{ new_dashscope_api_key }}"

- name: Allow MCP connectors on the cluster
  polardb.polarsearch.polarsearch_cluster_settings:
    persistent:
      plugins.ml_commons.mcp_connector_enabled: true

- name: An MCP connector (a top-level URL and headers, no actions)
  polardb.polarsearch.polarsearch_connector:
    name: tools-mcp
    protocol: mcp_streamable_http
    url: https://mcp.example.com/mcp
    headers:
      Authorization: Bearer ${credential.mcp_token}
    credential:
      mcp_token: "{{ mcp_token }}"

- name: Delete the connector (after its models are deleted)
  polardb.polarsearch.polarsearch_connector:
    name: dashscope-qwen-max
    state: absent
"""

RETURN = r"""
connector:
  description: The connector after the run (predicted in check mode), with option names; never a credential.
  returned: success, when the connector exists
  type: dict
  sample:
    connector_id: 3ZxYvJIBq2x1oHuOlq6Y
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
connector_id:
  description: The ID of the connector (of the new one after a replace). V(null) in check mode for a connector still to be created.
  returned: success, when the connector exists
  type: str
  sample: 3ZxYvJIBq2x1oHuOlq6Y
models:
  description: IDs of the models that use the connector.
  returned: when state is present
  type: list
  elements: str
diff:
  description: The connector before and after; C(credential) shows only as C(set) or C(changed).
  returned: success
  type: dict
  contains:
    before:
      description: The connector before the run.
      type: dict
      returned: success
    after:
      description: The connector after the run.
      type: dict
      returned: success
action:
  description:
    - What the run did (in check mode, would do) to the connector, decided where the run decides it.
    - V(replace) is a new connector under the name that the models moved to (or the end of a replace that an earlier
      run left halfway); the deletes of same-named copies or of connectors set aside for the name are not counted here
      (see RV(plan)).
  returned: success
  type: str
  choices: [create, update, replace, delete, none]
  sample: update
credential_compared:
  description:
    - Whether the O(credential) could be compared with the one the connector holds.
    - V(false) for a connector made outside this collection (no fingerprint stored) while a deployed model
      uses it. The connector is then left as it is (its ID does not change for a credential that may be the
      same), the diff shows C(credential) as C(unknown), and a later run writes the credential and its fingerprint
      in place once no deployed model uses the connector (or with the next change that replaces it).
  returned: success, when O(state=present) and the connector existed
  type: bool
  sample: true
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
    - {operation: create, kind: connector, name: dashscope-qwen-max, id: null, fields: []}
    - {operation: update, kind: model, name: qwen-max, id: aBcD, fields: [connector_id]}
    - {operation: delete, kind: connector, name: dashscope-qwen-max, id: 3ZxY, fields: []}
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import specs
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import PolarSearchModule
from ansible_collections.polardb.polarsearch.plugins.module_utils.converge.connector import ensure_connector


def main():
    module = PolarSearchModule(**specs.connector())
    module.run(ensure_connector)


if __name__ == "__main__":
    main()
