#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: polarsearch_ml_stack
short_description: Converge a whole ML stack (settings, connectors, model groups, models, pipelines) in one call
version_added: 0.3.0
description:
  - Takes the stack that M(polardb.polarsearch.polarsearch_ml_stack_apply) resolves and converges every
    resource of it in one module call, with the same code the resource modules run
    (M(polardb.polarsearch.polarsearch_cluster_settings), M(polardb.polarsearch.polarsearch_connector),
    M(polardb.polarsearch.polarsearch_model_group), M(polardb.polarsearch.polarsearch_model),
    M(polardb.polarsearch.polarsearch_pipeline)), in the order the role C(polardb.polarsearch.ml_stack) needs.
  - "Present entries: the trusted endpoint entries (appended), the connectors, the declared model groups, the models
    (registered and, for deployed entries, deployed), the pipelines, then the stack's k-NN index, with the vector
    dimension a predict on the embedding model answers. Absent entries: the index (only when the stack says to
    delete it, and only an index the collection created), the pipelines, the models (with the groups made for
    them), the connectors, then the trusted endpoint entries no connector left on the cluster needs (unless
    O(keep_trusted_endpoints))."
  - With O(verify), a predict on each deployed model last.
  - The state is read in one request per kind of object (the cluster settings, the connectors, the model groups,
    the models and the pipelines of the stack, by name); every read after a write goes to the server again.
    Unrelated objects on the cluster are never read, except that a teardown lists the connectors to decide which
    trusted endpoint entries are still needed.
  - Each resource's options are checked against the options of its module before anything is written.
extends_documentation_fragment:
  - polardb.polarsearch.connection
attributes:
  check_mode:
    support: full
    description:
      - Check mode runs the same code and returns the plan a real run carries out. A teardown cannot delete the
        connectors while their models are still there; it checks instead that no model outside the stack keeps
        the server from deleting them, and fails, naming them, when one would.
  diff_mode:
    support: full
    description: Shows each changed resource before and after, under its kind and name; never a credential.
options:
  stack:
    description:
      - The resolved stack, as M(polardb.polarsearch.polarsearch_ml_stack_apply) passes it (its C(present),
        C(absent), C(deployed), C(groups), C(groups_present), C(pipelines), C(pipelines_present),
        C(pipelines_absent), C(removed_first) and C(index) keys are read). It carries no secret.
    type: dict
    required: true
  credentials:
    description:
      - The connector credential of each model entry, by the entry's C(index) (the order of C(ml_stack_models)),
        as M(polardb.polarsearch.polarsearch_ml_stack_apply) passes it; an empty dict for none.
      - Never returned, shown in a diff or logged.
    type: list
    elements: dict
    default: []
  fingerprint_key:
    description:
      - The key of the credential fingerprints the connectors store (see O(polardb.polarsearch.polarsearch_connector#module:fingerprint_key)).
        When not set, the environment variable E(POLARSEARCH_FINGERPRINT_KEY) is used.
    type: str
  private_ip_enabled:
    description: Also set C(plugins.ml_commons.connector.private_ip_enabled) to V(true) when entries are present.
    type: bool
    default: false
  keep_trusted_endpoints:
    description: Keep the trusted endpoint entries of absent entries (do not remove the ones nothing needs).
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
    description: What a connector change does to deployed models (see O(polardb.polarsearch.polarsearch_connector#module:on_deployed_models)).
    type: str
    choices: [replace, redeploy, fail]
    default: replace
  duplicates:
    description:
      - What to do when several connectors or several models have one of the stack's names (see
        O(polardb.polarsearch.polarsearch_connector#module:duplicates) and O(polardb.polarsearch.polarsearch_model#module:duplicates)).
    type: str
    choices: [fail, keep_one]
    default: fail
  wait_timeout:
    description: Seconds to wait for each model to deploy, undeploy, or become usable again after a connector change.
    type: int
    default: 300
  verify:
    description:
      - After the stack has converged, send a predict with the entry's C(verify) parameters to each deployed model
        and check the answer has the shape of its kind (a non-empty vector, a score for every document, a
        non-empty text).
      - Every model is tried; then a model that failed or answered with the wrong shape fails the run, naming
        it, with RV(resources) of the converge still returned. Not sent in check mode.
    type: bool
    default: false
notes:
  - The resource modules stay for fine-grained use; this module exists so that a whole stack costs one module call.
seealso:
  - module: polardb.polarsearch.polarsearch_connector
  - module: polardb.polarsearch.polarsearch_model
  - module: polardb.polarsearch.polarsearch_pipeline
author:
  - PolarDB PolarSearch team (@polardb)
"""

EXAMPLES = r"""
- name: Resolve the stack
  ansible.builtin.set_fact:
    stack: >-
      {{ models | polardb.polarsearch.ml_stack_resolve(presets, {'endpoint': 'dashscope.aliyuncs.com',
                                                                 'has_api_key': true}) }}

- name: Converge it in one call
  polardb.polarsearch.polarsearch_ml_stack:
    stack: "{{ stack }}"
    credentials: "{{ models | map('polardb.polarsearch.ml_stack_credential', api_key) | list }}"
  register: converged

- name: Build the report from the results
  ansible.builtin.set_fact:
    report: "{{ stack | polardb.polarsearch.ml_stack_report(converged.resources, converged.check_mode) }}"
"""

RETURN = r"""
resources:
  description:
    - The result of each resource, as its module returns it (C(changed), C(plan), C(diff) and the object's view,
      such as C(connector) or C(model)), by step. C(settings_present) and C(settings_absent) are one result each;
      C(connectors_present), C(groups_present), C(models_present), C(pipelines_present), C(pipelines_absent),
      C(models_absent) and C(connectors_absent) map the name of each entry to its result, in the order they ran
      (the model entry's name for connectors and models, the group's or pipeline's name for those); C(connectors)
      is the listing of the stack's connectors a teardown reads first (as
      M(polardb.polarsearch.polarsearch_connector_info) returns it).
    - C(index), with the stack's index, holds its C(name), C(model) and C(vector_field), C(dimension_known) (false
      in check mode while the embedding model is not deployed yet, when the dimension is not compared) and
      C(result), as M(polardb.polarsearch.polarsearch_index) returns it (empty for an index a teardown keeps).
    - C(verify), with O(verify), maps the name of each deployed model to its predict result, as
      M(polardb.polarsearch.polarsearch_predict) returns it.
    - A step that did not run is missing. In check mode C(connectors_absent) is missing (the deletes cannot run
      while the models exist).
  returned: success, and when O(verify) fails
  type: dict
  sample:
    settings_present: {changed: false, plan: [], settings: {}}
    models_present:
      qwen-max: {changed: true, plan: [{operation: deploy, kind: model, name: qwen-max, id: aBcD, fields: []}]}
check_mode:
  description: Whether the run was in check mode (from the task, the block, the play or the command line).
  returned: success
  type: bool
  sample: false
plan:
  description:
    - Every write the run made (in check mode, would make), in order, one entry per write; the entries of the
      resource modules.
  returned: always
  type: list
  elements: dict
  contains:
    operation:
      description: What the step does, for example C(create), C(update), C(delete), C(register), C(deploy).
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
      description: The object's ID; null for an object this run creates.
      type: str
      returned: always
    fields:
      description: The names of the fields the step writes (never their values).
      type: list
      elements: str
      returned: always
  sample:
    - {operation: register, kind: model, name: qwen-max, id: null, fields: []}
"""

from ansible.module_utils.basic import env_fallback

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import PolarSearchModule
from ansible_collections.polardb.polarsearch.plugins.module_utils.stack.ml_stack import ensure_stack


def main():
    module = PolarSearchModule(
        argument_spec=dict(
            stack=dict(type="dict", required=True),
            credentials=dict(type="list", elements="dict", default=[], no_log=True),
            fingerprint_key=dict(type="str", no_log=True, fallback=(env_fallback, ["POLARSEARCH_FINGERPRINT_KEY"])),
            private_ip_enabled=dict(type="bool", default=False),
            keep_trusted_endpoints=dict(type="bool", default=False),
            remove_unseen_trusted_endpoints=dict(type="bool", default=False),
            on_deployed_models=dict(type="str", default="replace", choices=["replace", "redeploy", "fail"]),
            duplicates=dict(type="str", default="fail", choices=["fail", "keep_one"]),
            wait_timeout=dict(type="int", default=300),
            verify=dict(type="bool", default=False),
        ),
        secret_options=("credentials", "fingerprint_key"),
    )
    module.run(ensure_stack)


if __name__ == "__main__":
    main()
