# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input, one row each: every module, the action polarsearch_ml_stack_apply and the ml_stack role.

Each row asserts that the run failed, that the message names the option (its path inside nested options)
and the other words of the row, that no request reached the (fake) server, and that the secret planted in
the row appears nowhere in the result nor in the invocation Ansible would print at -vvv (module arguments
with the module's no-log values masked). The rows in PLAYBOOK_ROWS and ROLE_ROWS run through a real
ansible-playbook -vvv (tests/unit/plugins/test_bad_input_playbook.py).
"""

from __future__ import annotations

import json
from collections import namedtuple
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.polardb.polarsearch.plugins.action import polarsearch_ml_stack_apply as action
from ansible_collections.polardb.polarsearch.plugins.modules import (
    polarsearch_cluster_settings,
    polarsearch_connector,
    polarsearch_connector_info,
    polarsearch_index,
    polarsearch_ml_stack,
    polarsearch_model,
    polarsearch_model_group,
    polarsearch_model_info,
    polarsearch_pipeline,
    polarsearch_predict,
)
from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_apply import argument_spec

from conftest import run_module

Row = namedtuple("Row", "module args words")
SECRET = "Planted-Secret-5150"
KEY = "sk-Planted-Key-8086"
TMP = "{tmp}"  # replaced by the test's tmp_path


def conn(**extra):
    """The connection of a row: the fake server's host and a password holding the planted secret."""
    return dict({"host": "search.example.com:9200", "user_password": "admin:" + SECRET}, **extra)


def action_(**extra):
    return dict({"action_type": "predict", "method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                 "headers": {"Authorization": "Bearer ${credential.api_key}"},
                 "request_body": '{"model": "gpt-4o", "messages": ${parameters.messages}}'}, **extra)


def connector(**extra):
    return dict({"name": "c1", "credential": {"api_key": KEY}, "actions": [action_()]}, **extra)


def model(**extra):
    return dict({"name": "m1", "connector": "c1"}, **extra)


def vector(**extra):
    return {"name": "idx1", "mappings": {"properties": {"embedding": dict({"type": "knn_vector"}, **extra)}}}


CS = polarsearch_cluster_settings
CN = polarsearch_connector
CI = polarsearch_connector_info
MD = polarsearch_model
MG = polarsearch_model_group
MI = polarsearch_model_info
IX = polarsearch_index
PL = polarsearch_pipeline
PR = polarsearch_predict
ST = polarsearch_ml_stack

# -- the connection options, through each module ---------------------------------------------------------------------
CONNECTION_ROWS = [
    Row(CI, dict(name="c", host="http://search.example.com:9200/some/path"), ["host", "path", "/some/path"]),
    Row(CI, dict(name="c", host="http://search.example.com:0"), ["host", "port 0", "9200"]),
    Row(CI, dict(name="c", host="http://search.example.com:99999"), ["host", "port 99999", "1 to 65535"]),
    Row(CI, dict(name="c", host="http://exa mple:99999"), ["host", "host name", "exa mple"]),
    Row(CI, dict(name="c", host="http://admin:%s@127.0.0.1:9" % SECRET, user_password=None),
        ["host", "user:password@", "user_password"]),
    Row(CI, dict(name="c", host="ftp://search.example.com"), ["host", "scheme", "https://"]),
    Row(CI, dict(name="c", client_cert=TMP + "/not-pem.crt"), ["client_cert", "PEM", "-----BEGIN"]),
    Row(CI, dict(name="c", client_cert=TMP + "/missing.crt"), ["client_cert", "does not exist"]),
    Row(CI, dict(name="c", ca_path=TMP + "/not-pem.crt"), ["ca_path", "PEM"]),
    Row(CI, dict(name="c", timeout=0), ["timeout", "positive"]),
    Row(MI, dict(name="m", host="https://search.example.com:65536"), ["host", "port 65536"]),
    Row(MI, dict(name="m", host="https://search.example.com:abc"), ["host", "port", "abc"]),
    Row(MI, dict(name="m", host="https://search.example.com:9200?x=1"), ["host", "?x=1"]),
    Row(MI, dict(name="m", host="https://search.example.com:9200#top"), ["host", "#top"]),
    Row(MI, dict(name="m", retries=-1), ["retries", "0 or more"]),
    Row(MI, dict(name="m", connect_timeout=-2), ["connect_timeout", "positive"]),
    Row(MI, dict(name="m", user_password="admin-" + SECRET), ["user_password", "user:password"]),
    Row(MI, dict(name="m", client_key=TMP + "/not-pem.crt"), ["client_key", "client_cert"]),
    Row(MG, dict(name="g", host="https://[::1"), ["host", "[::1"]),
    Row(MG, dict(name="g", host="https://"), ["host", "host name"]),
    Row(MG, dict(name="g", username="admin", user_password=None), ["username", "password"]),
    Row(MG, dict(name="g", password=SECRET, user_password=None), ["password", "username"]),
    Row(MG, dict(name="g", scheme="ftp"), ["scheme", "http, https"]),
    Row(MG, dict(name="g", timeout="abc"), ["timeout", "float"]),
    Row(MG, dict(name="g", validate_certs="maybe"), ["validate_certs", "bool"]),
    Row(MG, dict(name="g", hots="x"), ["hots"]),
    Row(PL, dict(name="p", type="ingest", definition={"processors": []}, host="http://search.example.com:9200/x"),
        ["host", "/x"]),
    Row(PR, dict(name="m", parameters={"inputs": "hi"}, host="http://search.example.com:0"), ["host", "port 0"]),
    Row(PR, dict(name="m", parameters={"inputs": "hi"}, client_cert=TMP + "/not-pem.crt"), ["client_cert", "PEM"]),
    Row(IX, dict(name="idx", host="http://exa mple:9200"), ["host", "host name", "exa mple"]),
    Row(CS, dict(persistent={"a": 1}, host="https://search.example.com:99999"), ["host", "port 99999"]),
    Row(CN, dict(connector(), host="https://search.example.com:9200/p"), ["host", "/p"]),
    Row(MD, dict(model(), host="https://search.example.com:0"), ["host", "port 0"]),
    Row(ST, dict(stack={}, host="https://search.example.com:0"), ["host", "port 0"]),
]

# -- polarsearch_cluster_settings ------------------------------------------------------------------------------------
SETTINGS_ROWS = [
    Row(CS, dict(persistent={"plugins.ml_commons.trusted_connector_endpoints_regex": [{"a": 1}]}),
        ["persistent.plugins.ml_commons.trusted_connector_endpoints_regex", "list of mappings", "strings"]),
    Row(CS, dict(persistent={"bad key": 1}), ["persistent", "'bad key'", "space"]),
    Row(CS, dict(persistent={"": 1}), ["persistent", "empty key"]),
    Row(CS, dict(transient={"a..b": 1}), ["transient", "'a..b'", "empty"]),
    Row(CS, dict(persistent={"cluster": {"routing": {}}}), ["cluster.routing", "empty dict"]),
    Row(CS, dict(persistent={"a": {"b": 1}, "a.b": 2}), ["a.b", "twice"]),
    Row(CS, dict(persistent={}, transient={}), ["persistent", "transient", "nothing to manage"]),
    Row(CS, dict(), ["persistent", "transient"]),
    Row(CS, dict(persistent={"a": 1}, list_mode="merge"), ["list_mode", "append"]),
    Row(CS, dict(persistent=["a"]), ["persistent", "dict"]),
    Row(CS, dict(persistent={"a": {"b": [[1]]}}), ["persistent.a.b", "list"]),
    Row(CS, dict(transient={"x": {"y z": 1}}), ["transient", "'x.y z'", "space"]),
]

# -- polarsearch_connector -------------------------------------------------------------------------------------------
CONNECTOR_ROWS = [
    Row(CN, connector(actions=[action_(method="FETCH")]), ["actions[0].method", "FETCH", "POST"]),
    Row(CN, connector(actions=[action_(), action_(action_type="execute", method="GRAB")]),
        ["actions[1].method", "GRAB"]),
    Row(CN, connector(actions=[action_(request_body='{"model": "x", ')]), ["actions[0].request_body", "JSON", "{"]),
    Row(CN, connector(actions=[action_(request_body="model=x&input=${parameters.input}")]),
        ["actions[0].request_body", "JSON"]),
    Row(CN, connector(parameters={"model": "x"}, actions=[action_(url="https://${parameters.endpoint}/v1/embeddings")]),
        ["actions[0].url", "${parameters.endpoint}", "parameters.endpoint"]),
    Row(CN, connector(parameters={"model": "m"}, actions=[action_(url="https://${parameters.host}/v1")]),
        ["actions[0].url", "parameters.host"]),
    Row(CN, connector(protocol="mcp_sse", url="https://mcp.example.com/sse"), ["actions", "mcp_sse", "remove actions"]),
    Row(CN, connector(protocol="mcp_streamable_http"), ["actions", "mcp_streamable_http"]),
    Row(CN, connector(protocol="http", url="https://mcp.example.com/sse"), ["url", "MCP"]),
    Row(CN, connector(protocol="gopher"), ["protocol", "http"]),
    Row(CN, connector(actions=[action_(action_type="guess")]), ["actions[0].action_type", "guess", "predict"]),
    Row(CN, connector(actions=[{"action_type": "predict", "method": "POST"}]), ["url", "actions"]),
    Row(CN, connector(actions=[action_(headers={"Authorization": "Bearer " + SECRET})]),
        ["actions[0].headers.Authorization", "${credential.", "credential"]),
    Row(CN, connector(actions=[action_(headers={"x-api-key": SECRET})]),
        ["actions[0].headers.x-api-key", "${credential."]),
    Row(CN, connector(actions=[action_(url="https://api.example.com/v1?key=" + SECRET)]),
        ["actions[0].url", "key", "${credential."]),
    Row(CN, connector(actions=[action_(url="https://user:%s@api.example.com/v1" % SECRET)]),
        ["actions[0].url", "user:password@", "${credential."]),
    Row(CN, connector(name="c1<script>"), ["name", "letters"]),
    Row(CN, connector(description="a {b}"), ["description", "letters"]),
    Row(CN, connector(parameters={"polarsearch_replaces": "x"}), ["parameters.polarsearch_replaces", "reserved"]),
    Row(CN, connector(client_config={"max_connections": 5}), ["client_config.max_connections", "max_connection"]),
    Row(CN, connector(client_config={"read_timeout": "soon"}), ["client_config.read_timeout", "whole number"]),
    Row(CN, connector(credential={"api_key": {"nested": SECRET}}), ["credential.api_key", "string"]),
    Row(CN, connector(wait_timeout=-1), ["wait_timeout", "-1", "300"]),
    Row(CN, connector(credential_update="sometimes"), ["credential_update", "on_change"]),
    Row(CN, connector(on_deployed_models="ignore"), ["on_deployed_models", "replace"]),
    Row(CN, connector(duplicates="many"), ["duplicates", "keep_one"]),
    Row(CN, connector(access_mode="open"), ["access_mode", "restricted"]),
    Row(CN, connector(actions=[action_(url="https://api.openai.com/v1?api_key=${credential.api_key}&token=" + SECRET)]),
        ["actions[0].url", "token="]),
    Row(CN, dict(credential={"api_key": KEY}, actions=[action_()]), ["name", "connector_id"]),
    Row(CN, connector(actions=[action_(supports_structured_output="maybe")]), ["supports_structured_output"]),
    Row(CN, connector(state="gone"), ["state", "present"]),
]

# -- polarsearch_connector_info, polarsearch_model_info --------------------------------------------------------------
INFO_ROWS = [
    Row(CI, dict(name="c", connector_id="x"), ["name", "connector_id", "mutually exclusive"]),
    Row(CI, dict(name="c", verbose=True), ["verbose"]),
    Row(CI, dict(connector_id="x", host="https://search.example.com:9200/x/"), ["host", "/x/"]),
    Row(MI, dict(name="m", model_id="x"), ["name", "model_id", "mutually exclusive"]),
    Row(MI, dict(models="m"), ["models"]),
]

# -- polarsearch_model -----------------------------------------------------------------------------------------------
MODEL_ROWS = [
    Row(MD, model(wait_timeout=-5), ["wait_timeout", "-5", "300"]),
    Row(MD, model(wait_timeout=0, state="deployed"), ["wait_timeout", "state deployed", "300"]),
    Row(MD, model(interface={"input": ["a"]}), ["interface.input", "JSON schema"]),
    Row(MD, model(interface={"input": 5}), ["interface.input", "JSON schema", "type"]),
    Row(MD, model(interface={"output": [1, 2]}), ["interface.output", "JSON schema"]),
    Row(MD, model(interface={"input": "not json"}), ["interface.input", "JSON"]),
    Row(MD, model(interface={"inputs": {}}), ["interface", "inputs"]),
    Row(MD, model(interface="schema"), ["interface", "dict"]),
    Row(MD, model(rate_limiter={"limit": 5, "unit": "minutes"}), ["rate_limiter.unit", "MINUTES"]),
    Row(MD, model(rate_limiter={"every": 5}), ["rate_limiter", "every"]),
    Row(MD, model(guardrails={"input_guardrail": {"words": ["x"]}}), ["guardrails.input_guardrail", "words"]),
    Row(MD, model(guardrails={"kind": "x"}), ["guardrails", "kind"]),
    Row(MD, model(state="running"), ["state", "deployed"]),
    Row(MD, model(connector_id="x"), ["connector", "connector_id", "mutually exclusive"]),
    Row(MD, dict(connector="c1"), ["name", "model_id"]),
    Row(MD, model(removed_first=[{"kind": "index", "name": "x"}]), ["removed_first", "kind", "ingest_pipeline"]),
    Row(MD, model(removed_first=[{"kind": "agent"}]), ["removed_first", "name"]),
    Row(MD, model(wait="maybe"), ["wait", "bool"]),
    Row(MD, model(is_enabled="perhaps"), ["is_enabled"]),
    Row(MD, model(duplicates="all"), ["duplicates", "keep_one"]),
    Row(MD, model(wait_timeout="soon"), ["wait_timeout", "int"]),
]

# -- polarsearch_model_group -----------------------------------------------------------------------------------------
GROUP_ROWS = [
    Row(MG, dict(name="g", access_mode="open"), ["access_mode", "restricted"]),
    Row(MG, dict(name="g", backend_roles=["a"], add_all_backend_roles=True),
        ["backend_roles", "add_all_backend_roles"]),
    Row(MG, dict(name="g", access_mode="public", backend_roles=["a"]), ["backend_roles", "restricted"]),
    Row(MG, dict(description="x"), ["name", "model_group_id"]),
    Row(MG, dict(name="g", state="gone"), ["state", "present"]),
    Row(MG, dict(name="g", add_all_backend_roles="maybe"), ["add_all_backend_roles"]),
]

# -- polarsearch_index -----------------------------------------------------------------------------------------------
INDEX_ROWS = [
    Row(IX, vector(dimension=0), ["mappings.properties.embedding.dimension", "0", "1024"]),
    Row(IX, vector(dimension="abc"), ["mappings.properties.embedding.dimension", "abc", "whole number"]),
    Row(IX, vector(dimension=-3), ["mappings.properties.embedding.dimension", "-3"]),
    Row(IX, vector(dimension=1.5), ["mappings.properties.embedding.dimension", "1.5"]),
    Row(IX, vector(dimension=True), ["mappings.properties.embedding.dimension", "True"]),
    Row(IX, {"name": "idx1", "mappings": {"properties": {"doc": {"properties": {"vec": {
        "type": "knn_vector", "dimension": 0}}}}}}, ["mappings.properties.doc.properties.vec.dimension"]),
    Row(IX, dict(name="MyIndex"), ["name", "MyIndex", "lower case"]),
    Row(IX, dict(name="my index"), ["name", "'my index'"]),
    Row(IX, dict(name="_idx"), ["name", "leading _"]),
    Row(IX, dict(name=""), ["name"]),
    Row(IX, dict(name="idx1", mappings={"properties": "text"}), ["mappings.properties", "mapping"]),
    Row(IX, dict(name="idx1", mappings={"properties": {"f": "keyword"}}), ["mappings.properties.f", "{type: keyword}"]),
    Row(IX, dict(name="idx1", mappings={"_meta": ["x"]}), ["mappings._meta", "mapping"]),
    Row(IX, dict(name="idx1", settings={"index.uuid": "x"}), ["settings.index.uuid", "server"]),
    Row(IX, dict(name="idx1", state="gone"), ["state", "present"]),
    Row(IX, dict(name="idx1", recreate="maybe"), ["recreate"]),
    Row(IX, dict(mappings={}), ["name"]),
]

# -- polarsearch_pipeline --------------------------------------------------------------------------------------------
PIPELINE_ROWS = [
    Row(PL, dict(name="p", type="index", definition={}), ["type", "ingest"]),
    Row(PL, dict(name="p", type="ingest"), ["definition"]),
    Row(PL, dict(name="a/b", type="ingest", definition={"processors": []}), ["name", "a/b"]),
    Row(PL, dict(name="p", type="ingest", definition={"processors": [], "steps": []}), ["definition", "steps"]),
    Row(PL, dict(name="p", type="ingest", definition={"description": "x"}), ["definition.processors", "required"]),
    Row(PL, dict(name="p", type="ingest", definition={"processors": {"set": {}}}), ["definition.processors", "list"]),
    Row(PL, dict(name="p", type="ingest", definition={"processors": ["set"]}), ["definition.processors[0]", "mapping"]),
    Row(PL, dict(name="p", type="search", definition={"processors": []}), ["definition", "processors"]),
    Row(PL, dict(name="p", type="search", definition={"response_processors": "rerank"}),
        ["definition.response_processors", "list"]),
    Row(PL, dict(name="p", type="ingest", definition="processors: []"), ["definition", "dict"]),
    Row(PL, dict(name="p", type="ingest", definition={"processors": []}, state="gone"), ["state", "present"]),
    Row(PL, dict(type="ingest", definition={"processors": []}), ["name"]),
]

# -- polarsearch_predict ---------------------------------------------------------------------------------------------
PREDICT_ROWS = [
    Row(PR, dict(parameters={"inputs": "x"}), ["name", "model_id"]),
    Row(PR, dict(name="m", model_id="x", parameters={"inputs": "x"}), ["name", "model_id", "mutually exclusive"]),
    Row(PR, dict(name="m"), ["parameters"]),
    Row(PR, dict(name="m", parameters=["inputs"]), ["parameters", "dict"]),
    Row(PR, dict(name="m", parameters={"inputs": "x"}, timeout=-1), ["timeout", "positive"]),
    Row(PR, dict(name="m", parameters={"inputs": "x"}, retry_predict="maybe"), ["retry_predict"]),
    Row(PR, dict(name="m", parameters={"inputs": "x"}, require_deployed="maybe"), ["require_deployed"]),
]


# -- polarsearch_ml_stack --------------------------------------------------------------------------------------------
def stack_entry(**extra):
    entry = {"index": 0, "entry": "e1", "name": "e1", "kind": "llm", "preset": "custom", "state": "present",
             "endpoint": "https://api.openai.com", "regex": "^https://api\\.openai\\.com/.*$",
             "connector": {"name": "e1-connector", "version": "1", "protocol": "http",
                           "parameters": {"endpoint": "api.openai.com", "model": "gpt-4o"}, "actions": [action_()]},
             "model_options": {"description": "x"}, "verify": {}, "group": None}
    entry.update(extra)
    return entry


def stack(**extra):
    return dict({"present": [stack_entry()], "absent": [], "groups_present": [], "pipelines_present": [],
                 "pipelines_absent": [], "removed_first": [], "index": None}, **extra)


STACK_ROWS = [
    Row(ST, dict(stack={"present": "x"}), ["stack.present", "list", "x"]),
    Row(ST, dict(stack={"present": [{}]}), ["stack.present[0]", "name"]),
    Row(ST, dict(stack={"present": ["x"]}), ["stack.present[0]", "mapping"]),
    Row(ST, dict(stack={"absent": 5}), ["stack.absent", "list"]),
    Row(ST, dict(stack={"pipelines_present": "p"}), ["stack.pipelines_present", "list"]),
    Row(ST, dict(stack={"index": "idx"}), ["stack.index", "mapping"]),
    Row(ST, dict(stack="all"), ["stack", "dict"]),
    Row(ST, dict(stack=stack(), wait_timeout=-5), ["wait_timeout", "-5"]),
    Row(ST, dict(stack=stack(), on_deployed_models="ignore"), ["on_deployed_models", "replace"]),
    Row(ST, dict(stack=stack(), credentials="x"), ["credentials"]),
    Row(ST, dict(stack=stack(index={"name": "MyIndex", "state": "present", "model": "e1", "vector_field": "v",
                                    "text_field": "t", "method": {}, "recreate": False, "pipeline": "p"})),
        ["ml_stack_index", "MyIndex", "lower case"]),
    Row(ST, dict(stack=stack(present=[stack_entry(connector=dict(stack_entry()["connector"],
                                                                 actions=[action_(method="FETCH")]))])),
        ["connector e1-connector", "actions[0].method", "FETCH"]),
    Row(ST, dict(stack=stack(present=[stack_entry(connector=dict(stack_entry()["connector"], actions=[
        action_(headers={"Authorization": "Bearer " + SECRET})]))])),
        ["actions[0].headers.Authorization", "${credential."]),
    Row(ST, dict(stack=stack(present=[stack_entry(model_options={"interface": {"input": 5}})])),
        ["model e1", "interface.input"]),
]

MODULE_ROWS = (CONNECTION_ROWS + SETTINGS_ROWS + CONNECTOR_ROWS + INFO_ROWS + MODEL_ROWS + GROUP_ROWS + INDEX_ROWS
               + PIPELINE_ROWS + PREDICT_ROWS + STACK_ROWS)

# -- the action polarsearch_ml_stack_apply (the role's task) ---------------------------------------------------------
MODELS = [{"name": "qwen-max", "kind": "llm"}]
ACTION_ROWS = [
    Row("action", dict(models="qwen-max"), ["ml_stack_models", "list", "name: qwen-max"]),
    Row("action", dict(models={"name": "qwen-max"}), ["ml_stack_models", "list"]),
    Row("action", dict(models=[{"name": "x", "kind": "foo"}]), ["ml_stack_models[0]", "kind", "embedding"]),
    Row("action", dict(models=["qwen-max"]), ["ml_stack_models[0]", "mapping"]),
    Row("action", dict(wait_timeout=-5), ["ml_stack_wait_timeout", "-5", "300"]),
    Row("action", dict(wait_timeout="soon"), ["ml_stack_wait_timeout", "soon", "whole number"]),
    Row("action", dict(state="running"), ["ml_stack_state", "running", "deployed"]),
    Row("action", dict(endpoint_scheme="ftp"), ["ml_stack_scheme", "ftp", "https"]),
    Row("action", dict(on_deployed_models="ignore"), ["ml_stack_on_deployed_models", "ignore"]),
    Row("action", dict(duplicates="all"), ["ml_stack_duplicates", "keep_one"]),
    Row("action", dict(pipelines="maybe"), ["ml_stack_pipelines", "maybe", "true"]),
    Row("action", dict(presets="dashscope"), ["ml_stack_presets", "mapping"]),
    Row("action", dict(index_method="hnsw"), ["ml_stack_index_method", "mapping"]),
    Row("action", dict(index="MyIndex", pipelines=True, models=[
        {"name": "e", "kind": "embedding"}, {"name": "r", "kind": "rerank"}, {"name": "l", "kind": "llm"}]),
        ["ml_stack_index", "MyIndex", "lower case"]),
    Row("action", dict(models=[{"name": "l", "kind": "llm", "endpoint": "exa mple"}]), ["endpoint", "exa mple"]),
    Row("action", dict(api_key=None), ["ml_stack_api_key", "API key"]),
    Row("action", dict(connection_vars={"hots": "x"}), ["connection_vars", "hots"]),
    Row("action", dict(connection_vars={"host": "http://admin:%s@127.0.0.1:9" % SECRET}), ["host", "user:password@"]),
    Row("action", dict(connection_vars={"host": "http://127.0.0.1:0"}), ["host", "port 0"]),
    Row("action", dict(models=[{"name": "l", "kind": "llm", "preset": "custom", "connector_overrides": {
        "actions": [action_(headers={"Authorization": "Bearer " + SECRET})]}}]),
        ["actions[0].headers.Authorization", "${credential."]),
    Row("action", dict(models=[{"name": "l", "kind": "llm", "connector_overrides": {
        "action": {"method": "FETCH"}}}]), ["actions[0].method", "FETCH"]),
    Row("action", dict(connection_vars={"timeout": "soon"}), ["polarsearch_timeout", "connection_vars.timeout"]),
    Row("action", dict(connection_vars={"scheme": "ftp"}), ["polarsearch_scheme", "https"]),
    Row("action", dict(connection_vars={"retries": -1}), ["polarsearch_retries", "-1"]),
    Row("action", dict(verify="sometimes"), ["ml_stack_verify", "true or false"]),
    Row("action", dict(delete_index="yes please"), ["ml_stack_delete_index", "true or false"]),
    Row("action", dict(name_prefix=["a"]), ["ml_stack_name_prefix", "list"]),
    Row("action", dict(models=[{"name": "bad<name>", "kind": "llm"}]), ["ml_stack_models[0]", "letters"]),
    Row("action", dict(models=[{"name": "l", "kind": "llm", "preset": "nope"}]), ["ml_stack_models[0]", "preset nope"]),
    Row("action", dict(models=[{"name": "l", "kind": "llm", "connector_overrides": {
        "client_config": {"max_connections": 5}}}]), ["client_config.max_connections"]),
    Row("action", dict(models=[{"name": "l", "kind": "llm", "model_overrides": {"interface": {"input": 5}}}]),
        ["interface.input", "JSON schema"]),
]


def row_id(row):
    module = row.module if isinstance(row.module, str) else row.module.__name__.rsplit(".", 1)[1]
    return "%s-%s" % (module.replace("polarsearch_", ""), json.dumps(row.args, sort_keys=True)[:60])


def prepared(args, tmp_path):
    """The row's arguments, the connection of the row first, ``{tmp}`` replaced by a real directory."""
    (tmp_path / "not-pem.crt").write_text("this is not a certificate\n")
    full = conn()
    full.update(args)
    full = json.loads(json.dumps(full).replace(TMP, str(tmp_path)))
    return {k: v for k, v in full.items() if v is not None}


def assert_row(result, row, server):
    assert result["failed"] is True, result
    msg = result["msg"] or ""
    assert row.words[0] in msg, "the message does not name the option %s: %s" % (row.words[0], msg)
    for word in row.words[1:]:
        assert word in msg, "the message does not say %r: %s" % (word, msg)
    assert server.requests == [], "a request reached the server: %s" % [(r.method, r.path) for r in server.requests]
    assert "_Ansible" not in msg, msg
    for secret in (SECRET, KEY):
        assert secret not in json.dumps(result, default=str), "the planted secret leaked: %s" % result


@pytest.mark.parametrize("row", MODULE_ROWS, ids=[row_id(r) for r in MODULE_ROWS])
def test_module_row(row, server, tmp_path):
    args = prepared(row.args, tmp_path)
    result = run_module(row.module, args, connection=False, extra_secrets=[SECRET, KEY], invocation=True)
    assert "invocation" in result
    assert_row(result, row, server)


def task_args(extra):
    out = {name: spec.get("default") for name, spec in argument_spec().items()}
    out.update(models=MODELS, api_key=KEY, wait_timeout=30, connection_vars={}, **conn())
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}


def run_action(args):
    """The action plugin's run(), polarsearch_ml_stack in process in place of Ansible's module call."""
    task = mock.MagicMock(args=args, async_val=0, check_mode=False, action="polarsearch_ml_stack_apply")
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    plugin = action.ActionModule(task, connection, mock.MagicMock(check_mode=False), loader=mock.MagicMock(),
                                 templar=mock.MagicMock(), shared_loader_obj=mock.MagicMock())

    def execute_module(module_name, module_args, task_vars):
        return run_module(polarsearch_ml_stack, module_args, connection=False, extra_secrets=[SECRET, KEY],
                          invocation=True)

    with mock.patch.object(plugin, "_execute_module", side_effect=execute_module), \
            mock.patch.object(plugin, "_remove_tmp_path"):
        try:
            return plugin.run(task_vars={})
        except AnsibleActionFail as exc:
            return dict(exc.result, failed=True, msg=exc.message)


@pytest.mark.parametrize("row", ACTION_ROWS, ids=[row_id(r) for r in ACTION_ROWS])
def test_action_row(row, server):
    assert_row(run_action(task_args(row.args)), row, server)


def test_the_table_has_a_row_for_every_module_and_120_in_all():
    from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_ml_stack_apply  # noqa: F401
    modules = {r.module for r in MODULE_ROWS}
    assert modules == {CS, CN, CI, MD, MG, MI, IX, PL, PR, ST}
    assert len(MODULE_ROWS) + len(ACTION_ROWS) >= 120


def test_a_url_placeholder_without_its_parameter_fails_before_the_create(server):
    """Without parameters in the task the stored ones apply to an update, so only a create (after the lookup)
    can tell that a placeholder has nothing to fill it; it fails there, before any write."""
    args = dict(conn(), **connector(actions=[action_(url="https://${parameters.endpoint}/v1/embeddings")]))
    result = run_module(CN, args, connection=False, extra_secrets=[SECRET, KEY], invocation=True)
    assert result["failed"] is True and server.writes == []
    assert "actions[0].url uses ${parameters.endpoint}, but parameters.endpoint is not given" in result["msg"]
