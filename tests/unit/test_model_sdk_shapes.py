# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model APIs kept honest by their official clients.

For every built-in preset of the ml_stack role and every kind, the request the connector sends (the preset's
action rendered the way ML Commons fills it at predict time) and the request the official SDK sends for the
same input reach tests/tools/model_service.py on the same path with the same shape (keys, value types,
nesting); the stand-in's answers parse with the SDK's own response types. Both requests are captured by the
stand-in's request log, so what is compared is what went over the wire.

The SDKs are test dependencies (requirements-dev.txt): ``openai`` for the OpenAI-compatible embeddings and
chat (DashScope documents its compatible mode for that client), ``dashscope`` for the DashScope text rerank.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import threading
from pathlib import Path

import pytest
import requests
import yaml

openai = pytest.importorskip("openai", reason="the openai SDK is a test dependency (requirements-dev.txt)")
dashscope = pytest.importorskip("dashscope", reason="the dashscope SDK is a test dependency (requirements-dev.txt)")

from ansible_collections.polardb.polarsearch.plugins.plugin_utils.ml_stack_input import resolve  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "tools"))
import model_service  # noqa: E402  pylint: disable=wrong-import-position

PRESETS_DIR = REPO / "roles" / "ml_stack" / "vars" / "presets"
BUILTIN = {path.stem: yaml.safe_load(path.read_text())["ml_stack__preset"] for path in PRESETS_DIR.glob("*.yml")}
API_KEY = "sdk-shape-key-0001"
KINDS = ("embedding", "rerank", "llm")

# The base URL each official client is given for a preset, as the providers document it: DashScope's
# OpenAI-compatible mode is <host>/compatible-mode/v1, its native API <host>/api/v1; a self-hosted
# OpenAI-compatible server (vLLM, text-embeddings servers) serves <host>/v1.
OPENAI_BASE = {"dashscope": "/compatible-mode/v1", "openai_compatible": "/v1"}
DASHSCOPE_BASE = "/api/v1"

# Keys the SDK sends that the connector leaves out on purpose, each an optional field whose API default is
# what the connector wants: the openai client asks for base64 embeddings unless told otherwise and decodes
# them itself; the API default, which ML Commons' openai.embedding post-process reads, is float arrays.
SDK_ONLY_KEYS = {"embedding": {"encoding_format"}}

# The Cohere/Jina/vLLM /v1/rerank request that the openai_compatible rerank preset speaks. Neither official
# client covers it (the openai client has no rerank call), so its shape is the one vLLM documents for
# POST /v1/rerank; top_n may be null (vLLM: "top_n: int | None"), meaning every document.
VLLM_RERANK_REQUEST_SHAPE = {"model": "str", "query": "str", "documents": ["str"], "top_n": "int"}

QUERY = "What is PolarSearch?"
DOCUMENTS = ["PolarSearch is a search service of PolarDB.", "Paris is the capital of France."]
EMBED_INPUT = ["PolarSearch is a search service of PolarDB.", "Vectors \"quoted\" and\nnew lines"]
MESSAGES = [{"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Reply with one word - ready?"}]


# --------------------------------------------------------------------------
# The model service on a loopback port
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def service():
    server = model_service.make_server(port=0, api_key=API_KEY)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def log(service):
    service.state.clear_requests()

    def last(path_suffix=""):
        items = [r for r in service.state.list_requests() if r["path"].endswith(path_suffix)]
        assert items, "the model service saw no request to *%s" % path_suffix
        return items[-1]
    return last


def host_port(service):
    return "127.0.0.1:%d" % service.server_address[1]


# --------------------------------------------------------------------------
# The connector's request, as ML Commons builds it
# --------------------------------------------------------------------------

def connector_of(preset, kind, service, presets=None):
    """The connector the role creates for ``kind`` with ``preset`` (plugin_utils.ml_stack_input.resolve)."""
    models = [{"name": "m-" + kind, "kind": kind}]
    options = {"state": "present", "name_prefix": "", "preset": preset, "endpoint": host_port(service),
               "scheme": "http", "has_api_key": True, "presets": {}}
    stack = resolve(models, presets or BUILTIN, options)
    assert stack["problems"] == []
    return stack["models"][0]


def escape(value):
    """ConnectorUtils.escapeRemoteInferenceInputData: JSON (object or array) as is, other values
    JSON-string-escaped without the surrounding quotes (docs: ml-commons-rest.md, 7.2 step 2)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value))[1:-1]


def fill(template, parameters):
    """HttpConnector.createPayload: ${parameters.X} and ${parameters.X:-default} substituted; an
    unresolved placeholder is the 400 'Some parameter placeholder not filled in payload'."""
    def one(match):
        name, default = match.group(1), match.group(3)
        if name in parameters:
            return parameters[name]
        if default is not None:
            return default
        raise AssertionError("Some parameter placeholder not filled in payload: %s" % name)
    return re.sub(r"\$\{parameters\.([\w.]+)(:-([^}]*))?\}", one, template)


def pre_process(function, query, documents):
    """What the built-in pre-process functions put into the parameters on the typed predict path
    (text_embedding / text_similarity), as ML Commons' OpenAIEmbeddingPreProcessFunction and
    CohereRerankPreProcessFunction do: input = the text docs; query, documents and top_n = their number."""
    if function == "connector.pre_process.openai.embedding":
        return {"input": documents}
    if function == "connector.pre_process.cohere.rerank":
        return {"query": query, "documents": documents, "top_n": len(documents)}
    raise AssertionError("no model of the pre-process function %s" % function)


def connector_request(model, predict_parameters):
    """(url, headers, body) of the connector's predict request with these predict parameters."""
    connector = model["connector"]
    action = connector["actions"][0]
    merged = dict(connector["parameters"])
    merged.update(predict_parameters)
    escaped = {k: escape(v) for k, v in merged.items()}
    body_text = fill(action["request_body"], escaped)
    body = json.loads(body_text)  # ML Commons: 400 "Invalid payload" unless it is JSON
    url = fill(action["url"], {k: str(v) for k, v in connector["parameters"].items()})
    headers = {k: v.replace("${credential.api_key}", API_KEY) for k, v in action["headers"].items()}
    return url, headers, body


def post_connector_request(model, predict_parameters):
    url, headers, body = connector_request(model, predict_parameters)
    return requests.post(url, headers=headers, data=json.dumps(body), timeout=10)


def send_connector_request(model, predict_parameters):
    answer = post_connector_request(model, predict_parameters)
    assert answer.status_code == 200, answer.text
    return answer.json()


# --------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------

def shape(value):
    """Keys, value types and nesting of a JSON value; the values themselves are left out."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        items = []
        for item in value:
            if shape(item) not in items:
                items.append(shape(item))
        return items
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str"}[type(value)]


def shape_differences(connector, sdk, sdk_only=(), path=""):
    """Where the two shapes differ, as readable lines; empty when they agree. A null the connector sends
    (an optional ${parameters.X:-null}) agrees with any type of the SDK's value."""
    out = []
    if isinstance(connector, dict) and isinstance(sdk, dict):
        for key in sorted(set(connector) | set(sdk)):
            where = "%s.%s" % (path, key) if path else key
            if key not in sdk:
                out.append("%s: the connector sends it, the SDK does not" % where)
            elif key not in connector:
                if where not in sdk_only:
                    out.append("%s: the SDK sends it, the connector does not" % where)
            else:
                out.extend(shape_differences(connector[key], sdk[key], sdk_only, where))
        return out
    if isinstance(connector, list) and isinstance(sdk, list):
        if len(connector) != len(sdk):
            return ["%s: items of %s vs %s" % (path, connector, sdk)]
        for a, b in zip(connector, sdk):
            out.extend(shape_differences(a, b, sdk_only, path + "[]"))
        return out
    if connector == "null" or connector == sdk:
        return []
    return ["%s: the connector sends %s, the SDK %s" % (path or "body", json.dumps(connector), json.dumps(sdk))]


def test_shape_differences_names_a_renamed_key():
    sdk = shape({"model": "m", "input": {"query": "q", "documents": ["d"]}})
    renamed = shape({"model": "m", "input": {"query": "q", "docs": ["d"]}})
    assert shape_differences(renamed, sdk) == ["input.docs: the connector sends it, the SDK does not",
                                               "input.documents: the SDK sends it, the connector does not"]
    assert shape_differences(shape({"model": "m", "input": "q"}), shape({"model": "m", "input": ["q"]})) == [
        'input: the connector sends "str", the SDK ["str"]']


# --------------------------------------------------------------------------
# What each SDK sends (and how it reads the answer)
# --------------------------------------------------------------------------

def openai_client(preset, service):
    return openai.OpenAI(base_url="http://%s%s" % (host_port(service), OPENAI_BASE[preset]), api_key=API_KEY,
                         max_retries=0, timeout=10)


def sdk_request(preset, kind, model_name, service, log, monkeypatch):
    """The SDK's request body and path for the same input, and the parsed answer."""
    if kind == "embedding":
        answer = openai_client(preset, service).embeddings.create(model=model_name, input=EMBED_INPUT,
                                                                  encoding_format="float")
        assert isinstance(answer, openai.types.CreateEmbeddingResponse)
        assert [len(d.embedding) for d in answer.data] == [model_service.DEFAULT_DIMENSIONS] * len(EMBED_INPUT)
        seen = log("/embeddings")
    elif kind == "llm":
        answer = openai_client(preset, service).chat.completions.create(model=model_name, messages=MESSAGES)
        assert isinstance(answer, openai.types.chat.ChatCompletion)
        assert answer.choices[0].message.role == "assistant" and answer.choices[0].message.content
        seen = log("/chat/completions")
    elif preset == "dashscope":
        monkeypatch.setattr(dashscope, "base_http_api_url", "http://%s%s" % (host_port(service), DASHSCOPE_BASE))
        answer = dashscope.TextReRank.call(model=model_name, query=QUERY, documents=DOCUMENTS, return_documents=True,
                                           api_key=API_KEY)
        assert answer.status_code == 200, answer
        assert sorted(r.index for r in answer.output.results) == [0, 1]
        # ReRankResult keeps the fields as dict items (its class attribute ``document`` is None)
        assert all(0 <= r.relevance_score <= 1 and r["document"]["text"] for r in answer.output.results)
        seen = log("/text-rerank")
    else:
        return None
    return seen


def predict_inputs(kind):
    """The predict parameters (verify path) for the same input the SDK gets."""
    return {"embedding": {"input": EMBED_INPUT}, "rerank": {"query": QUERY, "documents": DOCUMENTS},
            "llm": {"messages": MESSAGES}}[kind]


def template_presets():
    return sorted(name for name, preset in BUILTIN.items() if not preset.get("custom"))


def test_every_builtin_preset_with_templates_has_an_sdk_to_check_it():
    assert template_presets() == sorted(OPENAI_BASE)
    assert all(BUILTIN[name]["kinds"][kind].get("request_body") for name in template_presets() for kind in KINDS)
    # the custom preset carries no request template: the user gives the whole connector
    assert all(name in OPENAI_BASE or BUILTIN[name].get("custom") for name in BUILTIN)


def check_preset_kind(preset, kind, service, log, monkeypatch, presets=None):
    """The differences between the connector's and the SDK's requests, for both predict paths."""
    model = connector_of(preset, kind, service, presets)
    model_name = model["connector"]["parameters"]["model"]
    seen = sdk_request(preset, kind, model_name, service, log, monkeypatch)
    reference = {"path": seen["path"], "shape": shape(seen["body"])} if seen else None
    if reference is None:  # openai_compatible rerank: no official client speaks /v1/rerank
        reference = {"path": "/v1/rerank", "shape": VLLM_RERANK_REQUEST_SHAPE}
    problems = []
    paths = [predict_inputs(kind)]
    function = model["connector"]["actions"][0].get("pre_process_function")
    if function:
        text = {"embedding": EMBED_INPUT, "rerank": DOCUMENTS}[kind]
        paths.append(pre_process(function, QUERY, text))
    for parameters in paths:
        url, _headers, body = connector_request(model, parameters)
        answer = post_connector_request(model, parameters)
        if answer.status_code != 200:
            problems.append("the model service answers the connector %d: %s" % (answer.status_code, answer.text))
        sent = log()
        if sent["path"] != reference["path"] or url != "http://%s%s" % (host_port(service), reference["path"]):
            problems.append("path: the connector posts to %s, the SDK to %s" % (sent["path"], reference["path"]))
        assert sent["body"] == body
        problems.extend(shape_differences(shape(body), reference["shape"], SDK_ONLY_KEYS.get(kind, ())))
    return problems


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("preset", template_presets())
def test_connector_request_has_the_sdk_shape(preset, kind, service, log, monkeypatch):
    assert check_preset_kind(preset, kind, service, log, monkeypatch) == []


@pytest.mark.parametrize("preset,kind,old,new", [
    ("dashscope", "embedding", '"input"', '"inputs"'),
    ("dashscope", "rerank", '"documents"', '"docs"'),
    ("dashscope", "llm", '"messages"', '"message"'),
    ("openai_compatible", "embedding", '"input"', '"text"'),
    ("openai_compatible", "rerank", '"query"', '"question"'),
    ("openai_compatible", "llm", '"model"', '"model_name"'),
])
def test_a_renamed_request_key_is_found(preset, kind, old, new, service, log, monkeypatch):
    presets = copy.deepcopy(BUILTIN)
    template = presets[preset]["kinds"][kind]
    assert old in template["request_body"]
    template["request_body"] = template["request_body"].replace(old, new, 1)
    problems = check_preset_kind(preset, kind, service, log, monkeypatch, presets)
    where = ("input." if (preset, kind) == ("dashscope", "rerank") else "") + new.strip('"')
    assert "%s: the connector sends it, the SDK does not" % where in problems, problems


# --------------------------------------------------------------------------
# The stand-in's answers, read by the SDKs' own types
# --------------------------------------------------------------------------

@pytest.mark.parametrize("preset", template_presets())
def test_embeddings_parse_as_floats_base64_and_with_dimensions(preset, service, log):
    client = openai_client(preset, service)
    floats = client.embeddings.create(model="m", input=EMBED_INPUT, encoding_format="float")
    default = client.embeddings.create(model="m", input=EMBED_INPUT)
    assert log("/embeddings")["body"]["encoding_format"] == "base64"  # the SDK's default, decoded by the SDK
    for a, b in zip(floats.data, default.data):
        assert len(a.embedding) == len(b.embedding) == model_service.DEFAULT_DIMENSIONS
        assert max(abs(x - y) for x, y in zip(a.embedding, b.embedding)) < 1e-6
    short = client.embeddings.create(model="m", input=EMBED_INPUT, dimensions=256)
    assert log("/embeddings")["body"]["dimensions"] == 256
    assert [len(d.embedding) for d in short.data] == [256, 256]
    assert short.usage.total_tokens > 0 and short.model == "m"


@pytest.mark.parametrize("preset", template_presets())
def test_connector_answers_parse_with_the_sdk_types(preset, service, log):
    embedding = send_connector_request(connector_of(preset, "embedding", service), predict_inputs("embedding"))
    parsed = openai.types.CreateEmbeddingResponse.model_validate(embedding)
    assert [d.index for d in parsed.data] == [0, 1]
    chat = send_connector_request(connector_of(preset, "llm", service), predict_inputs("llm"))
    assert openai.types.chat.ChatCompletion.model_validate(chat).choices[0].finish_reason == "stop"


def test_dashscope_rerank_answer_parses_with_the_dashscope_type(service, log):
    raw = send_connector_request(connector_of("dashscope", "rerank", service), predict_inputs("rerank"))
    # the answer of the connector's request, through the SDK's own response type
    response = dashscope.api_entities.dashscope_response.ReRankResponse.from_api_response(
        dashscope.api_entities.dashscope_response.DashScopeAPIResponse(
            status_code=200, request_id=raw["request_id"], output=raw["output"], usage=raw["usage"]))
    assert [r["document"]["text"] for r in sorted(response.output.results, key=lambda r: r.index)] == DOCUMENTS
    assert response.usage.total_tokens > 0


@pytest.mark.parametrize("preset", template_presets())
def test_streaming_chat_is_refused_and_no_preset_streams(preset, service, log):
    with pytest.raises(openai.BadRequestError, match="stream"):
        openai_client(preset, service).chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert log("/chat/completions")["body"]["stream"] is True
    for kind in KINDS:
        assert "stream" not in BUILTIN[preset]["kinds"][kind]["request_body"]
