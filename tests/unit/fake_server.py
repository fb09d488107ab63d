# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An in-memory ML Commons and cluster settings REST server for unit tests.

It answers at the ``requests`` boundary: :meth:`FakeServer.install` replaces
``requests.Session.request`` so that every request the collection sends is
handled here, recorded (method, path, params, body) and answered with a real
``requests.Response``.

The behaviour follows the ML Commons REST reference (OpenSearch 2.16+ / 3.x):
connector parameters are stored as strings, the credential is never returned,
connector PUT merges parameters key by key and is refused while a deployed model
uses the connector, deleting a referenced connector gives 409, a missing
connector 404 with ``"result":"not_found"``, model register is synchronous and
auto-creates a model group named after the model, ``_deploy`` answers
``COMPLETED`` before the deploy has finished, ``_predict`` deploys a model that
is not deployed yet (auto-deploy), and so on.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import random
import re
import string
from collections import namedtuple
from urllib.parse import unquote, urlsplit

import requests

from ansible_collections.polardb.polarsearch.plugins.module_utils.core import server_rules
from ansible_collections.polardb.polarsearch.plugins.module_utils.core import settings as settings_rules

ML = "_plugins/_ml"
ADMIN_PASSWORD = "Adm1n-Pa55word-7391"
CONNECTION = {"host": "search.example.com:9200", "user_password": "admin:" + ADMIN_PASSWORD}
NODE_ID = "nd1Xq0TzS8aH3bLk9PqR2w"
DUPLICATE_DEPLOY = "Duplicate deploy model task"

DEFAULT_TRUSTED = [
    r"^https://runtime\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$",
    r"^https://api\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$",
    r"^https://api\.openai\.com/.*$",
    r"^https://api\.cohere\.ai/.*$",
    r"^https://api\.deepseek\.com/.*$",
    r"^https://generativelanguage\.googleapis\.com/.*$",
    r"^https://bedrock-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$",
    r"^https://bedrock-agent-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$",
    r"^https://bedrock\..*[a-z0-9-]\.amazonaws\.com/.*$",
    r"^https://textract\..*[a-z0-9-]\.amazonaws\.com$",
    r"^https://comprehend\..*[a-z0-9-]\.amazonaws\.com$",
    r"^https://rekognition(-fips)?\..*[a-z0-9-]\.amazonaws\.com$",
]
TRUSTED_KEY = "plugins.ml_commons.trusted_connector_endpoints_regex"

DEFAULT_SETTINGS = {
    TRUSTED_KEY: list(DEFAULT_TRUSTED),
    "plugins.ml_commons.trusted_connector_private_endpoints_regex": [],
    "plugins.ml_commons.connector.private_ip_enabled": "false",
    "plugins.ml_commons.only_run_on_ml_node": "true",
    "plugins.ml_commons.remote_inference.enabled": "true",
    "plugins.ml_commons.mcp_connector_enabled": "false",
    "plugins.ml_commons.model_auto_deploy.enable": "true",
    "plugins.ml_commons.max_model_on_node": "10",
    "plugins.ml_commons.sync_up_job_interval_in_seconds": "10",
    "plugins.ml_commons.native_memory_threshold": "90",
    "plugins.ml_commons.task_dispatcher.eligible_node_role.remote_model": ["data", "ml"],
    "plugins.ml_commons.safe_delete_model": "false",
    "plugins.ml_commons.model_access_control_enabled": "false",
    "plugins.ml_commons.connector_access_control_enabled": "false",
    "cluster.routing.allocation.enable": "all",
}
BOOLEAN_SETTINGS = frozenset(k for k, v in DEFAULT_SETTINGS.items() if v in ("true", "false"))
INTEGER_SETTINGS = frozenset(("plugins.ml_commons.max_model_on_node",
                              "plugins.ml_commons.sync_up_job_interval_in_seconds",
                              "plugins.ml_commons.native_memory_threshold"))
STATIC_SETTINGS = frozenset(("plugins.ml_commons.multi_tenancy_enabled",))

PROTOCOLS = ("http", "aws_sigv4", "mcp_sse", "mcp_streamable_http")
# The fake models every field the collection offers, so it runs the newest version it models.
DEFAULT_VERSION = "3.7.0"
RULES_BY_KEY = server_rules.BY_KEY
AFFIX_SETTINGS = settings_rules.AFFIX_SETTINGS
parse_version = server_rules.parse_version
MCP_PROTOCOLS = ("mcp_sse", "mcp_streamable_http")
ACTION_TYPES = ("PREDICT", "EXECUTE", "BATCH_PREDICT", "CANCEL_BATCH_PREDICT", "BATCH_PREDICT_STATUS")
CACHED_STATES = ("DEPLOYED", "PARTIALLY_DEPLOYED")
UNDELETABLE_STATES = ("DEPLOYED", "DEPLOYING", "PARTIALLY_DEPLOYED", "LOADED", "LOADING", "PARTIALLY_LOADED")
TEXT_FIELDS = frozenset(("name", "description", "connector_id"))

Request = namedtuple("Request", "method path params body url auth verify cert")


class HttpError(Exception):
    def __init__(self, status, body):
        super().__init__(status)
        self.status = status
        self.body = body


def error(status, reason, etype="status_exception"):
    return HttpError(status, {
        "error": {"root_cause": [{"type": etype, "reason": reason}], "type": etype, "reason": reason},
        "status": status,
    })


def gson_string(value):
    """A parameter value the way ML Commons stores it (``StringUtils.getParameterMap``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"))


def setting_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [setting_string(v) for v in value]
    return str(value)


def tokens(value):
    """What the standard analyzer makes of a text field: lower-case words of letters, digits and '_'
    (checked against a real server's ``_analyze``: "ab_cd-ef_" -> ab_cd, ef_; "-_-" -> nothing)."""
    return [t for t in re.split(r"[^0-9a-z_]+", str(value).lower()) if t.strip("_")]


def flatten_settings(values, prefix=""):
    flat = {}
    for key, value in (values or {}).items():
        name = "%s.%s" % (prefix, key) if prefix else key
        if isinstance(value, dict):
            flat.update(flatten_settings(value, name))
        else:
            flat[name] = value
    return flat


def nest_settings(flat):
    nested = {}
    for key, value in flat.items():
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


class FakeServer:
    """In-memory ML Commons. Attributes are plain dicts so tests can arrange and inspect state.

    ``connectors``, ``models``, ``groups`` and ``tasks`` map IDs to stored documents (the
    connector documents include the ``credential``, which the API never returns).
    """

    def __init__(self, seed=7, deploy_polls=1, deploy_outcome="DEPLOYED",
                 deploy_error="Connection refused: remote endpoint is unreachable",
                 check_trusted=True, master_key_missing=0, leak_credentials=False, connector_access_control=False,
                 version=DEFAULT_VERSION, plugins_readable=True, root_readable=True):
        self._random = random.Random(seed)
        # The OpenSearch and ML Commons version (ML Commons is released with the same number). A
        # connector field newer than the version is dropped without an error, as the real server
        # does (observed on 2.19.1, docs/local-cluster.md); the rows come from server_rules.RULES.
        self.version = version
        # A user without cluster:monitor/nodes/info (or cluster:monitor/main) gets 403 there.
        self.plugins_readable = plugins_readable
        self.root_readable = root_readable
        self.next_ids = []                 # IDs the next creates get, in order, before random ones
        self._generator = None             # (clock, its time then, ms then, node part, sequence numbers): see
        #                                    ``generate_ids``
        self._clock = 1760000000000
        self.connectors = {}
        self.models = {}
        self.groups = {}
        self.tasks = {}
        self.settings = {"persistent": {}, "transient": {}}
        self.defaults = copy.deepcopy(DEFAULT_SETTINGS)
        # plugins.ml_commons.safe_delete_model exists from 2.19 on (server_rules).
        if not self.since("plugins.ml_commons.safe_delete_model"):
            del self.defaults["plugins.ml_commons.safe_delete_model"]
        self.requests = []
        self.deploy_polls = deploy_polls
        self.deploy_outcome = deploy_outcome
        self.deploy_outcomes = {}          # model_id -> outcome, overrides deploy_outcome
        self.deploy_error = deploy_error
        self.deploy_conflicts = 0          # the next _deploy calls of a model being deployed answer 409
        self.deploy_conflict_status = 409  # 3.6; 2.19.1 answers that conflict with 500
        self.check_trusted = check_trusted
        self.master_key_missing = master_key_missing
        self.leak_credentials = leak_credentials  # GET and _search send stored credentials back
        # Searches see a change to a document only after a refresh of its index. On 2.19.1 an update of a
        # connector, model or model group, and the state a deploy or undeploy writes, are not refreshed at
        # once: a search right after them still shows the document as it was, a GET (real time) the new one
        # (docs/local-cluster.md, "Searches right after a write"). ``update_search_lag``: a change to a
        # document a search has shown stays out of the next N searches that find it.
        self.update_search_lag = 0
        self._last_shown = {}              # id -> (document as searches last showed it, stale searches left)
        # Security plugin on and plugins.ml_commons.connector_access_control_enabled true:
        # TransportCreateConnectorAction stores access (access_mode), backend_roles and the owner.
        self.connector_access_control = connector_access_control
        self.user_backend_roles = ["ml", "ops"]   # the caller's backend roles (add_all_backend_roles)
        self.inference_results = {}        # model_id -> the inference_results its _predict answers
        self.answers_by_name = {}          # model name -> the same, for models a test's run registers
        self._pending = {}                 # model_id -> [task_id, ticks]
        self._faults = []
        # Observed on OpenSearch 2.19.1 (ML Commons 2.19.1.0): DELETE of a connector right after
        # PUT models/<id> moved that model to another connector answered 409 "1 models are still
        # using this connector ... [<id>]", and the same DELETE two seconds later answered 200: the
        # in-use search ran before the models index refreshed. The next ``in_use_refresh_lag``
        # connector deletes after a model's connector_id changed still see its old connector_id.
        self.in_use_refresh_lag = 0
        self._stale_connector_ids = {}     # model_id -> [old connector_id, deletes left]
        # DeleteModelTransportAction (2.19.1 and 3.6 source) deletes the model document without a
        # refresh, so searches of the models index can still find it until the index refreshes (1 s
        # by default). Seen on 2.19.1 in the integration suite: a model group DELETE right after its
        # last model's DELETE answered 409 "Cannot delete the model group when it has associated model
        # versions" (DeleteModelGroupTransportAction searches the models index for the group). The next
        # ``model_delete_refresh_lag`` model searches and group deletes after a model DELETE still see
        # that model; a GET (real time) does not.
        self.model_delete_refresh_lag = 0
        self._deleted_models = {}          # model_id -> [document, searches left]
        # The same for the state a deploy writes into the model document: seen on 2.19.1 (the secure
        # profile) in the role suite, a search by name right after a deploy had finished still answered
        # model_state REGISTERED, while a GET by ID answered DEPLOYED. The next ``deploy_refresh_lag``
        # model searches after a _deploy see the document as it was before it.
        self.deploy_refresh_lag = 0
        self._before_deploy = {}           # model_id -> [document, searches left]
        # Searches are near-real-time: a document reaches them with a refresh of its index. ML Commons
        # writes its creates with refresh IMMEDIATE (TransportCreateConnectorAction, the remote-metadata
        # SDK's put), but stamps ``created_time`` before the write (TransportCreateConnectorAction.
        # indexConnector; MLModelManager.indexRemoteModel takes ``Instant now`` before the model index
        # check and the put on the register thread pool; MLModelGroupManager before its put), so on a
        # busy node the create with the older ``created_time`` can reach searches after a younger one
        # did (issue 22: two provision runs at once left two connectors, models and groups of a name).
        # ``create_search_lag``: a connector, model or model group made through the API stays out of
        # the next N searches of its kind; ``hide(id, n)`` does the same for an object a test arranges.
        # A GET by ID is real time and finds it at once.
        self.create_search_lag = 0
        self._unsearchable = {}            # id -> searches of its kind that do not find it yet
        self._init_model_side()

    # -- plumbing ------------------------------------------------------------------------
    def install(self, monkeypatch):
        server = self

        def fake_request(session, method, url, params=None, json=None, **kwargs):
            return server.handle(session, method, url, params=params, body=json)

        monkeypatch.setattr(requests.Session, "request", fake_request)
        return self

    def fail_next(self, method, path, status=503, reason="Service Unavailable", body=None, times=1,
                  process=False, exc=None, headers=None):
        """Answer the next ``times`` requests matching ``method`` and the ``path`` regex with an error.

        ``process=True`` handles the request first (its effect happens) and then answers the
        error, like a gateway that loses the answer. ``exc`` raises that exception instead.
        """
        if body is None and exc is None:
            body = {"error": {"root_cause": [{"type": "status_exception", "reason": reason}],
                              "type": "status_exception", "reason": reason}, "status": status}
        self._faults.append({"method": method, "path": re.compile(path), "status": status, "body": body,
                             "times": times, "process": process, "exc": exc, "headers": headers or {}})

    def _fault_for(self, method, path):
        for fault in self._faults:
            if fault["times"] > 0 and fault["method"] == method and fault["path"].search(path):
                fault["times"] -= 1
                return fault
        return None

    def handle(self, session, method, url, params=None, body=None):
        method = method.upper()
        parts = urlsplit(url)
        path = parts.path.lstrip("/")
        self.requests.append(Request(method, path, dict(params or {}), copy.deepcopy(body), url,
                                     getattr(session, "auth", None), getattr(session, "verify", None),
                                     getattr(session, "cert", None)))
        fault = self._fault_for(method, path)
        if fault and fault["exc"] is not None:
            if fault["process"]:
                self._dispatch(method, path, params or {}, body)
            raise fault["exc"]
        if fault and fault["process"]:
            self._dispatch(method, path, params or {}, body)
        if fault:
            return self._response(url, fault["status"], fault["body"], fault["headers"])
        status, answer = self._dispatch(method, path, params or {}, body)
        return self._response(url, status, answer)

    def _dispatch(self, method, path, params, body):
        try:
            return self.route(method, path, params, copy.deepcopy(body))
        except HttpError as exc:
            return exc.status, exc.body

    @staticmethod
    def _response(url, status, body, headers=None):
        response = requests.Response()
        response.status_code = status
        response.url = url
        response.reason = "fake"
        response.encoding = "utf-8"
        response.headers["Content-Type"] = "application/json; charset=UTF-8"
        response.headers.update(headers or {})
        if isinstance(body, str):  # a non-JSON answer, such as a gateway's error page (or JSON cut short)
            response.headers["Content-Type"] = (headers or {}).get("Content-Type") or "text/html"
            response._content = body.encode("utf-8")
        else:
            response._content = b"" if body is None else json.dumps(body).encode("utf-8")
        return response

    # -- request log helpers ----------------------------------------------------------------
    @property
    def writes(self):
        """Every request that may change something (all but GET and ``_search``)."""
        return [r for r in self.requests
                if r.method != "GET" and not (r.method == "POST" and r.path.endswith("/_search"))]

    def calls(self, method=None, path=None):
        return [r for r in self.requests if (method is None or r.method == method)
                and (path is None or re.search(path, r.path))]

    def write_summary(self):
        return [(r.method, r.path) for r in self.writes]

    # -- ids and time ----------------------------------------------------------------------
    @staticmethod
    def generated_id(ms, sequence, node):
        """An ID as OpenSearch's time-based generator makes it (TimeBasedUUIDGenerator, the same on
        2.19.1 and 3.6.0; laid out in plugins/module_utils/core/generated_ids.py): the time ``ms``, the
        ``sequence`` number and the node's part ``node`` (6 bytes, hex)."""
        raw = bytes([sequence & 0xFF, (sequence >> 16) & 0xFF, (ms >> 16) & 0xFF, (ms >> 24) & 0xFF,
                     (ms >> 32) & 0xFF, (ms >> 40) & 0xFF]) + bytes.fromhex(node) + bytes(
            [(ms >> 8) & 0xFF, (sequence >> 8) & 0xFF, ms & 0xFF])
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def generate_ids(self, clock, ms, node, sequence=1022654):
        """From now on, make IDs as OpenSearch does (``generated_id``), with the time moving as ``clock``
        (the tests' FakeClock) moves, from ``ms``."""
        self._generator = (clock, clock.now, ms, node, itertools.count(sequence))

    def new_id(self):
        if self.next_ids:
            return self.next_ids.pop(0)
        if self._generator is not None:
            clock, then, ms, node, sequences = self._generator
            return self.generated_id(ms + int((clock.now - then) * 1000), next(sequences), node)
        alphabet = string.ascii_letters + string.digits
        return "".join(self._random.choice(alphabet) for dummy in range(20))

    def now(self):
        self._clock += 1000
        return self._clock

    # -- seeding helpers (arrange state without going through the API) ------------------------
    def add_connector(self, name, parameters=None, credential=None, actions=None, connector_id=None, **fields):
        cid = connector_id or self.new_id()
        doc = {
            "name": name,
            "version": "1",
            "protocol": "http",
            "parameters": {k: gson_string(v) for k, v in (parameters or {}).items()},
            "credential": dict(credential or {"api_key": "seeded-key"}),
            "actions": actions if actions is not None else [default_action()],
            "created_time": self.now(),
            "last_updated_time": self._clock,
        }
        doc.update(fields)
        self.connectors[cid] = doc
        return cid

    def add_group(self, name, description=None, group_id=None):
        gid = group_id or self.new_id()
        self.groups[gid] = {"name": name, "latest_version": 0, "access": "public",
                            "created_time": self.now(), "last_updated_time": self._clock}
        if description is not None:
            self.groups[gid]["description"] = description
        return gid

    def add_model(self, name, connector_id, state="REGISTERED", model_group_id=None, model_id=None, **fields):
        mid = model_id or self.new_id()
        gid = model_group_id or self._group_for_model(name, fields.get("description"))
        group = self.groups[gid]
        group["latest_version"] += 1
        doc = {
            "name": name,
            "model_group_id": gid,
            "algorithm": "REMOTE",
            "model_version": str(group["latest_version"]),
            "model_state": state,
            "connector_id": connector_id,
            "is_hidden": False,
            "created_time": self.now(),
            "last_updated_time": self._clock,
            "last_registered_time": self._clock,
        }
        doc.update(fields)
        self.models[mid] = doc
        return mid

    def _group_for_model(self, name, description):
        for gid, group in self.groups.items():
            if group["name"] == name:
                return gid
        gid = self.new_id()
        self.groups[gid] = {"name": name, "latest_version": 0, "access": "public",
                            "created_time": self.now(), "last_updated_time": self._clock}
        if description is not None:
            self.groups[gid]["description"] = description
        return gid

    def set_setting(self, key, value, scope="persistent"):
        self.settings[scope][key] = setting_string(value)

    # -- routing --------------------------------------------------------------------------
    def route(self, method, path, params, body):
        if path == "" and method == "GET":
            return self.get_root()
        if path == "_cat/plugins" and method == "GET":
            return self.get_plugins()
        if path == "_cluster/settings":
            if method == "GET":
                return 200, self.get_settings(params)
            if method == "PUT":
                return 200, self.put_settings(body)
        if path.startswith(MODEL_USER_PATHS):
            return self.route_model_users(method, path)
        if not path.startswith(ML + "/"):
            raise error(404, "no handler found for uri [/%s] and method [%s]" % (path, method))
        rest = path[len(ML) + 1:].split("/")
        kind, tail = rest[0], rest[1:]
        handler = {"connectors": self.route_connectors, "models": self.route_models,
                   "model_groups": self.route_groups, "tasks": self.route_tasks,
                   "agents": self.route_agents}.get(kind)
        if handler is None:
            raise error(404, "no handler found for uri [/%s] and method [%s]" % (path, method))
        return handler(method, tail, body)

    # -- the version ------------------------------------------------------------------------
    def since(self, key):
        """True when this server's version has the rule ``key`` of server_rules.RULES."""
        return parse_version(self.version) >= RULES_BY_KEY[key].since

    def get_root(self):
        if not self.root_readable:
            raise error(403, "no permissions for [cluster:monitor/main] and User [name=ml-user]",
                        "security_exception")
        return 200, {"name": "node-0", "cluster_name": "fake", "version": {
            "distribution": "opensearch", "number": self.version, "build_type": "zip"},
            "tagline": "The OpenSearch Project: https://opensearch.org/"}

    def get_plugins(self):
        if not self.plugins_readable:
            raise error(403, "no permissions for [cluster:monitor/nodes/info] and User [name=ml-user]",
                        "security_exception")
        return 200, [{"name": "node-0", "component": component, "version": "%s.0" % self.version}
                     for component in ("opensearch-job-scheduler", "opensearch-ml")]

    def protocols(self):
        """ConnectorProtocols of this version: MCP protocols from 3.0 and 3.3."""
        return [p for p in PROTOCOLS if p not in MCP_PROTOCOLS or self.since("protocol %s" % p)]

    def _drop_newer_fields(self, doc):
        """What ConnectorClientConfig.parse and ConnectorAction.parse of an older server skip."""
        if not self.since("client_config.skip_ssl_verification"):
            (doc.get("client_config") or {}).pop("skip_ssl_verification", None)
        for action in doc.get("actions") or []:
            if not self.since("actions[].name"):
                action.pop("name", None)
            if not self.since("actions[].supports_structured_output"):
                action.pop("supports_structured_output", None)
        return doc

    @staticmethod
    def _unsupported(method, tail):
        raise error(405, "Incorrect HTTP method for uri [%s] and method [%s]" % ("/".join(tail), method))

    # -- cluster settings -------------------------------------------------------------------
    def get_settings(self, params):
        flat = str(params.get("flat_settings", "false")).lower() == "true"
        out = {"persistent": dict(self.settings["persistent"]), "transient": dict(self.settings["transient"])}
        if str(params.get("include_defaults", "false")).lower() == "true":
            out["defaults"] = {k: v for k, v in self.defaults.items()
                               if k not in self.settings["persistent"] and k not in self.settings["transient"]}
        out = copy.deepcopy(out)
        if not flat:
            out = {scope: nest_settings(values) for scope, values in out.items()}
        return out

    def put_settings(self, body):
        if not isinstance(body, dict) or not body:
            raise error(400, "Validation Failed: 1: no settings to update;", "action_request_validation_exception")
        updates = {}
        for scope in ("persistent", "transient"):
            values = flatten_settings(body.get(scope))
            for key, value in values.items():
                # Affix settings (logger.*, cluster.remote.<alias>.seeds ...) are accepted although GET
                # lists them only once set (observed on 3.6.0 and 2.19.1).
                if key not in self.defaults and not any(p.match(key) for p in AFFIX_SETTINGS):
                    raise error(400, "%s setting [%s], not recognized" % (scope, key), "settings_exception")
                if key in STATIC_SETTINGS:
                    raise error(400, "%s setting [%s], not dynamically updateable" % (scope, key),
                                "settings_exception")
                if value is not None:
                    value = setting_string(value)
                    if key in BOOLEAN_SETTINGS and value not in ("true", "false"):
                        raise error(400, "Failed to parse value [%s] as only [true] or [false] are allowed."
                                    % value, "illegal_argument_exception")
                    if key in INTEGER_SETTINGS and not re.fullmatch(r"-?\d+", value):
                        raise error(400, "Failed to parse value [%s] for setting [%s]" % (value, key),
                                    "illegal_argument_exception")
                    if isinstance(self.defaults.get(key), list) and not isinstance(value, list):
                        value = [value]
                updates.setdefault(scope, {})[key] = value
        answer = {"acknowledged": True, "persistent": {}, "transient": {}}
        for scope, values in updates.items():
            for key, value in values.items():
                if value is None:
                    self.settings[scope].pop(key, None)
                else:
                    self.settings[scope][key] = value
                    answer[scope][key] = value
        answer = {k: (nest_settings(v) if isinstance(v, dict) else v) for k, v in answer.items()}
        return answer

    def trusted_patterns(self):
        for scope in ("transient", "persistent"):
            if TRUSTED_KEY in self.settings[scope]:
                return self.settings[scope][TRUSTED_KEY]
        return self.defaults[TRUSTED_KEY]

    def setting(self, key):
        """The value in force: transient, then persistent, then the default."""
        for scope in ("transient", "persistent"):
            if key in self.settings[scope]:
                return self.settings[scope][key]
        return self.defaults.get(key)

    # -- search ----------------------------------------------------------------------------
    @staticmethod
    def _field(doc, field):
        keyword = field.endswith(".keyword")
        name = field[:-len(".keyword")] if keyword else field
        return doc.get(name), keyword or name not in TEXT_FIELDS

    def matches(self, doc, query, _id):
        if not query or "match_all" in query:
            return True
        if len(query) != 1:
            raise error(400, "[_na] query malformed, must start with start_object", "parsing_exception")
        kind, spec = next(iter(query.items()))
        if kind == "bool":
            for clause in ("filter", "must"):
                items = spec.get(clause) or []
                items = items if isinstance(items, list) else [items]
                if not all(self.matches(doc, q, _id) for q in items):
                    return False
            should = spec.get("should") or []
            should = should if isinstance(should, list) else [should]
            if should and not any(self.matches(doc, q, _id) for q in should):
                return False
            must_not = spec.get("must_not") or []
            must_not = must_not if isinstance(must_not, list) else [must_not]
            return not any(self.matches(doc, q, _id) for q in must_not)
        if kind in ("term", "terms", "match"):
            (field, wanted), = spec.items()
            if isinstance(wanted, dict):
                wanted = wanted.get("value", wanted.get("query"))
            if field == "_id":
                values = wanted if kind == "terms" else [wanted]
                return _id in values
            value, exact = self._field(doc, field)
            if value is None:
                return False
            if kind == "match":
                return bool(set(tokens(value)) & set(tokens(wanted))) if not exact else str(value) == str(wanted)
            values = wanted if kind == "terms" else [wanted]
            if exact:
                return any(str(value) == str(w) for w in values)
            return any(str(w) in tokens(value) for w in values)
        raise error(400, "unknown query [%s]" % kind, "parsing_exception")

    def hide(self, object_id, searches):
        """Keep ``object_id`` out of the next ``searches`` searches of its kind (``create_search_lag``)."""
        if searches:
            self._unsearchable[object_id] = searches

    def _as_searches_show(self, object_id, doc):
        """``doc`` as a search shows it under ``update_search_lag``: a change since the last search that showed it
        is seen only after N more searches."""
        if not self.update_search_lag:
            return doc
        shown, left = self._last_shown.get(object_id, (None, None))
        if shown is not None and shown != doc:
            left = self.update_search_lag if left is None else left
            if left > 0:
                self._last_shown[object_id] = (shown, left - 1)
                return copy.deepcopy(shown)
        self._last_shown[object_id] = (copy.deepcopy(doc), None)
        return doc

    def search(self, store, body, exclude=()):
        body = body or {}
        query = body.get("query")
        size = body.get("size", 10)
        start = body.get("from", 0)
        if self.leak_credentials:
            exclude = ()
        hits = []
        for _id in [i for i in store if i in self._unsearchable]:
            self._unsearchable[_id] -= 1
            if self._unsearchable[_id] < 0:
                del self._unsearchable[_id]
        for _id, doc in store.items():
            if doc.get("is_hidden") or _id in self._unsearchable:
                continue
            doc = self._as_searches_show(_id, doc)
            if self.matches(doc, query, _id):
                source = {k: copy.deepcopy(v) for k, v in doc.items() if k not in exclude}
                if "connector" in source and isinstance(source["connector"], dict) and not self.leak_credentials:
                    source["connector"].pop("credential", None)
                hits.append({"_index": ".plugins-ml", "_id": _id, "_version": 1, "_seq_no": 0,
                             "_primary_term": 1, "_score": 1.0, "_source": source})
        total = len(hits)
        return {"took": 1, "timed_out": False,
                "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                "hits": {"total": {"value": total, "relation": "eq"}, "max_score": 1.0 if hits else None,
                         "hits": hits[start:start + size]}}

    # -- connectors -------------------------------------------------------------------------
    def route_connectors(self, method, tail, body):
        if tail == ["_create"] and method == "POST":
            return 200, self.create_connector(body)
        if tail == ["_search"] and method in ("GET", "POST"):
            return 200, self.search(self.connectors, body, exclude=("credential",))
        if len(tail) == 1:
            cid = tail[0]
            if method == "GET":
                return 200, self.get_connector(cid)
            if method == "PUT":
                return 200, self.update_connector(cid, body)
            if method == "DELETE":
                return self.delete_connector(cid)
        return self._unsupported(method, tail)

    def _validate_text(self, what, value):
        # ML Commons 3.1+ checks names and descriptions for safe characters; 2.19.1 stores any (server_rules,
        # contract scenario unsafe_name_is_refused)
        if not self.since("name and description safe characters"):
            return
        if value is not None and (not isinstance(value, str) or not re.fullmatch(
                r"[\w\s.,!?():@\-/'\"]*", value)):
            raise error(400, "Validation Failed: 1: Model connector %s can only contain letters, numbers, spaces, "
                        "and basic punctuation (.,!?():@-_'/\");" % what, "action_request_validation_exception")

    def _check_trusted(self, doc):
        if not self.check_trusted:
            return
        patterns = self.trusted_patterns()
        if not patterns:
            raise error(400, "Trusted connector endpoints regex is not configured. Please set "
                        "plugins.ml_commons.trusted_connector_endpoints_regex.", "illegal_argument_exception")
        # Connector.validateConnectorURL: each action URL (parameters filled in from the connector's
        # own parameters) and, for MCP connectors (McpConnector, 3.0+), the top-level url.
        urls = [action.get("url") or "" for action in doc.get("actions") or []]
        if doc.get("protocol") in MCP_PROTOCOLS:
            urls = [doc.get("url") or ""]
        for url in urls:
            for key, value in (doc.get("parameters") or {}).items():
                url = url.replace("${parameters.%s}" % key, value)
            if not any(re.fullmatch(p, url) for p in patterns):
                raise error(400, "Connector URL is not matching the trusted connector endpoint regex",
                            "illegal_argument_exception")

    def _parse_actions(self, actions):
        out = []
        for action in actions:
            item = dict(action)
            if "action_type" not in item:
                raise error(400, "action type can't be null", "illegal_argument_exception")
            if str(item["action_type"]).upper() not in ACTION_TYPES:
                raise error(400, "No enum constant ConnectorAction.ActionType.%s" % item["action_type"],
                            "illegal_argument_exception")
            item["action_type"] = str(item["action_type"]).upper()
            for field in ("method", "url"):
                if not item.get(field):
                    raise error(400, "%s can't be null" % field, "illegal_argument_exception")
            if "request_body" in item and not isinstance(item["request_body"], str):
                raise error(400, "request_body must be a string", "illegal_argument_exception")
            if "headers" in item:
                item["headers"] = {str(k): str(v) for k, v in item["headers"].items()}
            if not item.get("supports_structured_output"):
                item.pop("supports_structured_output", None)
            out.append(item)
        return out

    def create_connector(self, body):
        body = body or {}
        if self.master_key_missing > 0:
            self.master_key_missing -= 1
            raise error(404, "The ML encryption master key has not been initialized yet. Please retry after "
                        "waiting for 10 seconds.", "resource_not_found_exception")
        for field, message in (("name", "Connector name is null"), ("version", "Connector version is null"),
                               ("protocol", "Connector protocol is null")):
            if body.get(field) in (None, ""):
                raise error(400, message, "illegal_argument_exception")
        self._validate_text("name", body["name"])
        self._validate_text("description", body.get("description"))
        protocols = self.protocols()
        if body["protocol"] in MCP_PROTOCOLS and body["protocol"] not in protocols:
            # a server older than the protocol has no connector class registered for it (observed on 2.19.1:
            # 400 "Can't find class for type mcp_sse")
            raise error(400, "Can't find class for type %s" % body["protocol"], "illegal_argument_exception")
        if body["protocol"] not in protocols:
            raise error(400, "Unsupported connector protocol. Please use one of %s" % protocols,
                        "illegal_argument_exception")
        mcp = body["protocol"] in MCP_PROTOCOLS
        if mcp and self.setting("plugins.ml_commons.mcp_connector_enabled") != "true":
            # TransportCreateConnectorAction (3.0+, observed on 3.6): HTTP 500, type "exception".
            raise error(500, "The MCP connector is not enabled. To enable, please update the setting "
                        "plugins.ml_commons.mcp_connector_enabled", "exception")
        if not mcp and not body.get("credential"):
            raise error(400, "Connector credential is null or empty list", "illegal_argument_exception")
        if not mcp and not body.get("actions"):
            raise error(400, "No actions configured for this connector", "illegal_argument_exception")
        if not self.connector_access_control and any(
                k in body for k in ("access_mode", "backend_roles", "add_all_backend_roles")):
            raise error(400, "You cannot specify connector access control parameters because the Security plugin "
                        "or connector access control is disabled on your cluster.", "illegal_argument_exception")
        doc = {
            "name": body["name"],
            "version": gson_string(body["version"]),
            "protocol": body["protocol"],
            "parameters": {str(k): gson_string(v) for k, v in (body.get("parameters") or {}).items()},
            "credential": {str(k): str(v) for k, v in (body.get("credential") or {}).items()},
        }
        if mcp:
            # McpConnector (observed on 3.6): a top-level url and headers; actions are not read.
            for field in ("url", "headers"):
                if body.get(field) is not None:
                    doc[field] = body[field]
        else:
            doc["actions"] = self._parse_actions(body["actions"])
        if body.get("description") is not None:
            doc["description"] = body["description"]
        if body.get("client_config") is not None:
            doc["client_config"] = parse_client_config(body["client_config"])
        if self.connector_access_control:
            roles = list(self.user_backend_roles) if body.get("add_all_backend_roles") else body.get("backend_roles")
            doc["access"] = body.get("access_mode") or ("restricted" if roles else "private")
            doc["backend_roles"] = roles or []
            doc["owner"] = {"name": "admin", "backend_roles": list(self.user_backend_roles)}
        self._drop_newer_fields(doc)
        self._check_trusted(doc)
        doc["created_time"] = self.now()
        doc["last_updated_time"] = doc["created_time"]
        cid = self.new_id()
        self.connectors[cid] = doc
        self.hide(cid, self.create_search_lag)
        return {"connector_id": cid}

    def get_connector(self, cid):
        doc = self.connectors.get(cid)
        if doc is None:
            raise error(404, "Failed to find connector with the provided connector id: %s" % cid)
        out = copy.deepcopy(doc)
        if not self.leak_credentials:
            out.pop("credential", None)
        return out

    def update_connector(self, cid, body):
        if not body:
            raise error(400, "Failed to update connector: Request body is empty", "illegal_argument_exception")
        doc = self.connectors.get(cid)
        if doc is None:
            raise error(404, "Failed to find connector with the provided connector id: %s" % cid)
        # UpdateConnectorTransportAction (3.6): models found with a match query on the text field
        # connector_id (so a connector ID that only shares a term counts) and in the node's model
        # cache (deployed) block the update.
        using = [mid for mid, m in self.models.items()
                 if self.matches(m, {"match": {"connector_id": cid}}, mid) and m.get("model_state") in CACHED_STATES]
        if using:
            # HTTP 400 from 2.12 on; 500 in 2.11 (server_rules: "update in-use check answers 400").
            status = 400 if self.since("update in-use check answers 400") else 500
            raise error(status, "%d models are still using this connector, please undeploy the models first: [%s]"
                        % (len(using), ", ".join(using)))
        self._validate_text("name", body.get("name"))
        self._validate_text("description", body.get("description"))
        if "protocol" in body and body["protocol"] not in PROTOCOLS:
            raise error(400, "Unsupported connector protocol. Please use one of %s" % list(PROTOCOLS),
                        "illegal_argument_exception")
        new = copy.deepcopy(doc)
        if new["protocol"] in MCP_PROTOCOLS:
            for field in ("url", "headers"):
                if body.get(field) is not None:
                    new[field] = body[field]
        for field in ("name", "description", "protocol", "backend_roles"):
            if body.get(field) is not None:
                new[field] = body[field]
        if body.get("access_mode") is not None:
            new["access"] = body["access_mode"]
        if body.get("version") is not None:
            new["version"] = gson_string(body["version"])
        if body.get("actions") is not None and new["protocol"] not in MCP_PROTOCOLS:
            new["actions"] = self._parse_actions(body["actions"])
        if body.get("client_config") is not None:
            new["client_config"] = parse_client_config(body["client_config"])
        if body.get("parameters") is not None:
            new["parameters"].update({str(k): gson_string(v) for k, v in body["parameters"].items()})
        if body.get("credential"):
            new["credential"].update({str(k): str(v) for k, v in body["credential"].items()})
        self._drop_newer_fields(new)
        self._check_trusted(new)
        new["last_updated_time"] = self.now()
        self.connectors[cid] = new
        return {"_index": ".plugins-ml-connector", "_id": cid, "_version": 2, "result": "updated",
                "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": 1, "_primary_term": 1}

    def delete_connector(self, cid):
        # As ML Commons: a match query on the text field connector_id, so a model whose connector ID
        # shares a term with this one counts as a user too.
        using = [mid for mid, m in self.models.items()
                 if self.matches(m, {"match": {"connector_id": cid}}, mid)]
        for mid, stale in list(self._stale_connector_ids.items()):
            if stale[0] == cid and mid not in using:
                using.append(mid)
            stale[1] -= 1
            if stale[1] <= 0:
                del self._stale_connector_ids[mid]
        if using:
            # HTTP 409 from 2.12 on; 500 in 2.11 (server_rules: "delete in-use check answers 409").
            status = 409 if self.since("delete in-use check answers 409") else 500
            raise error(status, "%d models are still using this connector, please delete or update the models "
                        "first: [%s]" % (len(using), ", ".join(using)))
        if self.connectors.pop(cid, None) is None:
            # Observed on 3.6 (the contract scenario delete_of_a_missing_connector): 200, not 404,
            # with result "not_found".
            return 200, {"_index": ".plugins-ml-connector", "_id": cid, "_version": 1, "result": "not_found",
                         "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": 0, "_primary_term": 1}
        return 200, {"_index": ".plugins-ml-connector", "_id": cid, "_version": 2, "result": "deleted",
                     "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": 2, "_primary_term": 1}

    # -- models ------------------------------------------------------------------------------
    def route_models(self, method, tail, body):
        if tail == ["_register"] and method == "POST":
            return 200, self.register_model(body)
        if tail == ["_search"] and method in ("GET", "POST"):
            return 200, self.search(self._models_searched(), body)
        if len(tail) == 2 and method == "POST" and tail[1] in ("_deploy", "_load"):
            return 200, self.deploy_model(tail[0])
        if len(tail) == 2 and method == "POST" and tail[1] in ("_undeploy", "_unload"):
            return 200, self.undeploy_model(tail[0])
        if len(tail) == 2 and method == "POST" and tail[1] == "_predict":
            return 200, self.predict(tail[0])
        if len(tail) == 1:
            mid = tail[0]
            if method == "GET":
                return 200, self.get_model(mid)
            if method == "PUT":
                return 200, self.update_model(mid, body)
            if method == "DELETE":
                return 200, self.delete_model(mid)
        return self._unsupported(method, tail)

    def _models_searched(self):
        """The model documents a search of the models index finds: the stored ones, plus those deleted
        so recently that the index has not refreshed (``model_delete_refresh_lag``)."""
        found = dict(self.models)
        for mid, stale in list(self._before_deploy.items()):
            if mid in found:
                found[mid] = stale[0]
            stale[1] -= 1
            if stale[1] <= 0:
                del self._before_deploy[mid]
        for mid, ghost in list(self._deleted_models.items()):
            found.setdefault(mid, ghost[0])
            ghost[1] -= 1
            if ghost[1] <= 0:
                del self._deleted_models[mid]
        return {mid: doc for mid, doc in found.items() if mid not in self.hidden_models}

    def register_model(self, body):
        body = body or {}
        if not body.get("name"):
            raise error(400, "model name is null", "illegal_argument_exception")
        if str(body.get("function_name", "")).lower() != "remote":
            raise error(400, "model format is null", "illegal_argument_exception")
        cid = body.get("connector_id")
        if not cid and not body.get("connector"):
            raise error(400, "You must provide connector content when creating a remote model without connector "
                        "id!", "illegal_argument_exception")
        if cid and cid not in self.connectors:
            raise error(404, "Failed to find connector:%s" % cid)
        gid = body.get("model_group_id")
        if gid:
            if gid not in self.groups:
                raise error(500, "Model Group Response is empty for %s" % gid, "m_l_exception")
            self._check_group_access(gid)
        else:
            gid = self._group_for_model(body["name"], body.get("description"))
        group = self.groups[gid]
        group["latest_version"] += 1
        doc = {
            "name": body["name"],
            "model_group_id": gid,
            "algorithm": "REMOTE",
            "model_version": str(group["latest_version"]),
            "model_state": "REGISTERED",
            "connector_id": cid,
            "is_hidden": False,
            "created_time": self.now(),
            "last_updated_time": self._clock,
            "last_registered_time": self._clock,
        }
        if body.get("description") is not None:
            doc["description"] = body["description"]
        for field in ("is_enabled", "deploy_setting", "model_config"):
            if body.get(field) is not None:
                doc[field] = body[field]
        doc.update(stored_model_fields(body))
        mid = self.new_id()
        self.models[mid] = doc
        self.hide(mid, self.create_search_lag)
        tid = self.new_id()
        self.tasks[tid] = {"model_id": mid, "task_type": "REGISTER_MODEL", "function_name": "REMOTE",
                           "state": "COMPLETED", "worker_node": [NODE_ID], "create_time": self.now(),
                           "last_update_time": self._clock, "is_async": False}
        return {"task_id": tid, "status": "CREATED", "model_id": mid}

    def _tick(self, mid):
        pending = self._pending.get(mid)
        if not pending:
            return
        pending[1] += 1
        if pending[1] >= self.deploy_polls:
            self._finish_deploy(mid)

    def _finish_deploy(self, mid):
        tid = self._pending[mid][0]
        outcome = self.deploy_outcomes.get(mid, self.deploy_outcome)
        if outcome == "HANG":
            return
        del self._pending[mid]
        model, task = self.models[mid], self.tasks[tid]
        err = self.deploy_error
        if model.get("connector_id") and model["connector_id"] not in self.connectors:
            outcome = "DEPLOY_FAILED"
            err = "Failed to find connector with the provided connector id: %s" % model["connector_id"]
        task["last_update_time"] = self.now()
        if outcome == "DEPLOYED":
            model.update(model_state="DEPLOYED", last_deployed_time=self._clock, current_worker_node_count=1)
            task["state"] = "COMPLETED"
        elif outcome == "PARTIALLY_DEPLOYED":
            model.update(model_state="PARTIALLY_DEPLOYED", last_deployed_time=self._clock,
                         current_worker_node_count=1, planning_worker_node_count=2)
            task.update(state="COMPLETED_WITH_ERROR", error=json.dumps({"nd2": err}))
        else:
            model.update(model_state="DEPLOY_FAILED", current_worker_node_count=0)
            task.update(state="FAILED", error=json.dumps({NODE_ID: err}))

    def get_model(self, mid):
        doc = self.models.get(mid)
        if doc is None:
            raise error(404, "Failed to find model with the provided model id: %s" % mid)
        if mid in self.hidden_models:
            raise error(403, "User doesn't have privilege to perform this operation on this model, model ID %s"
                        % mid)
        self._tick(mid)
        out = copy.deepcopy(self.models[mid])
        if isinstance(out.get("connector"), dict) and not self.leak_credentials:
            out["connector"].pop("credential", None)
        return out

    def deploy_model(self, mid):
        model = self.models.get(mid)
        if model is None:
            raise error(404, "Failed to find model")
        tid = self.new_id()
        if self.deploy_refresh_lag:
            self._before_deploy[mid] = [copy.deepcopy(model), self.deploy_refresh_lag]
        self.tasks[tid] = {"model_id": mid, "task_type": "DEPLOY_MODEL", "function_name": "REMOTE",
                           "state": "CREATED", "worker_node": [NODE_ID], "create_time": self.now(),
                           "last_update_time": self._clock, "is_async": True}
        if self.deploy_conflicts > 0 and mid in self._pending:
            # Seen on 3.6 with three _deploy calls sent at once: TransportDeployModelAction writes
            # DEPLOYING into the model document with the seqNo it read; the calls that lost answer 409
            # "Document version conflict updating <id> in index .plugins-ml-model", and their failure
            # handler marks their task FAILED and writes DEPLOY_FAILED into the model (read for seconds,
            # until the running deploy or the sync-up job writes DEPLOYED).
            # 2.19.1 (deploy_conflict_status 500) answers 500 "Failed to update data object in index
            # .plugins-ml-model" with the same root cause.
            self.deploy_conflicts -= 1
            self.tasks[tid].update(state="FAILED", error="Document version conflict")
            model.update(model_state="DEPLOY_FAILED")
            if self.deploy_conflict_status == 500:
                reason = "Failed to update data object in index .plugins-ml-model"
            else:
                reason = "Document version conflict updating %s in index .plugins-ml-model" % mid
            raise HttpError(self.deploy_conflict_status, {
                "error": {"root_cause": [{"type": "version_conflict_engine_exception"}], "type": "status_exception",
                          "reason": reason}, "status": self.deploy_conflict_status})
        if model.get("model_state") == "DEPLOYED":
            self.tasks[tid]["state"] = "COMPLETED"
        elif mid in self._pending:
            # MLModelCacheHelper.initModelState: while another deploy task of the model runs on the node
            # (the model is DEPLOYING in the node's cache), the node refuses with "Duplicate deploy model
            # task". The _deploy itself still answers COMPLETED (for a remote model it returns once the
            # nodes answered), the new task ends FAILED with that error per node, and, as every node
            # failed, TransportForwardAction writes DEPLOY_FAILED into the model document. The running
            # deploy goes on and writes DEPLOYED when it ends.
            self.tasks[tid].update(state="FAILED", error=json.dumps({NODE_ID: DUPLICATE_DEPLOY}))
            model.update(model_state="DEPLOY_FAILED", current_worker_node_count=0)
        else:
            model["model_state"] = "DEPLOYING"
            model["planning_worker_node_count"] = 1
            self.tasks[tid]["state"] = "RUNNING"
            self._pending[mid] = [tid, 0]
            if self.deploy_polls <= 0:
                self._finish_deploy(mid)
        return {"task_id": tid, "task_type": "DEPLOY_MODEL", "status": "COMPLETED"}

    def predict(self, mid):
        """Answer ``inference_results[mid]``; a model that is not deployed is deployed first (auto-deploy)."""
        model = self.models.get(mid)
        if model is None:
            raise error(404, "Failed to find model")
        if model.get("is_enabled") is False:
            raise error(403, "Model is disabled.")
        if model.get("model_state") not in CACHED_STATES:
            if mid in self._pending or self.setting("plugins.ml_commons.model_auto_deploy.enable") != "true":
                raise error(400, "Model not ready yet. Please run this first: POST /_plugins/_ml/models/%s/_deploy"
                            % mid, "illegal_argument_exception")
            model.update(model_state="DEPLOYED", last_deployed_time=self.now(), current_worker_node_count=1)
        if mid not in self.inference_results and model.get("name") in self.answers_by_name:
            self.inference_results[mid] = self.answers_by_name[model["name"]]
        if mid not in self.inference_results:
            raise error(400, "Error from remote service: the fake server has no inference_results for model %s"
                        % mid)
        return {"inference_results": copy.deepcopy(self.inference_results[mid])}

    def undeploy_model(self, mid):
        model = self.models.get(mid)
        if model is None:
            raise error(404, "Failed to find model")
        was = model.get("model_state")
        self._pending.pop(mid, None)
        model.update(model_state="UNDEPLOYED", planning_worker_node_count=0, current_worker_node_count=0,
                     last_undeployed_time=self.now())
        status = "undeployed" if was in UNDELETABLE_STATES else "not_found"
        return {NODE_ID: {"stats": {mid: status}}}

    def update_model(self, mid, body):
        model = self.models.get(mid)
        if model is None:
            raise error(404, "Failed to find model to update with the provided model id: %s" % mid)
        if not body:
            raise error(400, "Update model request has empty body", "illegal_argument_exception")
        if model.get("model_state") == "DEPLOYING":
            raise error(409, "Model is deploying. Please wait for the model to complete deployment. model ID %s"
                        % mid)
        if "connector_id" in body and "connector" in body:
            raise error(400, "Model cannot have both stand-alone connector and internal connector. Please check "
                        "your update input body.", "illegal_argument_exception")
        if body.get("connector_id") and body["connector_id"] not in self.connectors:
            raise error(404, "Failed to find connector with the provided connector id: %s" % body["connector_id"])
        new = copy.deepcopy(model)
        for field in ("name", "description", "is_enabled", "connector_id", "deploy_setting", "model_config"):
            if body.get(field) is not None:
                new[field] = body[field]
        for field, value in stored_model_fields(body).items():
            # PUT is an OpenSearch partial update: objects merge key by key (checked on 3.6).
            new[field] = merge_object(new.get(field), value)
        gid = body.get("model_group_id")
        if gid and gid != model.get("model_group_id"):
            if gid not in self.groups:
                raise error(404, "Failed to find the model group with the provided model group id in the update "
                            "model input, MODEL_GROUP_ID: %s" % gid)
            self.groups[gid]["latest_version"] += 1
            new["model_group_id"] = gid
            new["model_version"] = str(self.groups[gid]["latest_version"])
        new["model_id"] = mid
        new["last_updated_time"] = self.now()
        if self.in_use_refresh_lag and new.get("connector_id") != model.get("connector_id"):
            self._stale_connector_ids[mid] = [model.get("connector_id"), self.in_use_refresh_lag]
        self.models[mid] = new
        return {"_index": ".plugins-ml-model", "_id": mid, "_version": 2, "result": "updated",
                "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": 1, "_primary_term": 1}

    def delete_model(self, mid):
        model = self.models.get(mid)
        if model is None:
            raise error(404, "Failed to find model")
        if model.get("model_state") in UNDELETABLE_STATES:
            raise error(400, "Model cannot be deleted in deploying or deployed state. Try undeploy model first then "
                        "delete")
        if self.setting("plugins.ml_commons.safe_delete_model") == "true":
            # DeleteModelTransportAction with safe_delete_model: agents, then ingest and search pipelines.
            for kind, what, store in (("agents", "agents", self.agents or {}),
                                      ("ingest pipelines", "pipelines", self.pipelines["_ingest"]),
                                      ("search pipelines", "pipelines", self.pipelines["_search"])):
                users = sorted(name for name, body in store.items() if mentions_id(body, mid))
                if users:
                    raise error(409, "%d %s are still using this model, please delete or update the %s first: [%s]"
                                % (len(users), kind, what, ", ".join(users)))
        if self.model_delete_refresh_lag:
            self._deleted_models[mid] = [self.models[mid], self.model_delete_refresh_lag]
        del self.models[mid]
        return {"_index": ".plugins-ml-model", "_id": mid, "_version": 2, "result": "deleted",
                "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": 2, "_primary_term": 1}

    # -- model groups --------------------------------------------------------------------------
    def route_groups(self, method, tail, body):
        if tail == ["_register"] and method == "POST":
            return 200, self.register_group(body)
        if tail == ["_search"] and method in ("GET", "POST"):
            return 200, self.search(self.groups, body)
        if len(tail) == 1:
            gid = tail[0]
            if method == "GET":
                if gid not in self.groups:
                    raise error(404, "Failed to find model group with the provided model group id: %s" % gid)
                return 200, copy.deepcopy(self.groups[gid])
            if method == "PUT":
                return 200, self.update_group(gid, body)
            if method == "DELETE":
                # DeleteModelGroupTransportAction: any model document naming the group (any function,
                # hidden ones too) blocks the delete.
                if any(m.get("model_group_id") == gid for m in self._models_searched().values()):
                    raise error(409, "Cannot delete the model group when it has associated model versions")
                if self.groups.pop(gid, None) is None:
                    return 404, {"_index": ".plugins-ml-model-group", "_id": gid, "result": "not_found"}
                return 200, {"_index": ".plugins-ml-model-group", "_id": gid, "result": "deleted"}
        return self._unsupported(method, tail)

    def _access_fields_allowed(self, body):
        """MLModelGroupManager / TransportUpdateModelGroupAction: access fields need the security plugin and
        model access control."""
        given = [k for k in ("access_mode", "backend_roles", "add_all_backend_roles") if body.get(k) is not None]
        if given and not (self.security_user and self.setting("plugins.ml_commons.model_access_control_enabled")
                          == "true"):
            raise error(400, "You cannot specify model access control parameters because the Security plugin or "
                        "model access control is disabled on your cluster.", "illegal_argument_exception")

    def _check_access_rules(self, mode, roles, add_all, creating):
        """The access-mode rules of ML Commons' model-group register and update (same messages)."""
        user = self.security_user
        admin = "all_access" in user.get("roles", [])
        if mode in ("public", "private") and (roles or add_all):
            raise error(400, "You can specify backend roles only for a model group with the restricted access mode.",
                        "illegal_argument_exception")
        if mode == "restricted" or (mode is None and (roles or add_all)):
            if admin and add_all:
                raise error(400, "Admin users cannot add all backend roles to a model group.",
                            "illegal_argument_exception")
            if roles and add_all:
                raise error(400, "You cannot specify backend roles and add all backend roles at the same time.",
                            "illegal_argument_exception")
            if creating and mode == "restricted" and not roles and not add_all:
                raise error(400, "You must specify one or more backend roles or add all backend roles to register a "
                            "restricted model group.", "illegal_argument_exception")
            if roles and not admin and not set(roles) <= set(user.get("backend_roles", [])):
                raise error(400, "You don't have the backend roles specified.", "illegal_argument_exception")

    def register_group(self, body):
        body = body or {}
        if not body.get("name"):
            raise error(400, "model group name is null", "illegal_argument_exception")
        for gid, group in self.groups.items():
            # MLModelGroupManager checks the name with a search, which does not find a group too new for it
            if group["name"] == body["name"] and gid not in self._unsearchable:
                raise error(400, "The name you provided is already being used by a model group with ID: %s." % gid,
                            "illegal_argument_exception")
        self._access_fields_allowed(body)
        gid = self.add_group(body["name"], body.get("description"))
        self.hide(gid, self.create_search_lag)
        if self.security_user and self.setting("plugins.ml_commons.model_access_control_enabled") == "true":
            roles, add_all = body.get("backend_roles"), body.get("add_all_backend_roles")
            mode = body.get("access_mode")
            self._check_access_rules(mode, roles, add_all, creating=True)
            if mode is None:
                mode = "restricted" if roles or add_all else "private"
            group = self.groups[gid]
            group["access"] = mode
            group["owner"] = {"name": self.security_user["name"],
                              "backend_roles": list(self.security_user.get("backend_roles", []))}
            if add_all:
                roles = list(self.security_user.get("backend_roles", []))
            if roles:
                group["backend_roles"] = list(roles)
        return {"model_group_id": gid, "status": "CREATED"}

    def update_group(self, gid, body):
        body = body or {}
        group = self.groups.get(gid)
        if group is None:
            raise error(404, "Failed to find model group with the provided model group id: %s" % gid)
        self._access_fields_allowed(body)
        roles, add_all, mode = body.get("backend_roles"), body.get("add_all_backend_roles"), body.get("access_mode")
        if self.security_user:
            self._check_access_rules(mode, roles, add_all, creating=False)
        if body.get("name") and body["name"] != group["name"]:
            for other, doc in self.groups.items():
                if other != gid and doc["name"] == body["name"]:
                    raise error(400, "The name you provided is already being used by another model with ID: %s. "
                                "Please provide a different name" % other, "illegal_argument_exception")
            group["name"] = body["name"]
        if body.get("description"):
            group["description"] = body["description"]
        # TransportUpdateModelGroupAction: a mode other than restricted clears the backend roles; roles
        # without a mode make the group restricted.
        if mode is not None:
            group["access"] = mode
            if mode != "restricted":
                group["backend_roles"] = []
        elif roles is not None or add_all:
            group["access"] = "restricted"
        if roles is not None:
            group["backend_roles"] = list(roles)
        if add_all:
            group["backend_roles"] = list(self.security_user.get("backend_roles", []))
        group["last_updated_time"] = self.now()
        return {"status": "Updated"}

    def _check_group_access(self, gid):
        """Register into a group needs access to it (ModelAccessControlHelper): owner, admin, public, or a
        shared backend role for restricted."""
        if not (self.security_user and self.setting("plugins.ml_commons.model_access_control_enabled") == "true"):
            return
        group, user = self.groups[gid], self.security_user
        if "all_access" in user.get("roles", []) or group.get("access", "public") == "public":
            return
        if (group.get("owner") or {}).get("name") == user["name"]:
            return
        if group.get("access") == "restricted" and set(group.get("backend_roles") or []) & set(
                user.get("backend_roles", [])):
            return
        raise error(403, "User doesn't have valid privilege to perform this operation on this model group")

    # -- what uses a model: pipelines and agents ------------------------------------------------
    def _init_model_side(self):
        # Stored in the shapes the pipeline section of this file uses (PUT and DELETE are handled there).
        self.pipelines = {"_ingest": {}, "_search": {}}   # name -> body, as GET _ingest|_search/pipeline
        self.agents = None                 # agent_id -> document; None: the agent index does not exist yet
        self.security_user = None          # {"name", "backend_roles", "roles"}: the security plugin is on
        # Models in model groups the caller may not access (model access control, observed on the secure
        # 2.19.1 profile): the caller's _search leaves them out and its GET is refused with 403, while the
        # connector delete's in-use check (DeleteConnectorTransportAction, run in a stashed thread context)
        # counts them and names them in its 409.
        self.hidden_models = set()

    def route_model_users(self, method, path):
        if path.rstrip("/") == "_plugins/_security/authinfo" and method == "GET":
            if self.security_user is None:
                # Without the security plugin OpenSearch answers 400 for a path nobody handles.
                return 400, {"error": "no handler found for uri [/%s] and method [%s]" % (path, method)}
            user = self.security_user
            return 200, {"user_name": user["name"], "backend_roles": list(user.get("backend_roles", [])),
                         "roles": list(user.get("roles", []))}
        kind = path.split("/")[0]
        if method == "GET" and path.rstrip("/") in ("_ingest/pipeline", "_search/pipeline"):
            # Both APIs answer 404 with an empty object when there is no pipeline at all (3.6).
            store = self.pipelines[kind]
            return (200, copy.deepcopy(store)) if store else (404, {})
        raise error(404, "no handler found for uri [/%s] and method [%s]" % (path, method))

    def route_agents(self, method, tail, body):
        if tail == ["_search"] and method in ("GET", "POST"):
            if self.agents is None:
                # Before the first agent, 3.6 answers 404 index_not_found_exception for .plugins-ml-agent.
                raise error(404, "no such index [.plugins-ml-agent]", "index_not_found_exception")
            return 200, self.search(self.agents, body)
        return self._unsupported(method, tail)

    # -- tasks -------------------------------------------------------------------------------
    def route_tasks(self, method, tail, body):
        if len(tail) == 1 and method == "GET":
            task = self.tasks.get(tail[0])
            if task is None:
                raise error(404, "Failed to find task")
            self._tick(task.get("model_id"))
            return 200, copy.deepcopy(self.tasks[tail[0]])
        return self._unsupported(method, tail)


MODEL_USER_PATHS = ("_ingest/", "_search/pipeline", "_plugins/_security/")
# What MLModel keeps of the structured model fields (checked against a 3.6 node): interface only
# "input"/"output", each as a JSON string; rate_limiter "limit" and "unit"; guardrails "type",
# "input_guardrail", "output_guardrail" (a guardrail keeps GUARDRAIL_KEYS, not an empty list); the limit
# is stored as a string, the unit must be a TimeUnit name. Other keys are dropped without an error.
GUARDRAIL_KEYS = ("stop_words", "regex", "model_id", "response_filter", "response_validation_regex")
TIME_UNITS = ("NANOSECONDS", "MICROSECONDS", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS")
MODEL_FIELD_KEYS = {"interface": ("input", "output"), "rate_limiter": ("limit", "unit"),
                    "guardrails": ("type", "input_guardrail", "output_guardrail")}


def stored_model_fields(body):
    out = {}
    for field, keys in MODEL_FIELD_KEYS.items():
        value = body.get(field)
        if value is None:
            continue
        kept = {k: v for k, v in value.items() if k in keys}
        if field == "guardrails":
            kept = {k: ({g: x for g, x in v.items() if g in GUARDRAIL_KEYS and x != []} if isinstance(v, dict) else v)
                    for k, v in kept.items()}
        if field == "rate_limiter":
            if kept.get("unit") is not None and kept["unit"] not in TIME_UNITS:
                raise error(400, "No enum constant java.util.concurrent.TimeUnit.%s" % kept["unit"],
                            "illegal_argument_exception")
            if kept.get("limit") is not None:
                kept["limit"] = str(kept["limit"])
        if field == "interface":
            kept = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in kept.items()}
        out[field] = kept
    return out


def merge_object(current, change):
    if not isinstance(current, dict) or not isinstance(change, dict):
        return copy.deepcopy(change)
    out = copy.deepcopy(current)
    for key, value in change.items():
        out[key] = merge_object(out.get(key), value)
    return out


def mentions_id(value, wanted):
    if isinstance(value, dict):
        return any(mentions_id(v, wanted) for v in value.values())
    if isinstance(value, list):
        return any(mentions_id(v, wanted) for v in value)
    return value == wanted


CLIENT_CONFIG_DEFAULTS = {
    "max_connection": 30, "connection_timeout": 30, "read_timeout": 30, "retry_backoff_millis": 200,
    "retry_timeout_seconds": 30, "max_retry_times": 0, "retry_backoff_policy": "constant",
}


def parse_client_config(value):
    """ML Commons ConnectorClientConfig.parse (3.6): numbers read with intValue (a numeric string is
    accepted), retry_backoff_policy through RetryBackoffPolicy.from (upper-cased in, lower-case out),
    any other key skipped without an error; the defaults fill every key not given."""
    out = dict(CLIENT_CONFIG_DEFAULTS)
    for key, item in (value or {}).items():
        if key == "retry_backoff_policy":
            if str(item).upper() not in ("CONSTANT", "EXPONENTIAL_EQUAL_JITTER", "EXPONENTIAL_FULL_JITTER"):
                raise error(400, "Unsupported retry backoff policy", "illegal_argument_exception")
            out[key] = str(item).lower()
        elif key == "skip_ssl_verification":
            out[key] = str(item).lower() == "true"
        elif key in CLIENT_CONFIG_DEFAULTS:
            out[key] = int(float(item))
    return out


def default_action(url="https://api.openai.com/v1/embeddings"):
    return {
        "action_type": "PREDICT",
        "method": "POST",
        "url": url,
        "headers": {"Authorization": "Bearer ${credential.api_key}", "Content-Type": "application/json"},
        "request_body": '{ "model": "${parameters.model}", "input": ${parameters.input} }',
        "pre_process_function": "connector.pre_process.openai.embedding",
        "post_process_function": "connector.post_process.openai.embedding",
    }


# -- ingest and search pipelines, ML Commons agents ----------------------------------------------
class PipelineServer(FakeServer):
    """FakeServer plus OpenSearch ingest and search pipelines and the ML Commons agent search.

    Seen on OpenSearch 3.6.0 with ML Commons, k-NN and neural-search 3.6.0.0:

    * ``GET _ingest/pipeline[/NAME]`` and ``GET _search/pipeline[/NAME]`` answer ``{NAME: body}``
      with the body exactly as it was sent, and 404 with ``{}`` when there is none;
    * ``PUT`` stores the body whole (replaces it) and answers ``{"acknowledged": true}``; a top-level
      key the kind does not accept, an ingest pipeline without ``processors``, an unknown processor
      type and a ``model_id`` that is not a string are refused with 400 and the server's reason;
    * ``DELETE`` of a missing pipeline answers 200 ``{"acknowledged": true}``;
    * ``POST _plugins/_ml/agents/_search`` answers 404 ``index_not_found_exception`` until the first
      agent is registered (``agents`` is ``None`` until then).
    """

    PIPELINE_KINDS = {
        "_ingest": (("description", "processors", "on_failure", "version"), ("processors", "on_failure")),
        "_search": (("description", "version", "request_processors", "response_processors",
                     "phase_results_processors"),
                    ("request_processors", "response_processors", "phase_results_processors")),
    }
    PROCESSOR_TYPES = {
        "_ingest": ("set", "remove", "rename", "append", "script", "text_embedding", "sparse_encoding",
                    "text_image_embedding", "text_chunking", "ml_inference"),
        "_search": ("filter_query", "neural_query_enricher", "neural_sparse_two_phase_processor", "ml_inference",
                    "rerank", "retrieval_augmented_generation", "collapse", "truncate_hits",
                    "normalization-processor", "score-ranker-processor"),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pipelines = {"_ingest": {}, "_search": {}}
        self.agents = None

    @property
    def ingest_pipelines(self):
        return self.pipelines["_ingest"]

    @property
    def search_pipelines(self):
        return self.pipelines["_search"]

    def add_agent(self, name, agent_id=None, **fields):
        aid = agent_id or self.new_id()
        if self.agents is None:
            self.agents = {}
        self.agents[aid] = dict({"name": name, "type": "flow", "tools": []}, **fields)
        return aid

    def route(self, method, path, params, body):
        parts = path.split("/")
        if len(parts) in (2, 3) and parts[0] in self.pipelines and parts[1] == "pipeline":
            return self.route_pipelines(method, parts[0], unquote(parts[2]) if len(parts) == 3 else None, body)
        if path == ML + "/agents/_search" and method in ("GET", "POST"):
            if self.agents is None:
                raise error(404, "no such index [.plugins-ml-agent]", "index_not_found_exception")
            return 200, self.search(self.agents, body)
        return super().route(method, path, params, body)

    def route_pipelines(self, method, kind, name, body):
        store = self.pipelines[kind]
        if method == "GET":
            # A comma-separated list answers the pipelines it names that exist, 404 with {} when none
            # does (GET _ingest/pipeline/a,b and GET _search/pipeline/a,b on 3.6).
            names = None if name is None else name.split(",")
            found = {n: copy.deepcopy(b) for n, b in store.items() if names is None or n in names}
            return (200, found) if found else (404, {})
        if name is None:
            return self._unsupported(method, [kind, "pipeline"])
        if method == "PUT":
            self._validate_pipeline(kind, name, body or {})
            store[name] = copy.deepcopy(body)
            return 200, {"acknowledged": True}
        if method == "DELETE":
            store.pop(name, None)
            return 200, {"acknowledged": True}
        return self._unsupported(method, [kind, "pipeline", name])

    def _validate_pipeline(self, kind, name, body):
        accepted, lists = self.PIPELINE_KINDS[kind]
        unknown = [k for k in body if k not in accepted]
        if unknown:
            raise error(400, "pipeline [%s] doesn't support one or more provided configuration parameters [%s]"
                        % (name, ", ".join(unknown)), "parse_exception")
        if kind == "_ingest" and "processors" not in body:
            raise error(400, "[processors] required property is missing", "parse_exception")
        for key in lists:
            for processor in body.get(key) or []:
                (ptype, config), = processor.items()
                if ptype not in self.PROCESSOR_TYPES[kind]:
                    if kind == "_ingest":
                        raise error(400, "No processor type exists with name [%s]" % ptype, "parse_exception")
                    raise error(400, "Invalid processor type %s" % ptype, "illegal_argument_exception")
                for holder in (config, config.get("ml_opensearch") or {}):
                    if "model_id" in holder and not isinstance(holder["model_id"], str):
                        raise error(400, "[model_id] property isn't a string, but of type [%s]" % (
                            "java.util.HashMap" if isinstance(holder["model_id"], dict) else "java.util.ArrayList"),
                            "parse_exception")


# -- indexes -----------------------------------------------------------------------------------------
class IndexServer(PipelineServer):
    """PipelineServer plus indexes with mappings and settings.

    Seen on OpenSearch 3.6.0 with k-NN 3.6.0.0 (docs/local-cluster.md, "Indexes"):

    * ``GET NAME?flat_settings=true`` answers ``{NAME: {aliases, mappings, settings}}``; the settings are
      flat, ``index.``-prefixed strings, with the ones the server sets (``index.uuid``,
      ``index.creation_date``, ``index.provided_name``, ``index.version.created``, shards and replicas);
      a missing index is 404 ``index_not_found_exception``;
    * ``PUT NAME`` creates it (400 ``resource_already_exists_exception`` when it exists); settings given
      as booleans or numbers are stored as strings; the mappings come back as sent (a ``knn_vector``'s
      ``method`` gets ``parameters: {}``);
    * ``PUT NAME/_mapping`` adds fields and merges the parameters of existing ones; another ``type`` is
      refused with 400 ``illegal_argument_exception`` "mapper [F] cannot be changed from type [A] to [B]",
      another ``dimension`` with 400 ``illegal_argument_exception`` "Mapper for [F] conflicts with existing
      mapper: Cannot update parameter [dimension] from [A] to [B]"; ``_meta`` is replaced whole;
    * ``PUT NAME/_settings`` refuses a static setting (``index.knn``, ``index.number_of_shards``) on an open
      index with 400 ``illegal_argument_exception`` "Can't update non dynamic settings [[KEY]] for open
      indices [[NAME/UUID]]";
    * ``DELETE NAME`` of a missing index is 404 ``index_not_found_exception``.
    """

    STATIC = ("index.knn", "index.number_of_shards", "index.codec")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.indexes = {}

    def add_index(self, name, mappings=None, settings=None):
        self._create_index(name, {"mappings": copy.deepcopy(mappings or {}), "settings": settings or {}})

    def route(self, method, path, params, body):
        parts = path.split("/")
        if parts == ["_settings", parts[-1]] and method == "GET":
            return 200, self.settings_named(unquote(parts[1]).split(","))
        if len(parts) == 1 and "," in parts[0] and method == "GET":
            names = unquote(parts[0]).split(",")
            return 200, {n: self.route_index("GET", n, None, params, None)[1][n] for n in names if n in self.indexes}
        if parts[0] and not parts[0].startswith("_") and len(parts) <= 2:
            return self.route_index(method, unquote(parts[0]), parts[1] if len(parts) == 2 else None, params, body)
        return super().route(method, path, params, body)

    def settings_named(self, keys):
        """``GET _settings/a,b?flat_settings=true`` on 3.6: the indexes that have one of the settings, each with
        only those; ``{}`` when none has (docs/local-cluster.md, "Indexes"). ``GET a,b`` answers both indexes."""
        found = {name: {k: v for k, v in index["settings"].items() if k in keys} for name, index in self.indexes.items()}
        return {name: {"settings": flat} for name, flat in found.items() if flat}

    def _missing(self, name):
        return error(404, "no such index [%s]" % name, "index_not_found_exception")

    def route_index(self, method, name, tail, params, body):
        index = self.indexes.get(name)
        if tail is None and method == "PUT":
            if index is not None:
                raise error(400, "index [%s/%s] already exists" % (name, "u"), "resource_already_exists_exception")
            self._create_index(name, body or {})
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}
        if index is None:
            raise self._missing(name)
        if tail is None and method == "GET":
            return 200, {name: {"aliases": {}, "mappings": copy.deepcopy(index["mappings"]),
                                "settings": dict(index["settings"])}}
        if tail is None and method == "DELETE":
            del self.indexes[name]
            return 200, {"acknowledged": True}
        if tail == "_mapping" and method == "PUT":
            self._put_mapping(name, body or {})
            return 200, {"acknowledged": True}
        if tail == "_settings" and method == "PUT":
            flat = {k if k.startswith("index.") else "index." + k: setting_string(v)
                    for k, v in flatten_settings(body or {}).items()}
            static = [k for k in flat if k in self.STATIC]
            if static:
                raise error(400, "Can't update non dynamic settings [[%s]] for open indices [[%s/%s]]" % (
                    ", ".join(static), name, index["settings"]["index.uuid"]), "illegal_argument_exception")
            index["settings"].update(flat)
            return 200, {"acknowledged": True}
        return self._unsupported(method, [name, tail or ""])

    def _create_index(self, name, body):
        settings = {k if k.startswith("index.") else "index." + k: setting_string(v)
                    for k, v in flatten_settings(body.get("settings") or {}).items()}
        settings = dict({"index.number_of_shards": "1", "index.number_of_replicas": "1",
                         "index.uuid": self.new_id(), "index.creation_date": "1764600000000",
                         "index.provided_name": name, "index.version.created": "137287827"}, **settings)
        mappings = copy.deepcopy(body.get("mappings") or {})
        self._stored_fields(mappings.get("properties") or {})
        self.indexes[name] = {"mappings": mappings, "settings": settings}

    @staticmethod
    def _stored_fields(properties):
        for spec in properties.values():
            if spec.get("type") == "knn_vector" and isinstance(spec.get("method"), dict):
                spec["method"].setdefault("parameters", {})
            IndexServer._stored_fields(spec.get("properties") or {})

    def _put_mapping(self, name, body):
        mappings = self.indexes[name]["mappings"]
        merged = copy.deepcopy(mappings.get("properties") or {})
        self._merge_fields(merged, body.get("properties") or {})
        mappings["properties"] = merged
        for key, value in body.items():
            if key != "properties":
                mappings[key] = copy.deepcopy(value)

    def _merge_fields(self, stored, change, prefix=""):
        for field, spec in change.items():
            have = stored.get(field)
            if have is None:
                stored[field] = copy.deepcopy(spec)
                self._stored_fields({field: stored[field]})
                continue
            want_type = spec.get("type", "object" if "properties" in spec else None)
            have_type = have.get("type", "object")
            if want_type and want_type != have_type:
                raise error(400, "mapper [%s%s] cannot be changed from type [%s] to [%s]" % (
                    prefix, field, have_type, want_type), "illegal_argument_exception")
            if "dimension" in spec and spec["dimension"] != have.get("dimension"):
                raise error(400, "Mapper for [%s%s] conflicts with existing mapper:\n\tCannot update parameter "
                            "[dimension] from [%s] to [%s]" % (prefix, field, have.get("dimension"), spec["dimension"]),
                            "illegal_argument_exception")
            self._merge_fields(have.setdefault("properties", {}) if "properties" in spec else {},
                               spec.get("properties") or {}, prefix + field + ".")
            have.update({k: v for k, v in spec.items() if k != "properties"})


# -- answers of remote models ------------------------------------------------------------------------
def tensors(name, rows):
    """``inference_results`` of one predict whose output is one tensor named ``name`` per row of numbers."""
    return [{"output": [{"name": name, "data_type": "FLOAT32", "shape": [len(row)], "data": row} for row in rows],
             "status_code": 200}]


# What the default stack's models answer a predict through ML Commons, in the shapes the built-in presets'
# post-process functions give (docs/local-cluster.md): a vector, one similarity per document, a chat body.
DEFAULT_STACK_ANSWERS = {
    "text-embedding-v4": tensors("sentence_embedding", [[0.1, 0.2, 0.3, 0.4]]),
    "qwen3-rerank": tensors("similarity", [[0.9], [0.1]]),
    "qwen-max": [{"output": [{"name": "response", "dataAsMap": {"choices": [{"message": {"content": "ready"}}]}}],
                  "status_code": 200}],
}
