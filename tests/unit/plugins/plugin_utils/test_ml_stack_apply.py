# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""polarsearch_ml_stack_apply: the role's steps in one task, the module run in process against the fake server."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from unittest import mock

import pytest
import yaml

from ansible_collections.polardb.polarsearch.plugins.action import polarsearch_ml_stack_apply as action
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_ml_stack
from ansible_collections.polardb.polarsearch.plugins.modules import polarsearch_ml_stack_apply as docs
from ansible_collections.polardb.polarsearch.plugins.plugin_utils import ml_stack_apply as apply_mod
from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_apply import (
    STACK_SPEC,
    apply,
    argument_spec,
    builtin_presets,
    connection_spec,
    module_args,
)

from conftest import run_module
from fake_server import DEFAULT_STACK_ANSWERS, IndexServer

ROOT = Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "ml_stack"
DEFAULT_MODELS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())["ml_stack_models"]
API_KEY = "sk-apply-secret-4321"


@pytest.fixture
def server(monkeypatch, clock):
    fake = IndexServer().install(monkeypatch)
    fake.answers_by_name.update(copy.deepcopy(DEFAULT_STACK_ANSWERS))
    return fake


def task_args(**extra):
    """The arguments as the action's validation fills them in: the spec's defaults, then what the task sets."""
    out = {name: spec.get("default") for name, spec in argument_spec().items()}
    out.update(models=DEFAULT_MODELS, api_key=API_KEY, wait_timeout=30)
    out.update(extra)
    return out


class Executor:
    """Runs polarsearch_ml_stack in process as the action plugin runs it through Ansible, and keeps its calls."""

    def __init__(self, check_mode=False):
        self.check_mode = check_mode
        self.calls = []

    def __call__(self, args):
        self.calls.append(args)
        return run_module(polarsearch_ml_stack, args, check_mode=self.check_mode, diff=True,
                          extra_secrets=[API_KEY])


# -- input ------------------------------------------------------------------------------------------------
def test_the_builtin_presets_are_the_roles_preset_files():
    presets = builtin_presets()
    assert sorted(presets) == sorted(p.stem for p in (ROLE / "vars" / "presets").glob("*.yml"))
    assert presets["dashscope"]["kinds"]["embedding"]["model"] == "text-embedding-v4"


def test_bad_input_fails_naming_every_problem_before_the_module_runs():
    execute = Executor()
    result = apply(task_args(models=[{"name": "x", "kind": "foo"}, {"name": "x", "kind": "llm"}]), execute, False)
    assert result["failed"] is True and result["changed"] is False and execute.calls == []
    assert result["msg"].startswith("ml_stack: 2 problem(s) in the input: ")
    assert "kind must be one of embedding, rerank, llm, not foo" in result["msg"]
    assert "names must be unique" in result["msg"]
    assert len(result["problems"]) == 2


def test_the_module_gets_only_what_is_set_and_no_key_in_the_stack():
    args = task_args(models=DEFAULT_MODELS[:1] + [dict(DEFAULT_MODELS[1], api_key="sk-own-key")],
                     host="https://search.example:9200", user_password="u:pw-secret")
    stack = apply_mod.resolve_stack(args)
    out = module_args(args, stack)
    assert out["credentials"] == [{"api_key": API_KEY}, {"api_key": "sk-own-key"}]
    assert "sk-own-key" not in json.dumps(out["stack"]) and API_KEY not in json.dumps(out["stack"])
    assert out["host"] == "https://search.example:9200" and out["user_password"] == "u:pw-secret"
    # not set: left to the module's defaults and its environment fallbacks on the host it runs on
    for name in ("fingerprint_key", "scheme", "username", "password", "validate_certs", "ca_path", "timeout",
                 "retries"):
        assert name not in out


# -- the run ------------------------------------------------------------------------------------------------
def test_create_then_check_mode_writes_the_report_and_sets_the_facts(server, tmp_path):
    path = tmp_path / "report.json"
    created = apply(task_args(report_path=str(path)), Executor(), False)
    assert created["changed"] is True and not created.get("failed")
    assert created["check_mode"] is False and created["report"]["drift"] is True
    assert created["ansible_facts"]["ml_stack_report"] == created["report"]["rows"]
    assert created["report"]["table"][0] == "ML stack: 12 of 12 resources changed"
    # the verify predicts ran, one per deployed model
    assert len(created["resources"]["verify"]) == 3
    written = json.loads(path.read_text())
    assert written == {"check_mode": False, "drift": True, "resources": created["report"]["rows"],
                       "plan": created["plan"]}
    assert [s["operation"] for s in written["plan"] if s["kind"] == "model"] == ["register", "deploy"] * 3
    assert API_KEY not in json.dumps(created) and API_KEY not in path.read_text()

    checked = apply(task_args(report_path=str(path)), Executor(check_mode=True), True)
    assert checked["changed"] is False and checked["check_mode"] is True
    assert checked["ansible_facts"]["ml_stack_drift"] is False
    assert json.loads(path.read_text())["check_mode"] is True
    assert checked["report"]["table"][0] == "ML stack drift (check mode): 0 of 12 resources would change"


def test_a_failed_verify_returns_the_report_but_no_facts_and_no_file(server, tmp_path):
    server.answers_by_name["qwen-max"] = [{"output": [{"name": "response", "dataAsMap": {}}], "status_code": 200}]
    path = tmp_path / "report.json"
    result = apply(task_args(report_path=str(path)), Executor(), False)
    assert result["failed"] is True and result["changed"] is True
    assert "model qwen-max (llm) answered, but not with a non-empty text" in result["msg"]
    assert result["report"]["drift"] is True and "ansible_facts" not in result
    assert not path.exists()


def test_a_module_failure_is_passed_on_without_a_report(server):
    stack_args = task_args(models=[dict(DEFAULT_MODELS[0], connector_overrides={"protocol": "carrier-pigeon"})])
    result = apply(stack_args, Executor(), False)
    assert result["failed"] is True and "report" not in result and "ansible_facts" not in result
    assert "connector text-embedding-v4-connector" in result["msg"]


# -- the action plugin and its documentation ------------------------------------------------------------
def doc_options():
    return yaml.safe_load(docs.DOCUMENTATION)["options"]


def test_the_documented_options_are_the_spec():
    documented = doc_options()
    assert set(documented) == set(STACK_SPEC)
    for name, spec in STACK_SPEC.items():
        doc = documented[name]
        assert doc["type"] == spec["type"], name
        assert doc.get("default") == spec.get("default"), name
        assert doc.get("choices") == spec.get("choices"), name
        assert doc.get("required", False) == spec.get("required", False), name
        assert doc.get("elements") == spec.get("elements"), name
    fragment = yaml.safe_load((ROOT / "plugins" / "doc_fragments" / "connection.py").read_text().split('r"""')[1]
                              .split('"""')[0])["options"]
    assert set(connection_spec()) == set(fragment)


def test_the_role_passes_every_option_and_its_connection_variables():
    tasks = yaml.safe_load((ROLE / "tasks" / "main.yml").read_text())
    passed = tasks[0]["polardb.polarsearch.polarsearch_ml_stack_apply"]
    # no connection option as such: an omitted one would drop what module_defaults of the play give it
    assert set(passed) == set(STACK_SPEC)
    role_spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    variables = {name[len("polarsearch_"):]: name for name in role_spec if name.startswith("polarsearch_")}
    assert set(passed["connection_vars"]) == set(variables) and set(variables) <= set(connection_spec())
    for option, name in variables.items():
        assert passed["connection_vars"][option] == "{{ %s | default(none) }}" % name


def test_connection_vars_that_are_set_win_over_the_task_options():
    args = task_args(host="https://from-module-defaults:9200", timeout=20.0,
                     connection_vars={"host": "https://from-the-role:9200", "timeout": None, "user_password": "",
                                      "retries": 0})
    out = module_args(args, apply_mod.resolve_stack(args))
    assert out["host"] == "https://from-the-role:9200" and out["timeout"] == 20.0 and out["retries"] == 0
    assert "user_password" not in out
    bad = apply(task_args(connection_vars={"hots": "x"}), Executor(), False)
    assert bad["failed"] is True and "connection_vars: unknown option(s) hots" in bad["msg"]


def make_action(task_args_, check_mode=False):
    task = mock.MagicMock(args=task_args_, async_val=0, check_mode=check_mode, action="polarsearch_ml_stack_apply")
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    play_context = mock.MagicMock(check_mode=check_mode)
    return action.ActionModule(task, connection, play_context, loader=mock.MagicMock(), templar=mock.MagicMock(),
                               shared_loader_obj=mock.MagicMock())


def test_the_action_validates_its_arguments_and_calls_the_stack_module(server):
    plugin = make_action({"models": DEFAULT_MODELS, "api_key": API_KEY, "wait_timeout": 30})
    calls = []

    def execute_module(module_name, module_args, task_vars):
        calls.append(module_name)
        return run_module(polarsearch_ml_stack, module_args, extra_secrets=[API_KEY])

    with mock.patch.object(plugin, "_execute_module", side_effect=execute_module), \
            mock.patch.object(plugin, "_remove_tmp_path") as removed:
        result = plugin.run(task_vars={})
    assert calls == ["polardb.polarsearch.polarsearch_ml_stack"]
    assert result["changed"] is True and result["report"]["drift"] is True
    assert removed.called
    assert API_KEY not in json.dumps(result)

    bad = make_action({"models": DEFAULT_MODELS, "state": "gone"}).run(task_vars={})
    assert bad["failed"] is True
    assert bad["msg"] == ("ml_stack: 1 problem(s) in the input: ml_stack_state (option state): 'gone' is not one of "
                          "present, deployed, absent: give one of them, such as deployed")
