# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Export: the ML Commons stack a cluster holds, as the tasks of this collection's modules.

The cluster is read once per kind (the cluster settings, every connector, model group and remote
model, the ingest and the search pipelines, and optionally the index settings and the indexes whose
default pipeline is one of the pipelines exported). The objects are mapped to module options by the
readers the info modules use (``info.connector_entry``, ``info.model_entry``), so an exported task
takes exactly the options its module takes. Nothing secret is read or returned: each connector's
credential becomes a variable reference.
"""

from __future__ import annotations

import os
import re

from ansible.module_utils.common.warnings import warn
from ansible.module_utils.common.yaml import HAS_YAML, yaml_dump, yaml_load

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import snapshot
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import PolarSearchError
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import ModuleFailure
from ansible_collections.polardb.polarsearch.plugins.module_utils.connector.connector_record import Connector
from ansible_collections.polardb.polarsearch.plugins.module_utils.stack.info import (
    MODEL_READ_ONLY,
    REMOTE,
    connector_entry,
    model_entry,
    search_all,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import is_deployed, model_view
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model_group import access_control_on, group_view
from ansible_collections.polardb.polarsearch.plugins.module_utils.search.pipeline import (
    MAP_OF_MODEL_IDS,
    REFERENCE_KEY,
    holds_model_id,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.core.settings import read_settings

COLLECTION = "polardb.polarsearch."
TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"
PRIVATE_IP = "plugins.ml_commons.connector.private_ip_enabled"
PIPELINE_PATHS = (("ingest", "_ingest/pipeline"), ("search", "_search/pipeline"))
INDEX_PIPELINE_SETTINGS = ("index.default_pipeline", "index.search.default_pipeline")
# Index settings the server sets itself: never options of polarsearch_index.
SERVER_INDEX_SETTINGS = ("index.uuid", "index.creation_date", "index.provided_name", "index.version.created",
                         "index.version.upgraded", "index.history.uuid", "index.resize.source.name",
                         "index.resize.source.uuid", "index.routing.allocation.initial_recovery._id")
CREDENTIAL_REF = re.compile(r"\$\{credential\.([A-Za-z0-9_]+)\}")
PARAMETER_REF = re.compile(r"\$\{parameters\.([A-Za-z0-9_.]+)\}")
# The variable that makes the exported connector tasks send a credential once (see docs/export.md).
CREDENTIAL_UPDATE_VAR = "polarsearch_credential_update"
CONNECTION_OPTIONS = ("host", "scheme", "username", "password", "user_password", "validate_certs", "ca_path",
                      "client_cert", "client_key", "timeout", "connect_timeout", "retries")
AWS_CREDENTIAL_KEYS = ("access_key", "secret_key")


# -- selection -----------------------------------------------------------------------------
class Selection:
    """Which names are exported: those with ``name_prefix`` and matching ``name_pattern`` (a regex
    searched in the name), or every name when neither is set."""

    def __init__(self, prefix=None, pattern=None):
        self.prefix = prefix or ""
        try:
            self.pattern = re.compile(pattern) if pattern else None
        except re.error as exc:
            raise ModuleFailure("name_pattern %r is not a valid regular expression (%s): correct it" % (pattern, exc))

    @property
    def everything(self):
        return not self.prefix and self.pattern is None

    def __call__(self, name):
        name = name or ""
        return name.startswith(self.prefix) and (self.pattern is None or bool(self.pattern.search(name)))


# -- reading -------------------------------------------------------------------------------
def read_cluster(client, include_indexes):
    """Everything an export needs, one read per kind."""
    data = {"settings": read_settings(client)}
    data["connectors"] = [Connector.from_source(h["_id"], h["_source"])
                          for h in search_all(client, "connectors", {"match_all": {}})]
    data["groups"] = [group_view(h["_id"], h["_source"]) for h in search_all(client, "model_groups", {"match_all": {}})]
    data["models"] = [model_view(h["_id"], h["_source"])
                      for h in search_all(client, "models", {"bool": {"filter": [REMOTE]}})]
    data["pipelines"] = {}
    for kind, path in PIPELINE_PATHS:
        answer = client.get(path, missing_ok=True)
        data["pipelines"][kind] = answer if isinstance(answer, dict) else {}
    data["index_settings"] = {}
    if include_indexes:
        answer = client.get("_settings/%s" % ",".join(INDEX_PIPELINE_SETTINGS), params={"flat_settings": "true"},
                            missing_ok=True)
        data["index_settings"] = answer if isinstance(answer, dict) else {}
    return data


def read_indexes(client, names):
    """The mappings and settings of the indexes ``names``, with one GET; ``None`` when the user may not
    read them (a user may see an index's settings without ``indices:admin/get``: the secure profile's ML
    users, docs/local-cluster.md)."""
    if not names:
        return {}
    try:
        answer = client.get(",".join(names), params={"flat_settings": "true"}, missing_ok=True)
    except PolarSearchError as exc:
        if exc.status != 403:
            raise
        return None
    return answer if isinstance(answer, dict) else {}


# -- helpers -------------------------------------------------------------------------------
def slug(text):
    """A valid Ansible variable name made of ``text``."""
    out = re.sub(r"[^a-z0-9]+", "_", (text or "").lower()).strip("_")
    return out if out and not out[0].isdigit() else "connector_" + out if out else "connector"


def unique_names(items, key):
    """{name: count} of the names of ``items``."""
    counts = {}
    for item in items:
        name = key(item)
        counts[name] = counts.get(name, 0) + 1
    return counts


def credential_keys(connector):
    """The credential keys a connector's templates use (``${credential.KEY}``), in order."""
    if connector.protocol == "aws_sigv4":
        return list(AWS_CREDENTIAL_KEYS)
    texts = [str(connector.headers or {})]
    for action in connector.actions or []:
        texts.extend([str(action.get("headers") or {}), str(action.get("url") or ""),
                      str(action.get("request_body") or "")])
    keys = []
    for text in texts:
        for key in CREDENTIAL_REF.findall(text):
            if key not in keys:
                keys.append(key)
    return keys


def connector_urls(connector):
    """The URLs a connector calls, with its parameters filled in."""
    params = connector.parameters or {}
    urls = [connector.url] if connector.url else []
    urls.extend(a.get("url") for a in connector.actions or [] if a.get("url"))
    return [PARAMETER_REF.sub(lambda m: str(params.get(m.group(1), m.group(0))), url) for url in urls]


def regex_matches(pattern, url):
    try:
        return re.fullmatch(pattern, url) is not None
    except re.error:
        return False


def explicit(settings, key):
    """(scope, value) of a setting set on the cluster (transient first, as the server applies it), or None."""
    for scope in ("transient", "persistent"):
        if key in settings.get(scope, {}):
            return scope, settings[scope][key]
    return None


def task(module, name, options):
    return {"name": name, COLLECTION + module: options}


# -- the export ----------------------------------------------------------------------------
class Export:
    def __init__(self, params, data, client=None, select=None):
        self.params = params
        self.client = client
        self.data = data
        self.select = select or Selection(params.get("name_prefix"), params.get("name_pattern"))
        self.notes = []
        self.warnings = []
        self.credentials = []
        self.tasks = []
        self.connectors = sorted(data["connectors"], key=lambda c: (c.name or "", c.connector_id))
        self.groups = sorted(data["groups"], key=lambda g: (g.get("name") or "", g["model_group_id"]))
        self.models = sorted(data["models"], key=lambda m: (m.get("name") or "", m["model_id"]))
        self.connector_count = unique_names(self.connectors, lambda c: c.name)
        self.model_count = unique_names(self.models, lambda m: m.get("name"))
        self.connector_by_id = {c.connector_id: c for c in self.connectors}
        self.group_by_id = {g["model_group_id"]: g for g in self.groups}
        self.deployed_by_connector = {}
        for model in self.models:
            if is_deployed(model):   # as polarsearch_connector counts a connector's deployed models
                self.deployed_by_connector.setdefault(model.get("connector_id"), []).append(model)

    def note(self, kind, name, object_id, text, warn=False):
        self.notes.append({"kind": kind, "name": name, "id": object_id, "note": text})
        if warn:
            self.warnings.append("%s %r%s: %s" % (kind, name, " (%s)" % object_id if object_id else "", text))

    # -- what is exported
    def selected(self):
        models = [m for m in self.models if self.select(m.get("name"))]
        connector_ids = {c.connector_id for c in self.connectors if self.select(c.name)}
        group_ids = {g["model_group_id"] for g in self.groups if self.select(g.get("name"))}
        for model in models:
            cid, gid = model.get("connector_id"), model.get("model_group_id")
            if cid in self.connector_by_id and cid not in connector_ids:
                connector_ids.add(cid)
                self.note("connector", self.connector_by_id[cid].name, cid,
                          "exported because model %r uses it, although its name is not selected" % model.get("name"))
            if gid in self.group_by_id and gid not in group_ids:
                group_ids.add(gid)
                self.note("model_group", self.group_by_id[gid].get("name"), gid,
                          "exported because model %r is in it, although its name is not selected" % model.get("name"))
        connectors = [c for c in self.connectors if c.connector_id in connector_ids]
        groups = [g for g in self.groups if g["model_group_id"] in group_ids]
        return connectors, groups, models

    def run(self):
        connectors, groups, models = self.selected()
        if connectors or self.select.everything:
            self.settings_task(connectors)
        for connector in connectors:
            self.connector_task(connector)
        access_control = access_control_on(self.client) if groups and self.client is not None else False
        for group in groups:
            self.group_task(group, access_control)
        for model in models:
            self.model_task(model)
        pipelines = self.pipeline_tasks()
        if self.params.get("include_indexes"):
            self.index_tasks(pipelines)
        if not (connectors or groups or models or pipelines["ingest"] or pipelines["search"]):
            self.note("selection", self.params.get("name_prefix") or self.params.get("name_pattern") or "", None,
                      "no connector, model group, model or pipeline visible to this user is selected: "
                      "nothing to export")
        return connectors, models

    def settings_task(self, connectors):
        settings = self.data["settings"]
        options = {}
        trusted = explicit(settings, TRUSTED)
        if trusted is not None:
            scope, entries = trusted
            entries = entries if isinstance(entries, list) else [entries]
            if not self.select.everything:
                urls = [url for c in connectors for url in connector_urls(c)]
                entries = [e for e in entries if any(regex_matches(e, url) for url in urls)]
            if entries:
                options.setdefault(scope, {})[TRUSTED] = list(entries)
        private = explicit(settings, PRIVATE_IP)
        if private is not None:
            scope, value = private
            options.setdefault(scope, {})[PRIVATE_IP] = str(value).lower() == "true"
        if options:
            self.tasks.append(task("polarsearch_cluster_settings", "Trusted connector endpoints", options))

    def connector_task(self, connector):
        cid, name = connector.connector_id, connector.name
        options = {"name": name}
        if self.connector_count.get(name, 0) > 1:
            options["connector_id"] = cid
            self.note("connector", name, cid, "%d connectors are named %r: the task names its ID"
                      % (self.connector_count[name], name))
        entry = connector_entry(connector)
        entry.pop("connector_id", None)
        entry.pop("name", None)
        if not entry.get("parameters"):
            entry.pop("parameters", None)
        options.update(entry)
        keys = credential_keys(connector)
        if keys:
            base = slug(name)
            taken = {c["variable"] for c in self.credentials}
            if any("%s_%s" % (base, slug(k)) in taken for k in keys):
                base = "%s_%s" % (base, slug(cid))
            credential = {}
            for key in keys:
                variable = "%s_%s" % (base, re.sub(r"[^a-z0-9_]", "_", key.lower()))
                credential[key] = "{{ %s }}" % variable
                self.credentials.append({"variable": variable, "connector": name, "connector_id": cid, "key": key})
            options["credential"] = credential
            deployed = self.deployed_by_connector.get(cid)
            if not connector.fingerprint and deployed:
                options["credential_update"] = "{{ %s | default('on_change') }}" % CREDENTIAL_UPDATE_VAR
                self.note("connector", name, cid, "made outside the collection (no credential fingerprint) and used "
                          "by deployed model(s) %s: the first runs keep it as it is (credential_compared: false); "
                          "to send a new credential, run once with -e %s=always (a replace without downtime)"
                          % (", ".join(sorted(m.get("name") or m["model_id"] for m in deployed)), CREDENTIAL_UPDATE_VAR))
            elif not connector.fingerprint:
                self.note("connector", name, cid, "made outside the collection (no credential fingerprint): the "
                          "first run writes the credential and its fingerprint in place (the ID stays)")
        else:
            self.note("connector", name, cid, "no ${credential.*} reference: no credential exported")
        self.tasks.append(task("polarsearch_connector", "Connector %s" % name, options))

    def group_task(self, group, access_control):
        options = {"name": group.get("name")}
        if group.get("description") is not None:
            options["description"] = group["description"]
        if access_control:
            for field in ("access_mode", "backend_roles"):
                if group.get(field) is not None:
                    options[field] = group[field]
        self.tasks.append(task("polarsearch_model_group", "Model group %s" % group.get("name"), options))

    def model_task(self, model):
        mid, name = model["model_id"], model.get("name")
        connector_names = {c.connector_id: c.name for c in self.connectors if self.connector_count.get(c.name) == 1}
        group_names = {g["model_group_id"]: g.get("name") for g in self.groups}
        entry = model_entry(model, connector_names, group_names)
        options = {"name": name}
        if self.model_count.get(name, 0) > 1:
            options["model_id"] = mid
            self.note("model", name, mid, "%d models are named %r: the task names its ID"
                      % (self.model_count[name], name))
        for key in ("description", "connector", "model_group", "interface", "is_enabled", "rate_limiter",
                    "guardrails"):
            if entry.get(key) is not None:
                options[key] = entry[key]
        cid = entry.get("connector_id")
        if "connector" not in options and cid:
            options["connector_id"] = cid
            if cid not in self.connector_by_id:
                self.note("model", name, mid, "its connector %s does not exist (or is not visible): the task keeps "
                          "connector_id; the model cannot answer until it uses a connector that exists" % cid,
                          warn=True)
            else:
                self.note("model", name, mid, "its connector's name %r is not unique: the task names connector_id"
                          % self.connector_by_id[cid].name)
        if "model_group" not in options and model.get("model_group_id"):
            self.note("model", name, mid, "its model group %s is not visible: the task leaves the group alone"
                      % model["model_group_id"])
        options["state"] = entry["state"]
        for key in MODEL_READ_ONLY:
            options.pop(key, None)
        self.tasks.append(task("polarsearch_model", "Model %s" % name, options))

    # -- pipelines
    def model_reference(self, model_id, kind, pipeline, where):
        if not isinstance(model_id, str):
            return model_id
        names = [m.get("name") for m in self.models if m["model_id"] == model_id]
        if names and self.model_count.get(names[0]) == 1:
            return {REFERENCE_KEY: names[0]}
        why = ("model %s does not exist (or is not visible)" % model_id if not names else
               "%d models are named %r" % (self.model_count[names[0]], names[0]))
        self.note("%s_pipeline" % kind, pipeline, None, "%s refers to model %s by ID: %s" % (where, model_id, why),
                  warn=True)
        return model_id

    def by_name(self, value, kind, pipeline, path=""):
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                where = "%s.%s" % (path, key) if path else str(key)
                if holds_model_id(str(key)) and isinstance(item, str):
                    out[key] = self.model_reference(item, kind, pipeline, where)
                elif key in MAP_OF_MODEL_IDS and isinstance(item, dict):
                    out[key] = {f: self.model_reference(v, kind, pipeline, "%s.%s" % (where, f)) for f, v in item.items()}
                else:
                    out[key] = self.by_name(item, kind, pipeline, where)
            return out
        if isinstance(value, list):
            return [self.by_name(v, kind, pipeline, "%s[%d]" % (path, i)) for i, v in enumerate(value)]
        return value

    def pipeline_tasks(self):
        exported = {}
        for kind, _path in PIPELINE_PATHS:
            names = sorted(n for n in self.data["pipelines"][kind] if self.select(n))
            exported[kind] = names
            for name in names:
                definition = self.by_name(self.data["pipelines"][kind][name], kind, name)
                self.tasks.append(task("polarsearch_pipeline", "%s pipeline %s" % (kind.capitalize(), name),
                                       {"name": name, "type": kind, "definition": definition}))
        return exported

    # -- indexes
    def index_names(self, pipelines):
        names = []
        for index, body in sorted(self.data["index_settings"].items()):
            flat = (body or {}).get("settings") or {}
            if flat.get("index.default_pipeline") in pipelines["ingest"] or \
                    flat.get("index.search.default_pipeline") in pipelines["search"]:
                names.append(index)
        return names

    def index_tasks(self, pipelines):
        names = self.index_names(pipelines)
        if not names:
            return
        found = read_indexes(self.client, names)
        if found is None:
            for name in names:
                self.note("index", name, None, "its default pipeline is exported, but this user may not read the "
                          "index (indices:admin/get): not exported", warn=True)
            return
        for name in names:
            if name not in found:
                continue
            body = found[name] or {}
            settings = {k: v for k, v in ((body.get("settings") or {}).items()) if k not in SERVER_INDEX_SETTINGS}
            options = {"name": name}
            if body.get("mappings"):
                options["mappings"] = body["mappings"]
            if settings:
                options["settings"] = dict(sorted(settings.items()))
            self.tasks.append(task("polarsearch_index", "Index %s" % name, options))


# -- the ml_stack role's shape -------------------------------------------------------------
def load_presets(directory):
    """The role's presets (``<name>.yml`` files holding ``ml_stack__preset``), by name."""
    presets = {}
    if not directory or not os.path.isdir(directory):
        return presets
    for filename in sorted(os.listdir(directory)):
        if filename.endswith(".yml"):
            with open(os.path.join(directory, filename)) as handle:
                presets[filename[:-4]] = (yaml_load(handle) or {}).get("ml_stack__preset") or {}
    return presets


def match_preset(presets, connector):
    """(preset, kind, scheme, template) whose predict action the connector's action is, or None."""
    action = connector.actions[0]
    for preset_name, preset in sorted(presets.items()):
        if preset.get("custom"):
            continue
        for kind, template in sorted((preset.get("kinds") or {}).items()):
            for scheme in ("https", "http"):
                if action.get("url") != "%s://${parameters.endpoint}%s" % (scheme, template.get("path") or ""):
                    continue
                headers = dict(preset.get("headers") or {}, **(template.get("headers") or {}))
                if (action.get("headers") or {}) == headers and all(
                        (action.get(f) or None) == (template.get(f) or None)
                        for f in ("request_body", "pre_process_function", "post_process_function")):
                    return preset_name, kind, scheme, template
    return None


def role_entry(model, connector, presets, group_names, default_preset="dashscope"):
    """(``ml_stack_models`` entry, None) when the model and its connector have the role's shape, else
    (None, [reasons])."""
    name = model.get("name") or ""
    reasons = []
    if connector is None:
        return None, ["its connector %s does not exist (or is not visible)" % model.get("connector_id")]
    if connector.name != name + "-connector":
        reasons.append("its connector is named %r; the role names it %r" % (connector.name, name + "-connector"))
    if (connector.protocol or "http") != "http":
        reasons.append("its connector's protocol is %s; the role makes http connectors" % connector.protocol)
    if len(connector.actions or []) != 1 or (connector.actions[0].get("action_type") or "").upper() != "PREDICT" \
            or (connector.actions[0].get("method") or "").upper() != "POST":
        reasons.append("its connector does not have exactly one POST predict action, as the role's presets make")
        return None, reasons
    found = match_preset(presets, connector)
    if found is None:
        reasons.append("its connector's action (URL path, headers, request body, pre/post-process functions) is "
                       "none of the presets' %s" % ", ".join(sorted(presets)) if presets else
                       "no presets were given (role_presets_dir)")
        return None, reasons
    preset_name, kind, scheme, template = found
    params = dict(connector.parameters or {})
    endpoint, model_param = params.pop("endpoint", None), params.pop("model", None)
    if not endpoint or not model_param:
        reasons.append("its connector lacks the parameters endpoint and model the role sets")
    extra = dict(template.get("parameters") or {})
    if {k: str(v) for k, v in params.items()} != {k: str(v) for k, v in extra.items()}:
        reasons.append("its connector's parameters other than endpoint and model (%s) differ from the preset's (%s)"
                       % (", ".join(sorted(params)) or "none", ", ".join(sorted(extra)) or "none"))
    if connector.client_config:
        reasons.append("its connector sets client_config, which the role does not compare")
    group = group_names.get(model.get("model_group_id"))
    if group != name:
        reasons.append("it is in model group %r; the role puts it in the group named after the model" % group)
    if reasons:
        return None, reasons
    display = (presets[preset_name].get("display_name") or preset_name)
    entry = {"name": name, "kind": kind}
    if preset_name != default_preset:
        entry["preset"] = preset_name
    entry["endpoint"] = "%s://%s" % (scheme, endpoint)
    if model_param != (template.get("model") or name):
        entry["model"] = model_param
    description = "%s %s connector for %s" % (display, kind, model_param)
    if connector.description != description:
        entry["connector_overrides"] = {"description": connector.description}
    if model.get("description") != "%s %s model %s" % (display, kind, model_param):
        entry["model_overrides"] = {"description": model.get("description")}
    entry["state"] = "deployed" if model.get("model_state") == "DEPLOYED" else "present"
    return entry, None


def role_entries(export, connectors, models, presets):
    group_names = {g["model_group_id"]: g.get("name") for g in export.groups}
    entries, unmatched = [], []
    for model in models:
        connector = export.connector_by_id.get(model.get("connector_id"))
        entry, reasons = role_entry(model, connector, presets, group_names)
        if entry is not None:
            entries.append(entry)
        else:
            unmatched.append({"model": model.get("name"), "model_id": model["model_id"], "reasons": reasons})
    return entries, unmatched


# -- rendering -----------------------------------------------------------------------------
def connection_defaults():
    return {option: "{{ polarsearch_%s | default(omit) }}" % option for option in CONNECTION_OPTIONS}


def render_playbook(tasks, credentials, notes):
    """The exported playbook as YAML text: the same text for the same input."""
    play = {
        "name": "PolarSearch ML stack",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
    }
    if credentials:
        play["vars_files"] = ["credentials.yml"]
    play["vars"] = {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    play["module_defaults"] = {"group/polardb.polarsearch.polarsearch": connection_defaults()}
    play["tasks"] = tasks
    lines = ["---",
             "# The ML Commons stack of a PolarSearch cluster, exported by polardb.polarsearch.export.",
             "# Fill in credentials.yml (or vault it), then: ansible-playbook playbook.yml --check --diff",
             "# The connection comes from the polarsearch_* variables or the POLARSEARCH_* environment.",
             "# See docs/export.md: the first run of a stack made by hand changes only credentials."]
    for note in notes:
        where = " (%s)" % note["id"] if note.get("id") else ""
        lines.append("# note: %s %s%s: %s" % (note["kind"], note["name"], where, note["note"]))
    return "\n".join(lines) + "\n" + dump([play])


def render_credentials(credentials):
    lines = ["---", "# The credentials the exported playbook sends: fill in each value (or vault this file).",
             "# Nothing is read back from the cluster: the server never returns a credential."]
    if not credentials:
        return "\n".join(lines) + "\n{}\n"
    body = dump({c["variable"]: "" for c in sorted(credentials, key=lambda c: c["variable"])})
    return "\n".join(lines) + "\n" + body


def dump(value):
    if not HAS_YAML:
        raise ModuleFailure("the Python module yaml (PyYAML) is needed to render the playbook: install it")
    return yaml_dump(value, default_flow_style=False, sort_keys=False, allow_unicode=True, width=100)


def export_stack(params, context):
    """The module: read, map, render."""
    client = context.client
    select = Selection(params.get("name_prefix"), params.get("name_pattern"))   # a bad pattern fails first
    if snapshot.of(client) is None:
        snapshot.attach(client)   # the settings are read once, for the export and the access check
    data = read_cluster(client, params.get("include_indexes"))
    export = Export(params, data, client, select)
    connectors, models = export.run()
    presets = load_presets(params.get("role_presets_dir"))
    entries, unmatched = role_entries(export, connectors, models, presets)
    credentials = sorted(export.credentials, key=lambda c: c["variable"])
    result = {
        "changed": False,
        "tasks": export.tasks,
        "credentials": credentials,
        "notes": export.notes,
        "ml_stack_models": entries,
        "ml_stack_unmatched": unmatched,
        "playbook": render_playbook(export.tasks, credentials, export.notes),
        "credentials_file": render_credentials(credentials),
    }
    for message in export.warnings:
        warn(message)
    return result
