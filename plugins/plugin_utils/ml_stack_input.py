# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ml_stack role's input: every model entry checked and resolved against its preset.

Nothing here talks to the server. The result carries no secret: API keys and credential
overrides stay in the role's variables and reach only the connector module's ``credential``.
"""

from __future__ import annotations

import re

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.names import MANAGED_GROUP_DESCRIPTION

from ansible_collections.polardb.polarsearch.plugins.module_utils.search.index_request import name_problem

KINDS = ("embedding", "rerank", "llm")
STATES = ("present", "deployed", "absent")
# What ML Commons accepts in model and connector names: letters, numbers, spaces and basic punctuation.
NAME_PATTERN = re.compile(r"^[\w .,!?():@/-]+$")
# [scheme://]host[:port][/base-path]; groups: scheme, host[:port], base path.
ENDPOINT_PATTERN = re.compile(
    r"^(?:(https?)://)?([A-Za-z0-9._~%-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?)(/[^\s?#]*)?$")
# connector_overrides keys that are not fields of the generated connector.
NOT_CONNECTOR_FIELDS = ("credential", "action")
# The search wiring: each pipeline, its type and the kinds of model it uses (its report row names the last).
PIPELINES = (
    ("embedding-ingest", "ingest", ("embedding",)),
    ("rerank-search", "search", ("rerank",)),
    ("rag-search", "search", ("rerank", "llm")),
)
# The description polarsearch_model recognises as a group this collection made, which it deletes with
# the last model in it; a group the user describes is the user's and stays.
GROUP_FIELDS = ("description", "access_mode", "backend_roles", "add_all_backend_roles")
# The vector field's method when ml_stack_index_method is not set.
INDEX_METHOD = {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}
RAG_PROMPT = "You are a helpful assistant. Answer the question from the search results; say so when they do not tell."


def merge(base, extra):
    """``extra`` over ``base``: dicts merged key by key (recursively), anything else replaced."""
    if not isinstance(base, dict) or not isinstance(extra, dict):
        return extra
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if key in out else value
    return out


def without_none(values):
    return {k: v for k, v in (values or {}).items() if v is not None}


def merge_presets(builtin, extra):
    """The built-in presets with ``ml_stack_presets`` merged over them, key by key."""
    return merge(dict(builtin or {}), dict(extra or {}))


def parse_endpoint(text):
    """(scheme or None, host[:port], base path without trailing slashes), or None when malformed."""
    match = ENDPOINT_PATTERN.match(text)
    if not match:
        return None
    return match.group(1), match.group(2), (match.group(3) or "").rstrip("/")


def endpoint_regex(url):
    """The trusted endpoint entry of a ``scheme://host[:port][/path]`` endpoint: anchored, escaped."""
    return "^" + re.escape(url) + "/.*$"


class Options:
    """The role variables that apply to every entry."""

    def __init__(self, options):
        options = options or {}
        self.state = options.get("state") or "deployed"
        self.prefix = options.get("name_prefix") or ""
        self.preset = options.get("preset") or "dashscope"
        self.endpoint = options.get("endpoint") or ""
        self.scheme = options.get("scheme") or "https"
        self.has_api_key = bool(options.get("has_api_key"))
        self.pipelines = bool(options.get("pipelines"))
        self.text_field = options.get("text_field") or "text"
        self.vector_field = options.get("vector_field") or "embedding"
        self.index = options.get("index") or ""
        self.index_method = options.get("index_method") or dict(INDEX_METHOD)
        self.index_recreate = bool(options.get("index_recreate"))
        self.delete_index = bool(options.get("delete_index"))


# The role variable of each option of polarsearch_ml_stack_apply: ml_stack_<option>, but for these.
ROLE_VARIABLES = {"endpoint_scheme": "ml_stack_scheme"}
GOOD_VALUES = {"models": "[{name: qwen-max, kind: llm}]", "models[]": "{name: qwen-max, kind: llm}",
               "presets": "{my_preset: {display_name: My service, kinds: {llm: {path: /v1/chat/completions}}}}",
               "index_method": "{name: hnsw, engine: lucene, space_type: cosinesimil}"}
BOOLEANS = ("true", "false", "yes", "no", "on", "off", "1", "0", "y", "n", "t", "f")


def role_variable(option):
    return ROLE_VARIABLES.get(option, "ml_stack_" + option)


def _example(option, spec):
    if option in GOOD_VALUES:
        return GOOD_VALUES[option]
    default = spec.get("default")
    if isinstance(default, bool):
        return "true" if default else "false"
    return default if default not in (None, "") else None


def _whole_number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r"^\s*-?[0-9]+\s*$", value):
        return int(value)
    return None


def _option_problem(option, value, spec):
    """What is wrong with one option's value, or None."""
    kind = spec.get("type", "str")
    example = _example(option, spec)
    such_as = "" if example is None else ", such as %s" % (example,)
    if spec.get("choices") is not None:
        if str(value) not in spec["choices"]:
            return "%r is not one of %s: give one of them%s" % (value, ", ".join(spec["choices"]), such_as)
        return None
    if kind == "int":
        number = _whole_number(value)
        if number is None:
            return "%r is not a whole number: give one%s" % (value, such_as)
        if number < 0:
            return "%s is a negative number of seconds: give 0 or more%s" % (number, such_as)
    elif kind == "float":
        try:
            float(value)
        except (TypeError, ValueError):
            return "%r is not a number: give a number of seconds, such as 30" % (value,)
    elif kind == "bool":
        if not isinstance(value, bool) and str(value).strip().lower() not in BOOLEANS:
            return "%r is not true or false: give true or false" % (value,)
    elif kind == "list":
        if not isinstance(value, list):
            return "%r is not a list: give a list%s" % (value, such_as)
    elif kind == "dict":
        if not isinstance(value, dict):
            return "%r is not a mapping: give a mapping%s" % (value, such_as)
    elif isinstance(value, (dict, list)):
        return "is a %s, not a text: give a text%s" % ("mapping" if isinstance(value, dict) else "list", such_as)
    return None


def option_problems(args, spec, options, variable=role_variable, prefix=""):
    """One short message per bad option among ``options``, each naming the role variable and the option
    (``prefix`` + its name)."""
    problems = []
    for option in options:
        value = args.get(option)
        if value is None or (prefix and value == ""):
            continue
        label = "%s (option %s%s)" % (variable(option), prefix, option)
        problem = _option_problem(option, value, spec[option])
        if problem:
            problems.append("%s: %s" % (label, problem))
        elif spec[option].get("elements") == "dict":
            for index, item in enumerate(value):
                if not isinstance(item, dict):
                    problems.append("%s[%d]: %r is not a mapping: give one, such as %s" % (
                        variable(option), index, item, GOOD_VALUES.get(option + "[]", "{}")))
    return problems


def entry_state(entry, options):
    return "absent" if options.state == "absent" else (entry.get("state") or options.state)


def check(models, presets, options):
    """Every problem of the input, at once; each names the entry and the fix."""
    if not isinstance(models, list):
        return ["ml_stack_models must be a list of models"]
    problems, names = [], []
    for index, entry in enumerate(models):
        entry = entry if isinstance(entry, dict) else {}
        what = "ml_stack_models[%d] (%s)" % (index, entry.get("name") or "no name")
        full = options.prefix + str(entry.get("name") or "")
        preset_name = entry.get("preset") or options.preset
        preset = presets.get(preset_name)
        kind = entry.get("kind") or ""
        state = entry_state(entry, options)
        endpoint = str(entry.get("endpoint") or options.endpoint or "").strip()
        overrides = entry.get("connector_overrides") or {}
        if not entry.get("name"):
            problems.append(what + ": name is required")
        elif not NAME_PATTERN.match(full):
            problems.append(what + ": the name %s may only contain letters, numbers, spaces and .,!?():@-_/" % full)
        elif full in names:
            problems.append(what + ": the name %s is used by another entry; names must be unique" % full)
        names.append(full)
        if kind not in KINDS:
            problems.append(what + ": kind must be one of %s, not %s" % (", ".join(KINDS), kind))
        if state not in STATES:
            problems.append(what + ": state must be present, deployed or absent, not %s" % state)
        if preset is None:
            problems.append(what + ": unknown preset %s; known presets: %s" % (preset_name, ", ".join(sorted(presets))))
        elif preset.get("custom"):
            if state != "absent" and not overrides.get("actions"):
                problems.append(what + ": the preset custom needs the whole connector in connector_overrides "
                                       "(at least actions)")
        elif kind in KINDS and not ((preset.get("kinds") or {}).get(kind) or {}).get("path"):
            problems.append(what + ": the preset %s has no connector template for kind %s" % (preset_name, kind))
        if parse_endpoint(endpoint) is None:
            problems.append(what + ": the endpoint %s is not host[:port][/path] or http(s)://host[:port][/path]; "
                                   "set endpoint or ml_stack_endpoint" % (endpoint or "(empty)"))
        if entry.get("model_group") is not None and (entry.get("model_overrides") or {}).get("model_group"):
            problems.append(what + ": model_group and model_overrides.model_group both name a group; set the group "
                                   "in model_group only")
        if state != "absent" and not (entry.get("api_key") or options.has_api_key or overrides.get("credential")):
            problems.append(what + ": no API key; set ml_stack_api_key (or ML_STACK_API_KEY in the environment) "
                                   "or the entry api_key")
    return problems


def group_of(entry, options):
    """The model group an entry declares (``model_group``), with the role's defaults, or None."""
    declared = entry.get("model_group")
    if not isinstance(declared, dict):
        return None
    group = {"name": declared.get("name") or options.prefix + str(entry.get("name") or ""),
             "description": declared.get("description") or MANAGED_GROUP_DESCRIPTION}
    group.update((k, declared[k]) for k in GROUP_FIELDS[1:] if declared.get(k) is not None)
    return group


def group_problems(models, options):
    """Entries that declare one group must declare it alike."""
    if not isinstance(models, list):
        return []
    seen, problems = {}, []
    for index, entry in enumerate(models):
        group = group_of(entry, options) if isinstance(entry, dict) else None
        if group is None:
            continue
        if group["name"] in seen and seen[group["name"]][1] != group:
            problems.append("ml_stack_models[%d] (%s): model_group %s is declared by ml_stack_models[%d] too, with "
                            "other fields; declare it alike in both entries" % (
                                index, entry.get("name"), group["name"], seen[group["name"]][0]))
        seen.setdefault(group["name"], (index, group))
    return problems


def resolve_groups(resolved):
    """The declared groups, once each, with the first model in them (for the report) and their state: a
    group stays while one of its models stays."""
    groups = {}
    for entry in resolved:
        if entry.get("group"):
            group = groups.setdefault(entry["group"]["name"], dict(entry["group"], model=entry["name"], state="absent"))
            if entry["state"] != "absent":
                group["state"] = "present"
    return list(groups.values())


def pipeline_problems(models, options):
    """With ``ml_stack_pipelines``, each pipeline needs a model of its kinds that stays."""
    if not options.pipelines or options.state == "absent" or not isinstance(models, list):
        return []
    staying = {m.get("kind") for m in models if isinstance(m, dict) and entry_state(m, options) != "absent"}
    problems = []
    for suffix, _type, kinds in PIPELINES:
        for kind in kinds:
            if kind not in staying:
                problems.append("ml_stack_pipelines: the pipeline %s%s needs a model of kind %s that is not absent; "
                                "add one to ml_stack_models or set ml_stack_pipelines to false"
                                % (options.prefix, suffix, kind))
    return problems


def index_problems(options):
    """The stack's index takes the ingest pipeline as its default pipeline, so it needs the pipelines."""
    if not options.index:
        return []
    problem = name_problem(options.index, "ml_stack_index")
    if problem:
        return [problem]
    if options.state == "absent" or options.pipelines:
        return []
    return ["ml_stack_index: the index %s takes the stack's ingest pipeline as its default pipeline, so it needs "
            "ml_stack_pipelines: true; set ml_stack_pipelines to true, or ml_stack_index to ''" % options.index]


def pipeline_definition(suffix, models, options):
    """The pipeline body, with models referenced by name ({model: NAME}), which polarsearch_pipeline resolves."""
    text, vector = options.text_field, options.vector_field
    if suffix == "embedding-ingest":
        return {"description": "Embeds %s into %s with %s" % (text, vector, models["embedding"]),
                "processors": [{"text_embedding": {"model_id": {"model": models["embedding"]},
                                                   "field_map": {text: vector}}}]}
    rerank = {"rerank": {"ml_opensearch": {"model_id": {"model": models["rerank"]}},
                         "context": {"document_fields": [text]}}}
    if suffix == "rerank-search":
        return {"description": "Reranks the hits by %s with %s" % (text, models["rerank"]),
                "response_processors": [rerank]}
    return {"description": "Reranks the hits with %s and answers from them with %s" % (models["rerank"], models["llm"]),
            "response_processors": [rerank, {"retrieval_augmented_generation": {
                "tag": options.prefix + suffix, "description": "Answers from the reranked hits",
                "model_id": {"model": models["llm"]}, "context_field_list": [text], "system_prompt": RAG_PROMPT}}]}


def resolve_pipelines(resolved, options):
    """The stack's pipelines, each with the model whose report row it belongs to, or none."""
    if not options.pipelines:
        return []
    absent = options.state == "absent"
    first = {}
    for entry in resolved:
        if entry["state"] != "absent" or absent:
            first.setdefault(entry["kind"], entry["name"])
    out = []
    for suffix, kind, kinds in PIPELINES:
        if not all(k in first for k in kinds):
            continue  # only on teardown, where a pipeline without its models is still deleted by name
        out.append({"name": options.prefix + suffix, "type": kind, "model": first[kinds[-1]],
                    "state": "absent" if absent else "present",
                    "definition": pipeline_definition(suffix, first, options)})
    return out


def resolve_index(resolved, pipelines, options):
    """The stack's k-NN index, or None. Present: its fields, the embedding model whose predict gives the vector
    dimension, and the ingest pipeline it takes as default pipeline. Absent: deleted only with ``delete_index``
    (and, by polarsearch_ml_stack, only when the collection created it)."""
    if not options.index:
        return None
    out = {"name": options.index, "vector_field": options.vector_field}
    if options.state == "absent":
        embedding = next((m for m in resolved if m["kind"] == "embedding"), None)
        return dict(out, state="absent", model=embedding["name"] if embedding else "", delete=options.delete_index)
    embedding = next(m for m in resolved if m["kind"] == "embedding" and m["state"] != "absent")
    ingest = next(p for p in pipelines if p["type"] == "ingest" and p["state"] == "present")
    return dict(out, state="present", model=embedding["name"], verify=embedding["verify"], pipeline=ingest["name"],
                text_field=options.text_field, method=options.index_method, recreate=options.index_recreate)


def predict_action(scheme, preset, template, overrides):
    action = {
        "action_type": "predict",
        "method": "POST",
        "url": "%s://${parameters.endpoint}%s" % (scheme, template.get("path") or ""),
        "headers": merge(dict(preset.get("headers") or {}), dict(template.get("headers") or {})),
    }
    for field in ("request_body", "pre_process_function", "post_process_function"):
        if template.get(field):
            action[field] = template[field]
    action.update(overrides.get("action") or {})
    return action


def resolve_entry(index, entry, presets, options):
    preset_name = entry.get("preset") or options.preset
    preset = presets[preset_name]
    kind = entry["kind"]
    template = (preset.get("kinds") or {}).get(kind) or {}
    scheme, host_port, path = parse_endpoint(str(entry.get("endpoint") or options.endpoint).strip())
    scheme = (scheme or options.scheme).lower()
    endpoint = host_port + path
    name = options.prefix + entry["name"]
    model = entry.get("model") or template.get("model") or entry["name"]
    display_name = preset.get("display_name") or preset_name
    overrides = without_none(entry.get("connector_overrides"))

    connector = {
        "name": name + "-connector",
        "description": "%s %s connector for %s" % (display_name, kind, model),
        "version": "1",
        "protocol": "http",
        "parameters": merge({"endpoint": endpoint, "model": model}, dict(template.get("parameters") or {})),
    }
    if not preset.get("custom"):
        connector["actions"] = [predict_action(scheme, preset, template, overrides)]
    connector = merge(connector, {k: v for k, v in overrides.items() if k not in NOT_CONNECTOR_FIELDS})
    model_options = merge({"description": "%s %s model %s" % (display_name, kind, model)},
                          without_none(entry.get("model_overrides")))
    group = group_of(entry, options)
    if group:
        model_options["model_group"] = group["name"]
    url = "%s://%s" % (scheme, endpoint)
    return {
        "index": index,
        "entry": entry["name"],
        "name": name,
        "kind": kind,
        "preset": preset_name,
        "state": entry_state(entry, options),
        "endpoint": url,
        "regex": endpoint_regex(url),
        "connector": connector,
        "model_options": model_options,
        "verify": entry.get("verify_parameters") or template.get("verify") or {},
        "group": group,
    }


def resolve(models, builtin_presets, options):
    """``{problems, models, present, deployed, absent, groups, groups_present, pipelines, pipelines_present,
    pipelines_absent, removed_first, index}``: with problems, nothing is resolved. ``removed_first`` names the
    pipelines a teardown deletes before the models, as polarsearch_model's ``removed_first`` takes them."""
    opts = Options(options)
    presets = merge_presets(builtin_presets, (options or {}).get("presets"))
    problems = (check(models, presets, opts) + group_problems(models, opts) + pipeline_problems(models, opts)
                + index_problems(opts))
    resolved = [] if problems else [resolve_entry(i, m, presets, opts) for i, m in enumerate(models)]
    pipelines = resolve_pipelines(resolved, opts)
    groups = resolve_groups(resolved)
    return {
        "problems": problems,
        "models": resolved,
        "pipelines": pipelines,
        "pipelines_present": [p for p in pipelines if p["state"] == "present"],
        "pipelines_absent": [p for p in pipelines if p["state"] == "absent"],
        "removed_first": [{"kind": "%s_pipeline" % p["type"], "name": p["name"]}
                          for p in pipelines if p["state"] == "absent"],
        "present": [m for m in resolved if m["state"] != "absent"],
        "deployed": [m for m in resolved if m["state"] == "deployed"],
        "absent": [m for m in resolved if m["state"] == "absent"],
        "groups": groups,
        "groups_present": [g for g in groups if g["state"] == "present"],
        "index": None if problems else resolve_index(resolved, pipelines, opts),
    }


def credential(entry, default_api_key):
    """The connector credential of one ``ml_stack_models`` entry: ``{api_key}`` and the overrides' keys."""
    key = entry.get("api_key") or default_api_key or ""
    out = {"api_key": key} if key else {}
    out.update((entry.get("connector_overrides") or {}).get("credential") or {})
    return out
