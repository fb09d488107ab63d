# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input through a real ``ansible-playbook -vvv`` (the one next to this Python: the .venv's, or a matrix venv's
when tests/matrix/core-matrix runs the unit tests on an older ansible-core).

Each module row runs against a closed port (127.0.0.1:9, so a request would fail with a connection error) and
must fail naming the option; each role row includes the ml_stack role with one bad variable and must fail with one
short message naming it, never with the role's argument specification. The planted secret must appear nowhere in
the whole output, whose -vvv results carry each module's ``invocation``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.release import __version__ as ansible_version

from ansible_collections.polardb.polarsearch.plugins.action import polarsearch_ml_stack_apply as action

SECRET = "Playbook-Secret-6502"
CLOSED = "http://127.0.0.1:9"
PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
COLLECTIONS = Path(action.__file__).parents[5]
HEADER = {"Authorization": "Bearer ${credential.api_key}"}
ACTION = {"action_type": "predict", "method": "POST", "url": "https://api.openai.com/v1/chat/completions",
          "headers": HEADER, "request_body": '{"messages": ${parameters.messages}}'}

# (module, arguments, words the message must hold: the option first)
MODULE_ROWS = [
    ("polarsearch_connector_info", {"name": "c", "host": "http://admin:%s@127.0.0.1:9" % SECRET},
     ["host", "user:password@"]),
    ("polarsearch_connector", {"name": "c", "credential": {"api_key": SECRET},
                               "actions": [dict(ACTION, headers={"Authorization": "Bearer " + SECRET})]},
     ["actions[0].headers.Authorization", "${credential."]),
    ("polarsearch_connector", {"name": "c", "credential": {"api_key": SECRET},
                               "actions": [dict(ACTION, method="FETCH")]}, ["actions[0].method", "FETCH"]),
    ("polarsearch_model", {"name": "m", "connector": "c", "wait_timeout": -5, "password": SECRET, "username": "u"},
     ["wait_timeout", "-5"]),
    ("polarsearch_index", {"name": "idx", "mappings": {"properties": {"v": {"type": "knn_vector", "dimension": 0}}}},
     ["mappings.properties.v.dimension"]),
    ("polarsearch_cluster_settings", {"persistent": {"bad key": 1}}, ["persistent", "bad key"]),
    ("polarsearch_ml_stack", {"stack": {"present": "x"}, "credentials": [{"api_key": SECRET}]}, ["stack.present"]),
    ("polarsearch_model_group", {"name": "g", "host": "http://exa mple:99999"}, ["host", "exa mple"]),
    ("polarsearch_predict", {"name": "m", "parameters": {"inputs": "x"}, "host": "http://127.0.0.1:0"},
     ["host", "port 0"]),
    ("polarsearch_pipeline", {"name": "a/b", "type": "ingest", "definition": {"processors": []}}, ["name", "a/b"]),
    ("polarsearch_model_info", {"name": "m", "client_cert": "{tmp}/not-pem.crt"}, ["client_cert", "PEM"]),
]

# (role variables, words the message must hold: the variable first)
MODELS = [{"name": "qwen-max", "kind": "llm"}]
ROLE_ROWS = [
    ({"ml_stack_wait_timeout": -5}, ["ml_stack_wait_timeout", "-5"]),
    ({"ml_stack_wait_timeout": "soon"}, ["ml_stack_wait_timeout", "whole number"]),
    ({"ml_stack_state": "running"}, ["ml_stack_state", "deployed"]),
    ({"ml_stack_models": {"name": "qwen-max", "kind": "llm"}}, ["ml_stack_models", "list"]),
    ({"ml_stack_index": "MyIndex", "ml_stack_pipelines": True,
      "ml_stack_models": [{"name": "e", "kind": "embedding"}, {"name": "r", "kind": "rerank"},
                          {"name": "l", "kind": "llm"}]}, ["ml_stack_index", "MyIndex"]),
    ({"polarsearch_host": "http://admin:%s@127.0.0.1:9" % SECRET}, ["host", "user:password@"]),
    ({"ml_stack_models": [{"name": "l", "kind": "llm", "preset": "custom", "connector_overrides": {
        "actions": [dict(ACTION, headers={"x-api-key": SECRET})]}}]}, ["actions[0].headers.x-api-key"]),
]
# ansible-core up to 2.19 prints the failed module's invocation (its arguments, no-log values masked) at -vvv
INVOCATION_SHOWN = tuple(int(p) for p in ansible_version.split(".")[:2]) < (2, 20)
FATAL = re.compile(r"^fatal: \[localhost\]: FAILED! => ", re.M)


def run_playbook(tmp_path, tasks):
    (tmp_path / "not-pem.crt").write_text("not a certificate\n")
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    path = tmp_path / "play.yml"
    path.write_text(json.dumps(play).replace("{tmp}", str(tmp_path)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLARSEARCH_", "ANSIBLE_", "ML_STACK_"))}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_HOME=str(tmp_path / "home"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_DEPRECATION_WARNINGS="0",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, DASHSCOPE_API_KEY="", POLARSEARCH_FINGERPRINT_KEY="")
    done = subprocess.run([str(PLAYBOOK), "-vvv", "-i", "localhost,", "-c", "local", str(path)], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    return done.stdout + done.stderr


def sections(output, count):
    """The output of each row: from its marker to the next one."""
    parts = re.split(r"ROW-MARKER-(\d+)", output)
    found = {}
    for index in range(1, len(parts) - 1, 2):
        found.setdefault(int(parts[index]), "")
        found[int(parts[index])] += parts[index + 1]
    assert sorted(found) == list(range(count)), "not every row ran: %s" % output[-3000:]
    return found


def failed_result(section):
    """The text and the value of the first failed result in ``section`` (pretty-printed JSON at -vvv)."""
    match = FATAL.search(section)
    assert match, "the row did not fail: %s" % section[-3000:]
    value, end = json.JSONDecoder().raw_decode(section, match.end())
    return section[match.end():end], value


def check(section, words):
    text, result = failed_result(section)
    fatal = [text]
    msg = result.get("msg", "")
    for word in words:
        assert word in msg, "the message does not say %r: %s" % (word, msg)
    assert "Connection refused" not in section and "127.0.0.1:9 " not in msg, "a request was sent: %s" % msg
    return fatal[0], msg


def marker(index):
    return {"name": "marker", "ansible.builtin.debug": {"msg": "ROW-MARKER-%d" % index}}


@pytest.mark.skipif(not PLAYBOOK.exists(), reason="no ansible-playbook next to %s" % sys.executable)
def test_module_rows_through_ansible_playbook_vvv(tmp_path):
    tasks = []
    for index, (module, args, _words) in enumerate(MODULE_ROWS):
        args = dict({"host": CLOSED, "retries": 0, "timeout": 5}, **args)
        tasks += [marker(index), {"name": "row %d" % index, "polardb.polarsearch.%s" % module: args,
                                  "ignore_errors": True}]
    output = run_playbook(tmp_path, tasks)
    assert SECRET not in output, "the planted secret is in the output"
    rows = sections(output, len(MODULE_ROWS))
    for index, (_module, _args, words) in enumerate(MODULE_ROWS):
        fatal, _msg = check(rows[index], words)
        if INVOCATION_SHOWN:
            assert '"invocation"' in fatal, "-vvv shows the module's invocation"


@pytest.mark.skipif(not PLAYBOOK.exists(), reason="no ansible-playbook next to %s" % sys.executable)
def test_role_rows_fail_with_one_short_message_per_bad_variable(tmp_path):
    tasks = []
    for index, (variables, _words) in enumerate(ROLE_ROWS):
        variables = dict({"ml_stack_api_key": SECRET, "ml_stack_models": MODELS, "polarsearch_host": CLOSED,
                          "polarsearch_retries": 0, "ml_stack_fingerprint_key": ""}, **variables)
        tasks += [marker(index), {"name": "role row %d" % index, "ansible.builtin.import_role": {
            "name": "polardb.polarsearch.ml_stack"}, "vars": variables, "ignore_errors": True}]
    output = run_playbook(tmp_path, tasks)
    assert SECRET not in output, "the planted secret is in the output"
    assert "argument_spec_data" not in output and "_AnsibleTagged" not in output
    rows = sections(output, len(ROLE_ROWS))
    for index, (_variables, words) in enumerate(ROLE_ROWS):
        fatal, msg = check(rows[index], words)
        assert len(msg) < 600, "the message is not short (%d characters): %s" % (len(msg), msg)
        assert len(fatal) < 3000, "the failed result is not short (%d characters)" % len(fatal)
