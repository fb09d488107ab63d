"""Contract scenarios: what ML Commons does with the requests the collection sends.

Each scenario talks to a server through ``api(method, path, body=None)``, which answers
``(status, json_body)``, and returns what it observed. The unit suite runs every scenario
against tests/unit/fake_server.py, once as each server version the project proves (:data:`VERSIONS`),
and the integration suite against the real local clusters (3.6.0 and 2.19.1); both compare the observation
with :func:`expected_for` the server's version, so a difference between the fake and the server fails a test.
A scenario deletes what it created.
"""

from __future__ import annotations

from collections import namedtuple

ML = "_plugins/_ml"
MCP_SETTING = "plugins.ml_commons.mcp_connector_enabled"
# A URL in the server's default trusted list, so no setting is needed on either side.
URL = "https://api.openai.com/v1/embeddings"

# ``expected``: the observation, or, where the server's behaviour changed between versions, a tuple of
# ``(first ML Commons version, observation)`` pairs, oldest first.
Scenario = namedtuple("Scenario", "name run expected")
# the server versions the project proves (scripts/polarsearch-local: the secure and the plain profile)
VERSIONS = ("2.19.1", "3.6.0")


def version_tuple(text):
    return tuple(int(part) for part in str(text).split("-", 1)[0].split(".")[:3])


def expected_for(scenario, version):
    """What ``scenario`` observes on a server of ``version``."""
    if not isinstance(scenario.expected, tuple):
        return scenario.expected
    found = None
    for since, observation in scenario.expected:
        if version_tuple(version) >= version_tuple(since):
            found = observation
    assert found is not None, "%s has no expectation for %s" % (scenario.name, version)
    return found


def connector_body(name, **fields):
    body = {
        "name": name,
        "description": "contract scenario",
        "version": 1,
        "protocol": "http",
        "parameters": {"model": "m"},
        "credential": {"api_key": "contract-key-0001"},
        "actions": [{"action_type": "predict", "method": "POST", "url": URL,
                     "headers": {"Authorization": "Bearer ${credential.api_key}"},
                     "request_body": '{ "input": ${parameters.input} }'}],
    }
    body.update(fields)
    return body


def create(api, body):
    status, answer = api("POST", "%s/connectors/_create" % ML, body)
    assert status == 200, (status, answer)
    return answer["connector_id"]


def get(api, cid):
    return api("GET", "%s/connectors/%s" % (ML, cid))[1]


def delete(api, cid):
    return api("DELETE", "%s/connectors/%s" % (ML, cid))


def reason(answer):
    error = (answer or {}).get("error")
    return error.get("reason") if isinstance(error, dict) else str(error)


# -- scenarios ---------------------------------------------------------------------------
def parameters_are_stored_as_strings(api, prefix):
    cid = create(api, connector_body(prefix + "-params", parameters={"n": 7, "f": 0.5, "b": True, "l": [1, 2],
                                                                     "o": {"a": 1}, "s": "text"}))
    try:
        stored = get(api, cid)
        return {"parameters": stored["parameters"], "version": stored["version"]}
    finally:
        delete(api, cid)


def actions_are_normalised(api, prefix):
    cid = create(api, connector_body(prefix + "-actions"))
    try:
        action = get(api, cid)["actions"][0]
        return {"action_type": action["action_type"], "headers": action["headers"],
                "has_supports_structured_output": "supports_structured_output" in action}
    finally:
        delete(api, cid)


def client_config_is_normalised(api, prefix):
    """RetryBackoffPolicy is upper-cased in and lower-case out; numbers come from numeric strings;
    unknown keys are dropped without an error."""
    cid = create(api, connector_body(prefix + "-cc", client_config={
        "retry_backoff_policy": "EXPONENTIAL_FULL_JITTER", "read_timeout": "60", "no_such_key": 5}))
    try:
        stored = get(api, cid)["client_config"]
        observed = {k: stored.get(k) for k in ("retry_backoff_policy", "read_timeout", "max_connection")}
        observed["no_such_key_kept"] = "no_such_key" in stored
        return observed
    finally:
        delete(api, cid)


def credential_is_never_returned(api, prefix):
    name = prefix + "-cred"
    cid = create(api, connector_body(name))
    try:
        status, found = api("POST", "%s/connectors/_search" % ML, {"query": {"term": {"name.keyword": name}}})
        hit = found["hits"]["hits"][0]["_source"]
        return {"get": "credential" in get(api, cid), "search": "credential" in hit}
    finally:
        delete(api, cid)


def update_merges_parameters_key_by_key(api, prefix):
    cid = create(api, connector_body(prefix + "-merge", parameters={"a": "1", "b": "2"}))
    try:
        status, answer = api("PUT", "%s/connectors/%s" % (ML, cid), {"parameters": {"b": "3", "c": 4}})
        return {"status": status, "result": answer.get("result"), "parameters": get(api, cid)["parameters"]}
    finally:
        delete(api, cid)


def delete_of_a_missing_connector(api, prefix):
    cid = create(api, connector_body(prefix + "-gone"))
    delete(api, cid)
    status, answer = delete(api, cid)
    return {"status": status, "result": answer.get("result")}


def unsafe_name_is_refused(api, prefix):
    status, answer = api("POST", "%s/connectors/_create" % ML, connector_body(prefix + "-bad;name"))
    if status == 200:   # a server without the check (before 3.1) made it
        delete(api, answer["connector_id"])
    return {"status": status, "refused": "can only contain letters" in (reason(answer) or "")}


def mcp_connector_needs_the_setting_then_a_top_level_url(api, prefix):
    """MCP connectors (3.0+): refused while plugins.ml_commons.mcp_connector_enabled is false;
    with it on, created with a top-level url and headers and no actions."""
    body = {"name": prefix + "-mcp", "description": "contract scenario", "version": "1", "protocol": "mcp_sse",
            "url": "https://api.openai.com/mcp", "headers": {"Authorization": "Bearer ${credential.api_key}"},
            "credential": {"api_key": "contract-key-0001"}}
    api("PUT", "_cluster/settings", {"persistent": {MCP_SETTING: False}})
    refused, answer = api("POST", "%s/connectors/_create" % ML, body)
    observed = {"refused_status": refused, "refused_mentions_setting": "MCP" in (reason(answer) or "").upper()}
    api("PUT", "_cluster/settings", {"persistent": {MCP_SETTING: True}})
    try:
        status, answer = api("POST", "%s/connectors/_create" % ML, body)
        observed["created_status"] = status
        if status == 200:
            stored = get(api, answer["connector_id"])
            observed.update(url=stored.get("url"), headers=stored.get("headers"),
                            actions=stored.get("actions"), protocol=stored.get("protocol"))
            delete(api, answer["connector_id"])
    finally:
        api("PUT", "_cluster/settings", {"persistent": {MCP_SETTING: None}})
    return observed


SCENARIOS = [
    Scenario("parameters_are_stored_as_strings", parameters_are_stored_as_strings, {
        "parameters": {"n": "7", "f": "0.5", "b": "true", "l": "[1,2]", "o": '{"a":1}', "s": "text"},
        "version": "1"}),
    Scenario("actions_are_normalised", actions_are_normalised, {
        "action_type": "PREDICT", "headers": {"Authorization": "Bearer ${credential.api_key}"},
        "has_supports_structured_output": False}),
    Scenario("client_config_is_normalised", client_config_is_normalised, {
        "retry_backoff_policy": "exponential_full_jitter", "read_timeout": 60, "max_connection": 30,
        "no_such_key_kept": False}),
    Scenario("credential_is_never_returned", credential_is_never_returned, {"get": False, "search": False}),
    Scenario("update_merges_parameters_key_by_key", update_merges_parameters_key_by_key, {
        "status": 200, "result": "updated", "parameters": {"a": "1", "b": "3", "c": "4"}}),
    Scenario("delete_of_a_missing_connector", delete_of_a_missing_connector, {"status": 200, "result": "not_found"}),
    # the safe-character check of names and descriptions came with ML Commons 3.1 (server_rules)
    Scenario("unsafe_name_is_refused", unsafe_name_is_refused, (
        ("2.0.0", {"status": 200, "refused": False}),
        ("3.1.0", {"status": 400, "refused": True}))),
    # MCP connectors came with ML Commons 3.0: 2.19 knows neither the protocol nor the setting, and refuses both
    # creates with 400 (observed on 2.19.1)
    Scenario("mcp_connector_needs_the_setting_then_a_top_level_url",
             mcp_connector_needs_the_setting_then_a_top_level_url, (
                 ("2.0.0", {"refused_status": 400, "refused_mentions_setting": True, "created_status": 400}),
                 ("3.0.0", {
                     "refused_status": 500, "refused_mentions_setting": True, "created_status": 200,
                     "url": "https://api.openai.com/mcp",
                     "headers": {"Authorization": "Bearer ${credential.api_key}"},
                     "actions": None, "protocol": "mcp_sse"}))),
]
