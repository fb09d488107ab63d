#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: polarsearch_ml_stack_apply
short_description: Provision, check or tear down a whole ML stack from its declaration, in one task
version_added: 0.4.0
description:
  - The steps of the role C(polardb.polarsearch.ml_stack) in one task, which the role runs. Its options are the role's
    variables without their C(ml_stack_) prefix (C(ml_stack_scheme) is O(endpoint_scheme)); the role's documentation
    (C(ansible-doc -t role polardb.polarsearch.ml_stack)) describes each in full, and the input checks name them.
  - First, on the controller and without a request, every entry of O(models) is checked and resolved against its
    preset (the built-in ones, C(vars/presets/*.yml) of the role, and O(presets)). Bad input fails here, naming every
    problem, before anything is sent.
  - Then one call of M(polardb.polarsearch.polarsearch_ml_stack) converges the stack (trusted endpoints, connectors,
    model groups, models, pipelines and the k-NN index O(index)) and, with O(verify), sends a predict to each deployed
    model. It reads each kind of object once, by name.
  - Last, the report, one row per model and resource, is returned, set as the facts C(ml_stack_report) and
    C(ml_stack_drift), and written to O(report_path) as JSON when set.
extends_documentation_fragment:
  - polardb.polarsearch.connection
attributes:
  action:
    support: full
    description: Runs on the controller and calls M(polardb.polarsearch.polarsearch_ml_stack) on the target host.
  async:
    support: none
    description: The task cannot run with C(async).
  check_mode:
    support: full
    description:
      - Check mode runs the same code and reports what a real run would change, row by row (the drift check). The
        verify predicts are not sent.
  diff_mode:
    support: full
    description: Shows each changed resource before and after; never a credential.
  platform:
    support: full
    platforms: posix
    description: The controller runs the input checks and the report; the stack module runs on the target host.
options:
  models:
    description:
      - The models of the stack, each with C(name) and C(kind) (V(embedding), V(rerank) or V(llm)), and optionally
        C(preset), C(endpoint), C(model), C(api_key), C(state), C(connector_overrides), C(model_group),
        C(model_overrides) and C(verify_parameters); see C(ml_stack_models) of the role.
    type: list
    elements: dict
    required: true
  state:
    description:
      - V(deployed) makes sure every model exists and is deployed; V(present) leaves the deploy state alone;
        V(absent) removes the whole stack, whatever the entries' own C(state).
    type: str
    choices: [present, deployed, absent]
    default: deployed
  name_prefix:
    description: Prefix of every model, connector and pipeline name.
    type: str
    default: ""
  preset:
    description: The default preset of every entry (V(dashscope), V(openai_compatible), V(custom), or a key of O(presets)).
    type: str
    default: dashscope
  endpoint:
    description: The default model service endpoint of every entry, C(host[:port][/base-path]) or a URL with its scheme.
    type: str
    default: dashscope.aliyuncs.com
  endpoint_scheme:
    description: The scheme of endpoints given without one (C(ml_stack_scheme) of the role).
    type: str
    choices: [http, https]
    default: https
  api_key:
    description:
      - The default API key of every entry. Required, here or in each entry's C(api_key), for every entry that is not
        absent. Secret; never logged or shown.
    type: str
  fingerprint_key:
    description:
      - The key of the credential fingerprints the connectors store (see
        O(polardb.polarsearch.polarsearch_connector#module:fingerprint_key)). When not set, the module reads
        E(POLARSEARCH_FINGERPRINT_KEY) on the host it runs on. Secret.
    type: str
  presets:
    description: Extra presets, or changes to built-in ones (merged key by key), keyed by preset name.
    type: dict
    default: {}
  private_ip_enabled:
    description: Make sure C(plugins.ml_commons.connector.private_ip_enabled) is V(true) (never turned off).
    type: bool
    default: false
  keep_trusted_endpoints:
    description: Keep the trusted endpoint entries of removed models, instead of removing those nothing needs.
    type: bool
    default: false
  remove_unseen_trusted_endpoints:
    description:
      - Remove the trusted endpoint entries nothing needs even when the user cannot see every connector (a non-admin
        user with C(plugins.ml_commons.connector_access_control_enabled) true), whose unseen connectors may need them.
      - With V(false) such entries are kept, with a warning.
    type: bool
    default: false
  on_deployed_models:
    description: How a connector change reaches deployed models (see O(polardb.polarsearch.polarsearch_connector#module:on_deployed_models)).
    type: str
    choices: [replace, redeploy, fail]
    default: replace
  duplicates:
    description:
      - What to do when several connectors or models have a name of the stack; V(keep_one) keeps the one in use (else
        the oldest) and deletes the others (see O(polardb.polarsearch.polarsearch_model#module:duplicates)).
    type: str
    choices: [fail, keep_one]
    default: fail
  wait_timeout:
    description: Seconds to wait for each deploy, undeploy or connector replace.
    type: int
    default: 300
  verify:
    description:
      - Send a predict to each deployed model and check the answer has the shape of its kind. Every model is tried;
        then one that failed or answered with the wrong shape fails the task, with the report of the converge.
      - Not sent in check mode.
    type: bool
    default: true
  report_path:
    description:
      - A file on the controller to write the report to as JSON, also in check mode; not written when the task fails.
      - "C({check_mode, drift, resources: [{model, resource, name, action, fields}], plan}) with sorted keys; C(plan)
        is RV(plan), the writes in order."
    type: path
  pipelines:
    description:
      - Wire the stack into search with three pipelines that refer to the models by name, C(<prefix>embedding-ingest),
        C(<prefix>rerank-search) and C(<prefix>rag-search) (see C(ml_stack_pipelines) of the role).
    type: bool
    default: false
  text_field:
    description: The document field the pipelines embed, rerank by and answer from.
    type: str
    default: text
  vector_field:
    description: The document field the ingest pipeline writes the vector to.
    type: str
    default: embedding
  index:
    description:
      - The name of a k-NN index to create for the stack, with O(text_field), a O(vector_field) whose dimension is read
        from a predict on the first embedding model, and the ingest pipeline as default pipeline; V('') creates none.
      - Needs O(pipelines=true).
    type: str
    default: ""
  index_method:
    description: The C(method) of the C(knn_vector) field.
    type: dict
    default:
      name: hnsw
      engine: lucene
      space_type: cosinesimil
  index_recreate:
    description: Delete and re-create O(index), with all its documents, when a field or static setting must change.
    type: bool
    default: false
  delete_index:
    description: With O(state=absent), delete O(index) first, only when the collection created it.
    type: bool
    default: false
  connection_vars:
    description:
      - Connection options (the keys of the options below, such as C(host) or C(user_password)) that win over the
        task's own and those C(module_defaults) gives, each one that is set and not empty.
      - The role passes its C(polarsearch_*) variables here. Leaving a task option out with C(omit) would also
        drop the value C(module_defaults) of the play gives it, so the variables cannot be passed as options.
      - Its C(password) and C(user_password) are secrets; never logged or shown.
    type: dict
    default: {}
seealso:
  - module: polardb.polarsearch.polarsearch_ml_stack
author:
  - PolarDB PolarSearch team (@polardb)
"""

EXAMPLES = r"""
- name: Provision the three DashScope models and report drift
  polardb.polarsearch.polarsearch_ml_stack_apply:
    models:
      - {name: text-embedding-v4, kind: embedding}
      - {name: qwen3-rerank, kind: rerank}
      - {name: qwen-max, kind: llm}
    api_key: "{{ dashscope_api_key }}"
    host: pc-xxx.polardbsearch.rds.aliyuncs.com:3001
    user_password: "{{ polarsearch_user_password }}"
  register: stack

- name: Show the report
  ansible.builtin.debug:
    msg: "{{ stack.report.table }}"
"""

RETURN = r"""
report:
  description: The report of the run (in check mode, of what a real run would do).
  returned: when the stack module ran
  type: dict
  contains:
    rows:
      description:
        - One row per model and resource, C({model, resource, name, action, fields}); C(resource) is C(setting),
          C(connector), C(model), C(deploy), C(model_group), C(pipeline) or C(index); C(action) is C(create),
          C(update), C(replace), C(delete), C(deploy), C(undeploy) or C(none); C(fields) are field names only.
      type: list
      elements: dict
      returned: always
    drift:
      description: Whether any row has an action other than C(none).
      type: bool
      returned: always
    table:
      description: The rows as aligned lines under a title, as the role shows them.
      type: list
      elements: str
      returned: always
  sample:
    rows: [{model: qwen-max, resource: model, name: qwen-max, action: update, fields: [description]}]
    drift: true
    table: ["ML stack: 1 of 12 resources changed"]
check_mode:
  description: Whether the run was in check mode.
  returned: always
  type: bool
  sample: false
plan:
  description: Every write the run made (in check mode, would make), as M(polardb.polarsearch.polarsearch_ml_stack) returns it.
  returned: when the stack module ran
  type: list
  elements: dict
  sample: [{operation: register, kind: model, name: qwen-max, id: null, fields: []}]
resources:
  description: The result of each resource, as M(polardb.polarsearch.polarsearch_ml_stack) returns it.
  returned: when the stack module ran
  type: dict
  sample: {settings_present: {changed: false, plan: []}}
problems:
  description: Every problem of the input, when it has any (nothing was sent).
  returned: on bad input
  type: list
  elements: str
  sample: ["ml_stack_models[0] (x): kind must be one of embedding, rerank, llm, not foo"]
report_path:
  description: The file the report was written to.
  returned: when O(report_path) is set and the task succeeded
  type: str
  sample: /tmp/ml-stack-report.json
ansible_facts:
  description: The facts the run sets.
  returned: success
  type: dict
  contains:
    ml_stack_report:
      description: The report rows (RV(report.rows)).
      type: list
      elements: dict
      returned: success
    ml_stack_drift:
      description: Whether any row has an action other than C(none) (RV(report.drift)).
      type: bool
      returned: success
"""
