# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ml_stack role in one task, on the controller: check and resolve the input against the presets,
converge the stack with one polarsearch_ml_stack module call (its index and verify steps included),
build the report, and write it as JSON when asked.

``apply`` takes the call of the module as a function, so that the action plugin runs it through
Ansible and the unit tests run it in process against the fake server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ansible.module_utils.common.yaml import yaml_load

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.connection_spec import ARGUMENT_SPEC as CONNECTION_SPEC
from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_input import (
    INDEX_METHOD,
    credential,
    option_problems,
    resolve,
)
from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_report import report

MODULE = "polardb.polarsearch.polarsearch_ml_stack"
# The presets shipped with the role: roles/ml_stack/vars/presets/<name>.yml, each under ml_stack__preset.
PRESETS_DIR = Path(__file__).resolve().parents[2] / "roles" / "ml_stack" / "vars" / "presets"

# The options of the stack: the role's variables without their ml_stack_ prefix (ml_stack_scheme is
# endpoint_scheme: scheme is the cluster's, as in every module of the collection).
STACK_SPEC = dict(
    models=dict(type="list", elements="dict", required=True),
    state=dict(type="str", default="deployed", choices=["present", "deployed", "absent"]),
    name_prefix=dict(type="str", default=""),
    preset=dict(type="str", default="dashscope"),
    endpoint=dict(type="str", default="dashscope.aliyuncs.com"),
    endpoint_scheme=dict(type="str", default="https", choices=["http", "https"]),
    api_key=dict(type="str", no_log=True),
    fingerprint_key=dict(type="str", no_log=True),
    presets=dict(type="dict", default={}),
    private_ip_enabled=dict(type="bool", default=False),
    keep_trusted_endpoints=dict(type="bool", default=False),
    remove_unseen_trusted_endpoints=dict(type="bool", default=False),
    on_deployed_models=dict(type="str", default="replace", choices=["replace", "redeploy", "fail"]),
    duplicates=dict(type="str", default="fail", choices=["fail", "keep_one"]),
    wait_timeout=dict(type="int", default=300),
    verify=dict(type="bool", default=True),
    report_path=dict(type="path"),
    pipelines=dict(type="bool", default=False),
    text_field=dict(type="str", default="text"),
    vector_field=dict(type="str", default="embedding"),
    index=dict(type="str", default=""),
    index_method=dict(type="dict", default=INDEX_METHOD),
    index_recreate=dict(type="bool", default=False),
    delete_index=dict(type="bool", default=False),
    connection_vars=dict(type="dict", default={}, no_log=True),
)
# Passed on to the module as given: its own defaults and environment fallbacks apply there, on the host it
# runs on, and a path is expanded there.
PASSED_ON = ("fingerprint_key", "private_ip_enabled", "keep_trusted_endpoints", "remove_unseen_trusted_endpoints",
             "on_deployed_models", "duplicates",
             "wait_timeout", "verify")


def connection_spec():
    """The connection options of every module of the collection, without defaults: only what the task sets
    is passed on."""
    spec = {}
    for name, option in CONNECTION_SPEC.items():
        option = dict(option)
        option.pop("default", None)
        if option["type"] == "path":
            option["type"] = "str"
        spec[name] = option
    return spec


def argument_spec():
    return dict(STACK_SPEC, **connection_spec())


def builtin_presets(directory=PRESETS_DIR):
    """The presets shipped with the role, by name."""
    presets = {}
    for path in sorted(Path(directory).glob("*.yml")):
        with open(path, encoding="utf-8") as handle:
            presets[path.stem] = yaml_load(handle)["ml_stack__preset"]
    return presets


def resolve_stack(args, presets=None):
    """The resolved stack (``problems`` first), as the filter ml_stack_resolve makes it."""
    options = {key: args.get(key) for key in ("state", "name_prefix", "preset", "endpoint", "presets", "pipelines",
                                              "text_field", "vector_field", "index", "index_method",
                                              "index_recreate", "delete_index")}
    options.update(scheme=args.get("endpoint_scheme"), has_api_key=bool(args.get("api_key")))
    return resolve(args["models"], builtin_presets() if presets is None else presets, options)


def input_problems(args):
    """Each option of the stack that does not fit its specification, in one short message naming the role
    variable (the connection options are the module's to check)."""
    problems = option_problems(args, STACK_SPEC, [name for name in STACK_SPEC if name != "connection_vars"])
    variables = args.get("connection_vars")
    if isinstance(variables, dict):
        spec = connection_spec()
        problems += option_problems(variables, spec, [name for name in spec if name in variables],
                                    variable=lambda name: "polarsearch_" + name, prefix="connection_vars.")
    return problems


def connection_problems(args):
    unknown = sorted(set(args.get("connection_vars") or {}) - set(connection_spec()))
    if not unknown:
        return []
    return ["connection_vars: unknown option(s) %s; the connection options are %s" % (
        ", ".join(unknown), ", ".join(sorted(connection_spec())))]


def connection_args(args):
    """The connection options of the task (module_defaults included), then each of ``connection_vars`` that is
    set and not empty over them: a role passes its variables there, since an omitted task option would also drop
    the value module_defaults gives it."""
    out = {key: args[key] for key in connection_spec() if args.get(key) is not None}
    out.update((key, value) for key, value in (args.get("connection_vars") or {}).items()
               if value is not None and value != "")
    return out


def module_args(args, stack):
    """What the module is called with: the stack, each entry's credential, the options set, the connection."""
    out = {"stack": stack, "credentials": [credential(entry, args.get("api_key")) for entry in args["models"]]}
    out.update((key, args[key]) for key in PASSED_ON if args.get(key) is not None)
    out.update(connection_args(args))
    return out


def problems_result(problems):
    return {"failed": True, "changed": False, "problems": problems,
            "msg": "ml_stack: %d problem(s) in the input: %s" % (len(problems), "; ".join(problems))}


def apply(args, execute, check_mode):
    """Run the stack: ``execute(module_args)`` calls polarsearch_ml_stack and returns its result.

    Bad input fails before the module runs. On success the result has the module's ``changed``, ``plan``,
    ``diff`` and ``resources``, the ``report`` (``rows``, ``drift``, ``table``) and the facts
    ``ml_stack_report`` and ``ml_stack_drift``; the report is written to ``report_path`` when set. A verify
    that fails after the converge still returns the report of the converge, and writes no file.
    """
    stack = resolve_stack(args)
    problems = stack["problems"] + connection_problems(args)
    if problems:
        return problems_result(problems)
    converged = execute(module_args(args, stack))
    out = {key: converged[key] for key in ("changed", "failed", "msg", "plan", "diff", "resources", "warnings",
                                           "deprecations", "status", "ids", "references", "exception")
           if key in converged}
    out.setdefault("changed", False)
    check_mode = converged.get("check_mode", check_mode)
    out["check_mode"] = check_mode
    if "resources" not in converged:
        return out
    built = report(stack, converged["resources"], check_mode)
    out["report"] = built
    if converged.get("failed"):
        return out
    out["ansible_facts"] = {"ml_stack_report": built["rows"], "ml_stack_drift": built["drift"]}
    if args.get("report_path"):
        write_report(args["report_path"], {"check_mode": check_mode, "drift": built["drift"],
                                           "resources": built["rows"], "plan": converged.get("plan") or []})
        out["report_path"] = args["report_path"]
    return out


def write_report(path, document):
    """The report as sorted, indented JSON; written whole (a reader never sees half a file)."""
    text = json.dumps(document, indent=4, sort_keys=True) + "\n"
    partial = "%s.%d.tmp" % (path, os.getpid())
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(partial, 0o644)
    os.replace(partial, path)
