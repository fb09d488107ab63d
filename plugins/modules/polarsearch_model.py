#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: polarsearch_model
short_description: Register, deploy, undeploy and delete ML Commons remote models on PolarSearch
version_added: 0.1.0
description:
  - Manages a remote model (C(function_name=remote)) that uses an ML Commons connector.
  - A model is identified by O(name) (exact match) or O(model_id). Names are not unique in ML Commons;
    when two or more remote models carry the name the module fails and lists their IDs.
  - A C(_deploy) answer of C(COMPLETED) only means the nodes received the request. The module polls the
    deploy task and the model, with a short interval that grows, until the model is C(DEPLOYED), and
    reports the task's error text when the deploy fails.
  - C(PARTIALLY_DEPLOYED) and C(DEPLOY_FAILED) count as not deployed; with O(state=deployed) the model is
    deployed again.
  - Pointing a model at another connector is a model update, which the server allows while the model is deployed.
  - Deploy and undeploy check the model state first and, when an answer is lost, look at the state again
    instead of sending the request twice.
  - When two runs register the same model name at the same moment, both end with the same model (the oldest,
    then the one with the smallest ID); a run whose own new model lost deletes it.
extends_documentation_fragment:
  - polardb.polarsearch.connection
attributes:
  check_mode:
    support: full
    description: Check mode reads the model and reports the plan a real run would carry out.
  diff_mode:
    support: full
    description: Shows the model before and after.
options:
  name:
    description:
      - The model name. Required unless O(model_id) is set; with O(model_id) it renames the model.
    type: str
  model_id:
    description: The ID of the model to manage.
    type: str
  connector:
    description:
      - The name of the connector the model uses. Mutually exclusive with O(connector_id).
      - Required (one of the two) to register a model.
    type: str
  connector_id:
    description: The ID of the connector the model uses.
    type: str
  description:
    description: A description of the model.
    type: str
  model_group:
    description:
      - The name of the model group the model is in; the group is created when missing (with the description
        C(Model group managed by polardb.polarsearch)). Manage its access fields with
        M(polardb.polarsearch.polarsearch_model_group).
      - When neither this nor O(model_group_id) is set, a new model is registered into the group named after the
        model, created the same way when missing. The module always registers into an explicit group (on a
        cluster with model access control, a register without a group can use another user's private
        connector), so the module never relies on the server choosing the group.
      - Moving a model to another group deletes the group it leaves when no other model (of any function) is in
        it and the group was made for it (named after the model, or created by this collection).
      - With O(model_group_id) as well, both must name the same group.
    type: str
  model_group_id:
    description:
      - The ID of an existing model group to put the model in; compared only when set.
    type: str
  interface:
    description:
      - The input and output JSON schemas of the model (C(input), C(output)); compared only when set, as a whole
        (the server replaces the whole interface on update).
      - The server keeps only C(input) and C(output); any other key is refused before anything is written.
    type: dict
  is_enabled:
    description: Whether the model accepts predictions; compared only when set.
    type: bool
  rate_limiter:
    description:
      - The model's rate limiter, C(limit) (for example V(10)) and C(unit) (a time unit such as V(MINUTES));
        compared only when set, on the keys given. Other keys are refused, since the server drops them.
    type: dict
  guardrails:
    description:
      - The model's guardrails, C(type), C(input_guardrail) and C(output_guardrail); compared only when set, on the
        keys given. Other keys are refused, since the server drops them.
    type: dict
  state:
    description:
      - V(present) registers the model and leaves its deploy state alone.
      - V(deployed) registers and deploys it.
      - V(undeployed) registers it and makes sure it is not deployed.
      - V(absent) undeploys it when needed, deletes it, and deletes the model group that was created for it
        (named after the model, or created by this collection) when no other model remains in it.
        A model that is already gone is success.
      - Before V(absent) changes anything (in check mode too), the module looks for ingest pipelines, search
        pipelines and agents that use the model ID and fails naming them, unless O(force_delete_referenced) is
        set.
    type: str
    choices: [present, deployed, undeployed, absent]
    default: present
  duplicates:
    description:
      - What to do when several remote models are named O(name) (ML Commons does not keep names unique).
      - V(fail) fails and names their IDs, so that O(model_id) can pick one. Models that this collection
        registered at the same moment (two runs at once) are settled without it.
      - V(keep_one) keeps the one ingest pipelines, search pipelines or agents use, or, when none is used, the
        oldest (then the smallest ID); it undeploys and deletes the others, and a model group left empty that the
        collection or the server made for them. When two or more are in use, it fails, names them, and deletes
        nothing. The deletes show in RV(plan) and are predicted in check mode.
      - Ignored with O(model_id).
    type: str
    choices: [fail, keep_one]
    default: fail
  force_delete_referenced:
    description:
      - With O(state=absent), delete the model even when ingest pipelines, search pipelines or agents use it;
        they stop working. When the cluster setting C(plugins.ml_commons.safe_delete_model) is true the server
        refuses such a delete anyway, so the module then fails before changing anything.
    type: bool
    default: false
  removed_first:
    description:
      - With O(state=absent), the pipelines and agents that the same play deletes before this task, as
        returned in RV(references) (O(removed_first[].kind) and O(removed_first[].name)).
      - Only check mode, where they still exist, counts them as gone, so that it predicts a teardown that
        deletes its pipelines first exactly; a real run finds them gone, or refuses as usual.
    type: list
    elements: dict
    suboptions:
      kind:
        description: V(ingest_pipeline), V(search_pipeline) or V(agent).
        type: str
        required: true
        choices: [ingest_pipeline, search_pipeline, agent]
      name:
        description: The pipeline's or agent's name.
        type: str
        required: true
  wait:
    description: Wait until a deploy or undeploy has finished.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for a deploy or undeploy.
      - Also bounds the wait (at most 60 seconds) of a run that meets same-named models that are not deployed, for
        other runs registering the name at the same moment to settle it, before it fails naming their IDs.
    type: int
    default: 300
author:
  - PolarDB PolarSearch team (@polardb)
"""

EXAMPLES = r"""
- name: Register and deploy the text-embedding-v4 model
  polardb.polarsearch.polarsearch_model:
    name: text-embedding-v4
    connector: dashscope-text-embedding-v4
    description: DashScope text-embedding-v4
    state: deployed

- name: Register and deploy qwen3-rerank and qwen-max
  polardb.polarsearch.polarsearch_model:
    name: "{{ item.name }}"
    connector: "{{ item.connector }}"
    state: deployed
  loop:
    - {name: qwen3-rerank, connector: dashscope-qwen3-rerank}
    - {name: qwen-max, connector: dashscope-qwen-max}

- name: Set the connection once for every module of the collection
  module_defaults:
    group/polardb.polarsearch.polarsearch:
      host: pc-xxx.polardbsearch.rds.aliyuncs.com:3001
      user_password: "{{ polarsearch_user_password }}"
  block:
    - name: Clean up; undeploys, deletes the model and its auto-created model group
      polardb.polarsearch.polarsearch_model:
        name: qwen-max
        state: absent

- name: Register a model into a model group managed with polarsearch_model_group
  polardb.polarsearch.polarsearch_model:
    name: qwen3-rerank
    connector: dashscope-qwen3-rerank
    model_group: team-a-rerankers
    state: deployed
"""

RETURN = r"""
model:
  description: The model after the run (predicted in check mode); empty when it is absent.
  returned: success
  type: dict
  sample:
    model_id: x8nrvJIBq2x1oHuO3a0b
    name: qwen-max
    description: DashScope qwen-max
    model_state: DEPLOYED
    connector_id: 3ZxYvJIBq2x1oHuOlq6Y
    model_group_id: wcnrvJIBq2x1oHuO2a1Z
    model_version: "1"
    algorithm: REMOTE
model_id:
  description: The ID of the model. V(null) in check mode for a model still to be registered.
  returned: success, when the model exists
  type: str
  sample: x8nrvJIBq2x1oHuO3a0b
diff:
  description: The model before and after.
  returned: success
  type: dict
  contains:
    before:
      description: The model before the run.
      type: dict
      returned: success
    after:
      description: The model after the run.
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
      description: The kind of object, C(model) or C(model_group).
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
    - {operation: create, kind: model_group, name: qwen-max, id: null, fields: [description]}
    - {operation: register, kind: model, name: qwen-max, id: null, fields: []}
    - {operation: deploy, kind: model, name: qwen-max, id: null, fields: []}
references:
  description: On failure of O(state=absent), the pipelines and agents that use the model.
  returned: when they block a delete
  type: list
  elements: dict
  sample: [{kind: ingest_pipeline, name: embed-on-ingest}]
"""

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import specs
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import PolarSearchModule
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import ensure_model


def main():
    module = PolarSearchModule(**specs.model())
    module.run(ensure_model)


if __name__ == "__main__":
    main()
