"""Predict and info modules, and the credential fingerprint, against the real cluster and model service."""

from __future__ import annotations

import pytest
import requests

from conftest import ML
from specs import EMBED_INPUT, embedding_connector, llm_connector, rerank_connector

FINGERPRINT = "polarsearch_credential_fingerprint"
DOCUMENTS = ["PolarSearch is a search engine built on OpenSearch", "bananas are yellow", "vector search in OpenSearch"]


class ModelService:
    """The local model service's record of the requests it received."""

    def __init__(self, endpoint):
        self.base = "http://%s/admin/requests" % endpoint

    def clear(self):
        requests.delete(self.base, timeout=10)

    def seen(self):
        return requests.get(self.base, timeout=10).json()["requests"]

    def fault(self, spec=None):
        """Make the next requests fail (``{"status": 500, "count": 2}``), or clear the fault."""
        url = self.base.replace("/admin/requests", "/admin/faults")
        if spec is None:
            requests.delete(url, timeout=10)
        else:
            requests.post(url, json=spec, timeout=10).raise_for_status()


@pytest.fixture()
def model_service(env):
    return ModelService(env["endpoint"])


def comparable(request):
    return {"method": request["method"], "path": request["path"], "query": request["query"],
            "headers": request["headers"], "body": request["body"]}


def test_fingerprint_survives_updates_and_changes_no_request(env, rest, ansible, trusted, prefix, cleanup,
                                                             model_service):
    models, connectors = cleanup
    managed, plain = prefix + "-fp", prefix + "-plain"
    connectors.extend([managed, plain])
    models.extend([managed + "-m", plain + "-m"])
    spec = embedding_connector(managed, env)
    assert not ansible.run("polarsearch_connector", spec).get("failed")
    stored = rest.connectors(managed)[0]
    fingerprint = stored["parameters"][FINGERPRINT]

    # The same connector without the fingerprint, made by hand.
    body = dict(embedding_connector(plain, env))
    plain_id = rest.call("POST", ML + "/connectors/_create", body)["connector_id"]
    assert FINGERPRINT not in rest.connectors(plain)[0]["parameters"]

    # Updates through REST keep the fingerprint (parameters merge key by key).
    rest.call("PUT", ML + "/connectors/%s" % stored["connector_id"], {"description": "edited"})
    rest.call("PUT", ML + "/connectors/%s" % stored["connector_id"], {"parameters": {"model": "text-embedding-v4"}})
    assert rest.connectors(managed)[0]["parameters"][FINGERPRINT] == fingerprint

    for connector in (managed, plain):
        result = ansible.run("polarsearch_model", {"name": connector + "-m", "connector": connector,
                                                   "state": "deployed"})
        assert result["model"]["model_state"] == "DEPLOYED", result
    assert rest.models(plain + "-m")[0]["connector_id"] == plain_id

    model_service.clear()
    for model in (managed + "-m", plain + "-m"):
        response = rest.predict(rest.models(model)[0]["model_id"], EMBED_INPUT)
        assert response.status_code == 200, response.text
    seen = model_service.seen()
    assert len(seen) == 2, seen
    assert comparable(seen[0]) == comparable(seen[1]), "the fingerprint parameter changed the request"
    assert FINGERPRINT not in str(seen[0])

    # A rotation through the module replaces the fingerprint and keeps it working.
    rotated = ansible.run("polarsearch_connector", dict(spec, credential={"api_key": "rotated-" + prefix},
                                                        on_deployed_models="redeploy"))
    assert rotated["changed"] is True
    assert rest.connectors(managed)[0]["parameters"][FINGERPRINT] != fingerprint
    failing = rest.predict(rest.models(managed + "-m")[0]["model_id"], EMBED_INPUT)
    assert failing.status_code == 401, "the model service refuses the rotated key: it is in use"
    assert ansible.run("polarsearch_connector", dict(spec, on_deployed_models="redeploy"))["changed"] is True


def test_predict_and_info_modules(env, rest, ansible, trusted, prefix, cleanup):
    models, connectors = cleanup
    makers = {"embed": embedding_connector, "rerank": rerank_connector, "llm": llm_connector}
    for kind, make in makers.items():
        connectors.append("%s-%s-c" % (prefix, kind))
        models.append("%s-%s" % (prefix, kind))
        assert not ansible.run("polarsearch_connector", make(connectors[-1], env)).get("failed")
    embed, rerank, llm = models

    # Check mode never predicts on a model that is not deployed (a predict could deploy it).
    ansible.run("polarsearch_model", {"name": llm, "connector": connectors[2], "state": "present"})
    skipped = ansible.run("polarsearch_predict", {"name": llm, "parameters": {
        "messages": [{"role": "user", "content": "hi"}]}}, check=True)
    assert skipped.get("skipped") is True and rest.models(llm)[0]["model_state"] == "REGISTERED"

    for model, connector in zip(models, connectors):
        assert ansible.run("polarsearch_model", {"name": model, "connector": connector,
                                                 "state": "deployed"})["model"]["model_state"] == "DEPLOYED"

    vectors = ansible.run("polarsearch_predict", {"name": embed, "parameters": EMBED_INPUT})
    assert vectors["changed"] is False and len(vectors["embeddings"]) == 2
    assert len(vectors["embeddings"][0]) == 1024 and any(vectors["embeddings"][0])

    ranked = ansible.run("polarsearch_predict", {"name": rerank, "parameters": {
        "query": "what is PolarSearch", "documents": DOCUMENTS}}, check=True)
    assert sorted(r["index"] for r in ranked["rerank"]) == [0, 1, 2]
    assert ranked["rerank"][0]["index"] == 0
    assert all(0 <= r["relevance_score"] <= 1 for r in ranked["rerank"])

    reply = ansible.run("polarsearch_predict", {"name": llm, "parameters": {
        "messages": [{"role": "user", "content": "Tell me about PolarSearch"}]}})
    assert "polarsearch" in reply["text"].lower()

    # Info results use the modules' option names: fed back, they change nothing.
    info = ansible.run("polarsearch_connector_info", {"name": connectors[0]})
    assert len(info["connectors"]) == 1
    entry = {k: v for k, v in info["connectors"][0].items() if k not in ("models", "connector_id")}
    assert "credential" not in entry and FINGERPRINT not in entry["parameters"]
    same = ansible.run("polarsearch_connector", dict(entry, credential={"api_key": env["api_key"]}), check=True)
    assert same["changed"] is False, same["diff"]

    model_info = ansible.run("polarsearch_model_info", {"name": embed})
    assert [m["state"] for m in model_info["models"]] == ["deployed"]
    assert model_info["models"][0]["connector"] == connectors[0]
    assert ansible.run("polarsearch_model_info", {"model_id": "no-such-model"})["models"] == []


def test_model_service_faults_through_ml_commons(env, rest, ansible, trusted, prefix, cleanup, model_service):
    models, connectors = cleanup
    connector, name = prefix + "-c", prefix + "-m"
    connectors.append(connector)
    models.append(name)
    assert not ansible.run("polarsearch_connector", embedding_connector(connector, env)).get("failed")
    assert ansible.run("polarsearch_model", {"name": name, "connector": connector,
                                             "state": "deployed"})["model"]["model_state"] == "DEPLOYED"
    try:
        # One 429 from the model service: ML Commons passes it on, the client retries, the predict answers.
        model_service.fault({"status": 429, "count": 1})
        retried = ansible.run("polarsearch_predict", {"name": name, "parameters": EMBED_INPUT})
        assert not retried.get("failed"), retried
        assert len(retried["embeddings"]) == 2
        statuses = [r["status"] for r in model_service.seen()[-2:]]
        assert statuses == [429, 200], statuses

        # A lasting 500: no retry, and the error names method, path, status and the remote reason.
        model_service.fault({"status": 500, "count": 10})
        failed = ansible.run("polarsearch_predict", {"name": name, "parameters": EMBED_INPUT})
        assert failed["failed"] is True
        assert failed["msg"].startswith("POST _plugins/_ml/models/")
        assert "_predict failed: HTTP 500: Error from remote service" in failed["msg"], failed["msg"]
        assert env["api_key"] not in ansible.last_output
    finally:
        model_service.fault(None)
