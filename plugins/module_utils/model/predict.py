# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Predict on a remote model, and read embeddings, rerank results and reply text from the answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from ansible.module_utils.common.warnings import warn

from ansible_collections.polardb.polarsearch.plugins.module_utils.core.common import (
    ML,
    ModuleFailure,
    parse_json_text,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.model.model import find_model, get_model

# States in which a model answers a predict without the server deploying it first.
SERVING_STATES = ("DEPLOYED", "PARTIALLY_DEPLOYED")
# States a deployed model can be read in for seconds: when a _deploy of another run is refused (409, or
# 500 on 2.19, version conflict on the model document), ML Commons writes DEPLOY_FAILED into the model
# until the running deploy or its sync-up job (every 10 s by default) writes DEPLOYED again (seen on 3.6
# for up to 8 s with three runs deploying at once).
UNSETTLED_STATES = ("DEPLOY_FAILED", "DEPLOYING")
SETTLE_TIMEOUT = 20


# -- the run ----------------------------------------------------------------------------
def describe(model):
    return "%s (%s)" % (model.get("name"), model["model_id"])


@dataclass(frozen=True)
class PredictRequest:
    """One predict as the task asks for it, read once from the module's options: the model (by ``name`` or
    ``model_id``; ``None`` for the one not given), the ``parameters`` sent, and how the predict is made.
    The argument spec is the only input rule (one of name and model_id; parameters required)."""

    name: str | None = None
    model_id: str | None = None
    parameters: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    action_type: str | None = None
    require_deployed: bool = False
    retry_predict: bool = False

    @classmethod
    def from_params(cls, params):
        """Read the options into a request."""
        return cls(
            name=params.get("name"),
            model_id=params.get("model_id"),
            parameters=MappingProxyType(dict(params["parameters"])),
            action_type=params.get("action_type"),
            require_deployed=bool(params.get("require_deployed")),
            retry_predict=bool(params.get("retry_predict")),
        )


def lookup_model(client, request):
    model = find_model(client, name=request.name, model_id=request.model_id)
    if model is None:
        if request.model_id:
            raise ModuleFailure("model_id %s does not exist: check the ID, or set name instead" % request.model_id)
        raise ModuleFailure("no remote model is named %r: check the name (exact match), or set model_id"
                            % request.name)
    return model


def run_predict(params, context):
    """The module's entry: the options become a :class:`PredictRequest` once; ``send_predict`` takes it."""
    return send_predict(PredictRequest.from_params(params), context)


def send_predict(request, context):
    """Send one predict; in check mode only to a model that is deployed already."""
    client = context.client
    model = lookup_model(client, request)
    model_id = model["model_id"]
    if request.require_deployed and model.get("model_state") in UNSETTLED_STATES:
        model = wait_serving(context, model)
    state = model.get("model_state") or "unknown"
    serving = state in SERVING_STATES

    if not serving and request.require_deployed:
        raise ModuleFailure(
            "model %s is %s, not DEPLOYED, and require_deployed is true: deploy it first "
            "(polarsearch_model with state=deployed), or set require_deployed to false to let the server "
            "deploy it on this predict" % (describe(model), state), model_id=model_id, model_state=state)
    if not serving and context.check_mode:
        return {
            "changed": False,
            "skipped": True,
            "model_id": model_id,
            "msg": "check mode: model %s is %s, not DEPLOYED; a predict could make the server deploy it, so "
                   "it was not sent" % (describe(model), state),
        }
    if not serving:
        warn("model %s was %s, not DEPLOYED; the server deploys a model on its first predict when "
             "auto-deploy is enabled, so it may now be deployed" % (describe(model), state))

    parameters = dict(request.parameters)
    body = {"parameters": parameters}
    if request.action_type:
        body["action_type"] = request.action_type
    answer = client.post("%s/models/%s/_predict" % (ML, model_id), body=body,
                         resend=request.retry_predict) or {}
    if not isinstance(answer, dict):
        raise ModuleFailure("the predict answer of model %s is not a JSON object: %s" % (
            describe(model), str(answer)[:500]))
    results = answer.get("inference_results") or []
    parsed = parse_results(results, parameters)
    return dict(parsed, changed=False, model_id=model_id, inference_results=results)


class ModelGone(ModuleFailure):
    """The model was deleted while the run waited for it."""


def wait_serving(context, model):
    """The model once it serves, or as last read after ``SETTLE_TIMEOUT`` seconds (reads only); a
    model deleted meanwhile fails with :class:`ModelGone`."""
    latest = [model]

    def probe():
        current = get_model(context.client, model["model_id"])
        if current is None:
            raise ModelGone("model %s disappeared while waiting for it to be DEPLOYED" % describe(model))
        latest[0] = current
        return current if current.get("model_state") in SERVING_STATES else None

    try:
        return context.wait_for("model %s to be DEPLOYED" % describe(model), probe, SETTLE_TIMEOUT)
    except ModelGone:
        raise
    except ModuleFailure:
        # timed out: the caller names the state it was last read in
        return latest[0]


# -- parsing ----------------------------------------------------------------------------
def parse_results(results, parameters=None):
    """``embeddings``, ``rerank`` and ``text`` read from the raw ``inference_results``.

    Each is empty (``[]``, ``[]``, ``None``) when the answer does not have that shape.
    """
    tensors = [tensor for result in results if isinstance(result, dict)
               for tensor in (result.get("output") or []) if isinstance(tensor, dict)]
    bodies = [tensor["dataAsMap"] for tensor in tensors if isinstance(tensor.get("dataAsMap"), dict)]
    documents = input_documents(parameters)
    return {
        "embeddings": embeddings_of(tensors, bodies),
        "rerank": rerank_of(tensors, bodies, documents),
        "text": text_of(bodies),
    }


def input_documents(parameters):
    """The documents of a rerank request, when the parameters carry them as a list of strings."""
    documents = parse_json_text((parameters or {}).get("documents"))
    if isinstance(documents, list):
        return [doc if isinstance(doc, str) else (doc.get("text") if isinstance(doc, dict) else None)
                for doc in documents]
    return []


def _by_index(items):
    """Items sorted by their ``index`` when every item has one, else in the order given."""
    if items and all(isinstance(item.get("index"), int) for item in items):
        return sorted(items, key=lambda item: item["index"])
    return items


def embeddings_of(tensors, bodies):
    # Post-processed: one sentence_embedding tensor per input, in input order.
    vectors = [tensor.get("data") for tensor in tensors
               if tensor.get("name") == "sentence_embedding" and isinstance(tensor.get("data"), list)]
    if vectors:
        return vectors
    for body in bodies:
        # Raw OpenAI-compatible body: data[*].embedding
        items = [item for item in (body.get("data") or []) if isinstance(item, dict)] \
            if isinstance(body.get("data"), list) else []
        # Raw DashScope native body: output.embeddings[*].embedding
        output = body.get("output")
        if not items and isinstance(output, dict) and isinstance(output.get("embeddings"), list):
            items = [item for item in output["embeddings"] if isinstance(item, dict)]
        items = [item for item in _by_index(items) if isinstance(item.get("embedding"), list)]
        vectors.extend(item["embedding"] for item in items)
    return vectors


def _rerank_entry(item, documents):
    index = item.get("index")
    document = item.get("document")
    if isinstance(document, dict):
        document = document.get("text")
    if document is None and isinstance(index, int) and 0 <= index < len(documents):
        document = documents[index]
    return {"index": index, "relevance_score": item.get("relevance_score"), "document": document}


def _score_key(entry):
    score = entry.get("relevance_score")
    index = entry.get("index")
    return (-(score if isinstance(score, (int, float)) else float("-inf")),
            index if isinstance(index, int) else 0)


def rerank_of(tensors, bodies, documents):
    entries = []
    for body in bodies:
        output = body.get("output")
        if isinstance(output, dict) and isinstance(output.get("results"), list):
            items = output["results"]            # DashScope text-rerank
        elif isinstance(body.get("results"), list):
            items = body["results"]              # /v1/rerank (Cohere, Jina, vLLM, ...)
        else:
            continue
        entries.extend(_rerank_entry(item, documents) for item in items
                       if isinstance(item, dict) and "relevance_score" in item)
    if not entries:
        # Post-processed (connector.post_process.*.rerank): one similarity tensor per document,
        # in input order.
        scores = [tensor.get("data") for tensor in tensors if tensor.get("name") == "similarity"]
        for index, data in enumerate(scores):
            score = data[0] if isinstance(data, list) and data else None
            entries.append({"index": index, "relevance_score": score,
                            "document": documents[index] if index < len(documents) else None})
    return sorted(entries, key=_score_key)


def _content_text(content):
    """Message content as text; a list of parts (``{"type": "text", "text": ...}``) is joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") if isinstance(part, dict) else part for part in content]
        parts = [part for part in parts if isinstance(part, str)]
        return "".join(parts) if parts else None
    return None


def _first_choice_text(choices):
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            return _content_text(message.get("content"))
    return None


def text_of(bodies):
    for body in bodies:
        text = _first_choice_text(body.get("choices"))          # OpenAI chat completions
        output = body.get("output")
        if text is None and isinstance(output, dict):             # DashScope native generation
            if isinstance(output.get("text"), str):
                text = output["text"]
            else:
                text = _first_choice_text(output.get("choices"))
        if text is None and isinstance(body.get("response"), str):  # non-JSON reply or a response field
            text = body["response"]
        if text is not None:
            return text
    return None
