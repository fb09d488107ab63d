"""The collection against a production-shaped cluster: HTTPS with a private CA, basic auth, the security plugin
and ML Commons access control (the secure profile, ``scripts/polarsearch-local up --secure``).

Every module run here happens at ``-vvv`` and its output and registered result are scanned for every password,
API key and credential value the tests know (see ``secure_support.Runner``). On the plain profile the whole
file is skipped.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import PRIVATE_IP, TRUSTED
from secure_support import (
    SCRUBBED,
    SECURE_SKIP,
    Runner,
    SecureCluster,
    as_user,
    find_secrets,
    other_ca_bundle,
    secure_profile,
)
from specs import embedding_connector, endpoint_regex

pytestmark = pytest.mark.skipif(not secure_profile(), reason=SECURE_SKIP)

REFUSED = re.compile(r"permission|privilege|not allowed", re.I)


# -- fixtures ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    return SecureCluster.from_environment()


@pytest.fixture(scope="module")
def runner(cluster, env, collections_path):
    """Runs modules with no credential, CA or CA-bundle variable: each test says how it authenticates."""
    return Runner(cluster, env, collections_path, {})


@pytest.fixture(scope="module")
def admin(cluster, env, collections_path):
    """Runs modules as the admin, trusting the node's CA, both from the environment (as AWX injects them)."""
    return Runner(cluster, env, collections_path, dict(cluster.admin.env, POLARSEARCH_CA_PATH=cluster.ca_path))


@pytest.fixture(scope="module")
def users(cluster, env, collections_path):
    """One runner per non-admin ML user, each authenticating through the environment."""
    return [Runner(cluster, env, collections_path, dict(user.env, POLARSEARCH_CA_PATH=cluster.ca_path))
            for user in cluster.users]


@pytest.fixture(scope="module")
def trusted_endpoint(cluster, admin):
    """The admin trusts the local model service (a private IP): a non-admin user may not change these settings."""
    result = admin.run("polarsearch_cluster_settings", {"persistent": {
        TRUSTED: [endpoint_regex(cluster.endpoint)], PRIVATE_IP: True}})
    assert not result.get("failed"), result
    return result


@pytest.fixture()
def name():
    return "it-sec-%s" % os.urandom(4).hex()


@pytest.fixture()
def owned(cluster, users):
    """Objects a test made as a user, deleted afterwards as that user: models first, then groups, then connectors."""
    made = []  # (user index, module, args)
    yield made
    order = {"polarsearch_model": 0, "polarsearch_model_group": 1, "polarsearch_connector": 2}
    for index, module, args in sorted(made, key=lambda item: order[item[1]]):
        users[index].run(module, dict(args, state="absent"))


def connector_spec(cluster, name, **extra):
    spec = embedding_connector(name, {"endpoint": cluster.endpoint, "api_key": cluster.api_key})
    spec.update(extra)
    return spec


# -- TLS: the task's ca_path and validate_certs win over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE --------------------
def bundles(path):
    return {"REQUESTS_CA_BUNDLE": path, "CURL_CA_BUNDLE": path}


def test_ca_path_wins_over_the_environment_bundle(cluster, runner):
    other = other_ca_bundle()
    auth = as_user(cluster.admin)
    result = runner.run("polarsearch_connector_info", dict(auth, ca_path=cluster.ca_path), extra_env=bundles(other))
    assert not result.get("failed"), result
    assert isinstance(result["connectors"], list)

    # the same CA from the environment fallback
    result = runner.run("polarsearch_connector_info", auth,
                        extra_env=dict(bundles(other), POLARSEARCH_CA_PATH=cluster.ca_path))
    assert not result.get("failed"), result


def test_validate_certs_false_wins_over_the_environment_bundle(cluster, runner):
    other = other_ca_bundle()
    auth = as_user(cluster.admin)
    result = runner.run("polarsearch_connector_info", dict(auth, validate_certs=False), extra_env=bundles(other))
    assert not result.get("failed"), result

    result = runner.run("polarsearch_connector_info", auth,
                        extra_env=dict(bundles(other), POLARSEARCH_VALIDATE_CERTS="false"))
    assert not result.get("failed"), result


def test_environment_bundle_is_honoured_without_tls_options(cluster, runner):
    """Without ca_path or validate_certs, REQUESTS_CA_BUNDLE holding the node's CA is what verifies it."""
    result = runner.run("polarsearch_connector_info", as_user(cluster.admin), extra_env=bundles(cluster.ca_path))
    assert not result.get("failed"), result


def test_unknown_ca_says_to_set_ca_path_or_validate_certs(cluster, runner):
    result = runner.run("polarsearch_connector_info", as_user(cluster.admin), extra_env=bundles(other_ca_bundle()))
    assert result.get("failed"), result
    message = result["msg"]
    assert "ca_path" in message and "validate_certs" in message, message
    assert "REQUESTS_CA_BUNDLE" in message, "names the bundle that was used: %s" % message


def test_plain_http_to_the_https_port_says_so(cluster, runner):
    http_url = "http://" + cluster.url.split("://", 1)[1]
    result = runner.run("polarsearch_connector_info", dict(as_user(cluster.admin), host=http_url))
    assert result.get("failed"), result
    assert "https" in result["msg"], result["msg"]


# -- authentication and authorization -----------------------------------------------------------------------------
def test_wrong_password_is_a_clear_401_and_never_shown(cluster, runner):
    user = cluster.users[0]
    wrong = cluster.new_secret("wrong-password")
    # Runner.run fails the test if the wrong password appears anywhere in the -vvv output or the result
    for args, extra in (({"username": user.name, "password": wrong, "ca_path": cluster.ca_path}, {}),
                        ({"ca_path": cluster.ca_path}, {"POLARSEARCH_USERNAME": user.name,
                                                        "POLARSEARCH_PASSWORD": wrong}),
                        ({"user_password": "%s:%s" % (user.name, wrong), "ca_path": cluster.ca_path}, {})):
        result = runner.run("polarsearch_connector_info", args, extra_env=extra)
        assert result.get("failed"), result
        message = result["msg"]
        assert "401" in message or "Unauthorized" in message, message
        assert repr(user.name) in message or user.name in message, "names the user: %s" % message
        assert "check the credentials" in message, message


def test_settings_write_by_ml_user_is_a_clear_403_and_changes_nothing(cluster, users):
    user, rest = cluster.users[0], cluster.rest()
    key = "plugins.ml_commons.max_model_on_node"
    before = rest.persistent().get(key)
    wanted = str(random.choice([n for n in range(11, 40) if str(n) != before]))
    result = users[0].run("polarsearch_cluster_settings", {"persistent": {key: int(wanted)}})
    assert result.get("failed"), result
    message = result["msg"]
    assert "cluster:admin/settings/update" in message, "quotes the missing permission: %s" % message
    assert user.name in message, "names the user: %s" % message
    assert "403" in message or "no permissions" in message, message
    assert rest.persistent().get(key) == before, "nothing changed on the server"


def test_task_credentials_win_over_environment_credentials(cluster, runner):
    """AWX injects POLARSEARCH_USERNAME/POLARSEARCH_PASSWORD; a task's user_password still wins, not an error."""
    user, other = cluster.users
    # the environment's credentials are wrong: success shows that the task's were used, and only those
    stale = {"POLARSEARCH_USERNAME": other.name, "POLARSEARCH_PASSWORD": cluster.new_secret("stale"),
             "POLARSEARCH_CA_PATH": cluster.ca_path}
    result = runner.run("polarsearch_connector_info", {"user_password": "%s:%s" % (user.name, user.password)},
                        extra_env=stale)
    assert not result.get("failed"), result

    # and the other way round: the task's username/password beat POLARSEARCH_USER_PASSWORD
    stale = {"POLARSEARCH_USER_PASSWORD": "%s:%s" % (other.name, cluster.new_secret("stale")),
             "POLARSEARCH_CA_PATH": cluster.ca_path}
    result = runner.run("polarsearch_connector_info", as_user(user), extra_env=stale)
    assert not result.get("failed"), result


# -- each user's private objects ----------------------------------------------------------------------------------
def test_private_objects_are_invisible_and_untouchable_for_the_other_user(cluster, users, trusted_endpoint,
                                                                          name, owned):
    owner, stranger = users
    rest_owner, rest_stranger, rest_admin = (cluster.rest(cluster.users[0]), cluster.rest(cluster.users[1]),
                                             cluster.rest())
    spec = connector_spec(cluster, name, access_mode="private")
    owned.append((0, "polarsearch_connector", {"name": name}))
    made = owner.run("polarsearch_connector", spec)
    assert not made.get("failed") and made["changed"], made
    connector_id = made["connector_id"]
    owned.append((0, "polarsearch_model", {"name": name}))
    registered = owner.run("polarsearch_model", {"name": name, "connector": name, "model_group": name})
    assert not registered.get("failed"), registered
    model_id = registered["model_id"]
    assert rest_owner.by_name("connectors", name) and rest_owner.by_name("models", name)

    # search: nothing of the owner's, through the modules and through REST
    found = stranger.run("polarsearch_connector_info", {"name": name})
    assert not found.get("failed") and found["connectors"] == [], found
    found = stranger.run("polarsearch_model_info", {"name": name})
    assert not found.get("failed") and found["models"] == [], found
    assert rest_stranger.by_name("connectors", name) == [] and rest_stranger.by_name("models", name) == []

    # by ID: read, update and delete are refused, naming the object, and nothing changes
    for module, args in (
            ("polarsearch_connector_info", {"connector_id": connector_id}),
            ("polarsearch_connector", dict(spec, connector_id=connector_id, description="changed by the other")),
            ("polarsearch_connector", {"connector_id": connector_id, "state": "absent"}),
            ("polarsearch_model_info", {"model_id": model_id}),
            ("polarsearch_model", {"model_id": model_id, "description": "changed by the other"}),
            ("polarsearch_model", {"model_id": model_id, "state": "absent"})):
        result = stranger.run(module, args)
        assert result.get("failed"), (module, args.get("state"), result)
        message = result["msg"]
        assert REFUSED.search(message), "%s: the server's refusal is quoted: %s" % (module, message)
        assert (connector_id if "connector" in module else model_id) in message, message
    connector = rest_admin.call("GET", "/_plugins/_ml/connectors/%s" % connector_id)
    assert connector["description"] == spec["description"] and connector["access"] == "private", connector
    model = rest_admin.call("GET", "/_plugins/_ml/models/%s" % model_id)
    assert model.get("description") != "changed by the other", model


def test_register_on_another_users_private_connector_is_refused(cluster, users, trusted_endpoint, name, owned):
    """A register without a model group could use another user's private connector: the module always names one."""
    owner, stranger = users
    owned.append((0, "polarsearch_connector", {"name": name}))
    made = owner.run("polarsearch_connector", connector_spec(cluster, name, access_mode="private"))
    assert not made.get("failed"), made
    owned.append((1, "polarsearch_model", {"name": name + "-theirs"}))
    result = stranger.run("polarsearch_model", {"name": name + "-theirs", "connector_id": made["connector_id"]})
    assert result.get("failed"), "the other user registered a model on a private connector: %s" % result
    assert REFUSED.search(result["msg"]), result["msg"]
    assert cluster.rest().by_name("models", name + "-theirs") == [], "no model was registered"


def test_model_of_a_non_admin_is_registered_into_an_explicit_group(cluster, users, trusted_endpoint, name, owned):
    user, rest = cluster.users[0], cluster.rest()
    owned.append((0, "polarsearch_connector", {"name": name}))
    assert not users[0].run("polarsearch_connector", connector_spec(cluster, name)).get("failed")
    owned.append((0, "polarsearch_model", {"name": name}))
    check = users[0].run("polarsearch_model", {"name": name, "connector": name}, check=True)
    assert not check.get("failed"), check
    result = users[0].run("polarsearch_model", {"name": name, "connector": name})
    assert not result.get("failed"), result
    assert result["plan"] == check["plan"], (check["plan"], result["plan"])
    steps = [step if isinstance(step, str) else "%(operation)s %(kind)s" % step for step in result["plan"]]
    assert any("model_group" in s or "model group" in s for s in steps), "the group is created first: %s" % steps
    group = rest.by_name("model_groups", name)
    assert len(group) == 1, group
    assert group[0]["owner"]["name"] == user.name, group[0]
    assert rest.call("GET", "/_plugins/_ml/models/%s" % result["model_id"])["model_group_id"] == group[0]["id"]


# -- a replace under a deployed model keeps the access fields ----------------------------------------------------
def test_replace_under_a_deployed_model_keeps_the_access_fields(cluster, users, trusted_endpoint, name, owned):
    user, rest = cluster.users[0], cluster.rest()
    assert user.backend_role, "POLARSEARCH_ML_BACKEND_ROLE is not set"
    spec = connector_spec(cluster, name, access_mode="restricted", backend_roles=[user.backend_role])
    owned.append((0, "polarsearch_connector", {"name": name}))
    made = users[0].run("polarsearch_connector", spec)
    assert not made.get("failed"), made
    owned.append((0, "polarsearch_model", {"name": name}))
    deployed = users[0].run("polarsearch_model", {"name": name, "connector": name, "model_group": name,
                                                  "state": "deployed"})
    assert not deployed.get("failed"), deployed

    changed = dict(spec, parameters=dict(spec["parameters"], model="text-embedding-v3"))
    replaced = users[0].run("polarsearch_connector", changed)
    assert not replaced.get("failed") and replaced["changed"], replaced
    stored = rest.by_name("connectors", name)
    assert len(stored) == 1 and stored[0]["id"] != made["connector_id"], "replaced: %s" % stored
    assert stored[0]["access"] == "restricted" and stored[0]["backend_roles"] == [user.backend_role], stored[0]
    model = rest.call("GET", "/_plugins/_ml/models/%s" % deployed["model_id"])
    assert model["connector_id"] == stored[0]["id"] and model["model_state"] == "DEPLOYED", model
    again = users[0].run("polarsearch_connector", changed)
    assert not again.get("failed") and not again["changed"], again


# -- the role as a non-admin user -----------------------------------------------------------------------------------
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def role_playbook(cluster, collections_path, user, playbook, variables, check=False):
    """``ansible-playbook polardb.polarsearch.<playbook>`` at -vvv as AWX runs it: the user, CA and key from the
    environment. Returns (return code, output, changed count); the output is scanned for secrets."""
    workdir = Path(tempfile.mkdtemp(prefix="secure-role-"))
    vars_file = workdir / "vars.json"
    vars_file.write_text(json.dumps(variables))
    environment = {k: v for k, v in os.environ.items() if k not in SCRUBBED and not k.startswith(
        ("POLARSEARCH_", "ML_STACK_", "DASHSCOPE_"))}
    environment.update(user.env)
    environment.update({
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
        "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "POLARSEARCH_URL": cluster.url, "POLARSEARCH_CA_PATH": cluster.ca_path, "ML_STACK_API_KEY": cluster.api_key,
        # another bundle in the environment, as on the hosts this runs on: the CA variable must still win
        "REQUESTS_CA_BUNDLE": other_ca_bundle(),
    })
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "polardb.polarsearch." + playbook,
               "-e", "@%s" % vars_file, "-vvv"] + (["--check"] if check else [])
    completed = subprocess.run(command, env=environment, cwd=workdir, capture_output=True, text=True,
                               timeout=900, check=False)
    output = completed.stdout + completed.stderr
    leaked = find_secrets(output, cluster.secrets)
    assert not leaked, "%d secret value(s) appear in the -vvv output of %s" % (len(leaked), playbook)
    recap = RECAP.search(completed.stdout)
    return completed.returncode, output, int(recap.group(2)) if recap else None


def test_role_provision_drift_teardown_as_a_non_admin_user(cluster, collections_path, trusted_endpoint):
    owner, stranger = cluster.users
    rest, prefix = cluster.rest(), "it-sec-role-%s-" % os.urandom(3).hex()
    name, connector = prefix + "text-embedding-v4", prefix + "text-embedding-v4-connector"
    variables = {
        "ml_stack_name_prefix": prefix,
        "ml_stack_endpoint": "http://" + cluster.endpoint,
        "ml_stack_models": [{"name": "text-embedding-v4", "kind": "embedding",
                             "connector_overrides": {"access_mode": "private"}}],
        # the admin applied both settings (trusted_endpoint); a non-admin user may not write them
        "ml_stack_private_ip_enabled": True,
        "ml_stack_keep_trusted_endpoints": True,
        "ml_stack_wait_timeout": 120,
    }
    settings_before = rest.persistent()
    try:
        rc, output, _changed = role_playbook(cluster, collections_path, owner, "provision", variables)
        assert rc == 0, output[-6000:]
        stored = rest.by_name("connectors", connector)
        assert len(stored) == 1 and stored[0]["access"] == "private", stored
        assert stored[0]["owner"]["name"] == owner.name, stored[0]
        model = rest.by_name("models", name)
        assert len(model) == 1 and model[0]["model_state"] == "DEPLOYED", model
        assert model[0].get("model_group_id"), "registered into a model group: %s" % model[0]

        rc, output, changed = role_playbook(cluster, collections_path, owner, "provision", variables)
        assert rc == 0 and changed == 0, output[-6000:]
        rc, output, _changed = role_playbook(cluster, collections_path, owner, "drift", variables)
        assert rc == 0, "no drift for the owner: %s" % output[-6000:]

        # the other user sees none of it: drift reports the whole stack missing, teardown touches nothing
        rc, output, _changed = role_playbook(cluster, collections_path, stranger, "drift", variables)
        assert rc != 0, "the other user saw the owner's private stack: %s" % output[-6000:]
        rc, output, _changed = role_playbook(cluster, collections_path, stranger, "teardown", variables)
        assert rc == 0, output[-6000:]
        assert len(rest.by_name("connectors", connector)) == 1 and len(rest.by_name("models", name)) == 1

        rc, output, _changed = role_playbook(cluster, collections_path, owner, "teardown", variables)
        assert rc == 0, output[-6000:]
        assert rest.by_name("connectors", connector) == [] and rest.by_name("models", name) == []
        assert rest.persistent().get(TRUSTED) == settings_before.get(TRUSTED), "the admin's settings stay"
    finally:
        role_playbook(cluster, collections_path, owner, "teardown", variables)
