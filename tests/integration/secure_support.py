"""Helpers for the secure-profile tests: the node's users, REST as each of them, module runs as each of them.

The secure profile (``scripts/polarsearch-local up --secure``) prints ``POLARSEARCH_PROFILE=secure``, the HTTPS
``POLARSEARCH_URL``, the admin (``POLARSEARCH_USERNAME``/``POLARSEARCH_PASSWORD``), the node's CA
(``POLARSEARCH_CA_PATH``) and two non-admin users with ``ml_full_access`` and different backend roles
(``POLARSEARCH_ML_USER``/``POLARSEARCH_ML_PASSWORD``/``POLARSEARCH_ML_BACKEND_ROLE`` and the same names ending
in ``2``). Every module run here goes through :class:`Runner`, which sets the environment of each run itself (no
credential, CA or TLS variable of the calling shell leaks in), runs at ``-vvv`` and scans everything the run
printed and returned for every secret the tests know.
"""

from __future__ import annotations

import json
import os
import ssl
import uuid
from dataclasses import dataclass, field

import pytest

from conftest import Ansible, Rest

SECURE_SKIP = ("needs the secure profile: POLARSEARCH_PROFILE=secure and the lines of "
               "scripts/polarsearch-local up --secure")

# variables a run must not inherit from the calling shell: credentials, TLS and the CA bundles requests honours
SCRUBBED = ("POLARSEARCH_HOST_PORT", "POLARSEARCH_USERNAME", "POLARSEARCH_PASSWORD", "POLARSEARCH_USER_PASSWORD",
            "POLARSEARCH_CA_PATH", "POLARSEARCH_VALIDATE_CERTS", "POLARSEARCH_CLIENT_CERT", "POLARSEARCH_CLIENT_KEY",
            "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR",
            "POLARSEARCH_ML_PASSWORD", "POLARSEARCH_ML_PASSWORD2", "MODEL_SERVICE_API_KEY")

# the smallest secret the scan looks for: shorter values (a demo user's name as password) match ordinary words
MIN_SECRET = 8


def secure_profile():
    return os.environ.get("POLARSEARCH_PROFILE") == "secure"


def other_ca_bundle():
    """A CA bundle that does not hold the node's CA: the system's (what REQUESTS_CA_BUNDLE points at on hosts)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt",
                      "/etc/pki/tls/certs/ca-bundle.crt"):
        if candidate and os.path.isfile(candidate):
            return candidate
    import certifi  # requests depends on it
    return certifi.where()


@dataclass
class User:
    name: str
    password: str = field(repr=False)  # kept out of assertion messages
    backend_role: str = ""

    @property
    def env(self):
        """The environment an AWX credential injects for this user."""
        return {"POLARSEARCH_USERNAME": self.name, "POLARSEARCH_PASSWORD": self.password}


@dataclass
class SecureCluster:
    url: str
    ca_path: str
    admin: User
    users: list
    endpoint: str
    api_key: str = field(repr=False)
    secrets: set = field(default_factory=set, repr=False)

    @classmethod
    def from_environment(cls):
        environ = os.environ
        missing = [name for name in ("POLARSEARCH_URL", "POLARSEARCH_USERNAME", "POLARSEARCH_PASSWORD",
                                     "POLARSEARCH_CA_PATH", "POLARSEARCH_ML_USER", "POLARSEARCH_ML_PASSWORD",
                                     "POLARSEARCH_ML_USER2", "POLARSEARCH_ML_PASSWORD2") if not environ.get(name)]
        if missing:
            raise pytest.UsageError("POLARSEARCH_PROFILE=secure needs %s: export the lines of "
                                    "scripts/polarsearch-local up --secure" % ", ".join(missing))
        service = environ.get("MODEL_SERVICE_ENDPOINT", "http://127.0.0.1:18090").rstrip("/")
        cluster = cls(
            url=environ["POLARSEARCH_URL"].rstrip("/"),
            ca_path=environ["POLARSEARCH_CA_PATH"],
            admin=User(environ["POLARSEARCH_USERNAME"], environ["POLARSEARCH_PASSWORD"]),
            users=[User(environ["POLARSEARCH_ML_USER"], environ["POLARSEARCH_ML_PASSWORD"],
                        environ.get("POLARSEARCH_ML_BACKEND_ROLE", "")),
                   User(environ["POLARSEARCH_ML_USER2"], environ["POLARSEARCH_ML_PASSWORD2"],
                        environ.get("POLARSEARCH_ML_BACKEND_ROLE2", ""))],
            endpoint=service.split("://", 1)[-1],
            api_key=environ.get("MODEL_SERVICE_API_KEY", "local-dev-key-0001"),
        )
        cluster.secrets.update([cluster.admin.password, cluster.api_key] + [u.password for u in cluster.users])
        return cluster

    def rest(self, user=None):
        """REST as ``user`` (the admin by default), trusting the node's CA."""
        user = user or self.admin
        return Rest(self.url, auth=(user.name, user.password), ca_path=self.ca_path)

    def new_secret(self, label):
        """A fresh credential value (a wrong password, a connector key) that must never be printed."""
        value = "%s-%s" % (label, uuid.uuid4().hex)
        self.secrets.add(value)
        return value


def find_secrets(text, secrets):
    return sorted(s for s in secrets if s and len(s) >= MIN_SECRET and s in text)


class Runner:
    """Module runs through ansible-playbook with an environment set here, at -vvv, each one scanned for secrets.

    ``env`` is the base environment of every run (added to the calling shell's, minus :data:`SCRUBBED`);
    ``run(..., extra_env=...)`` adds to it for one run.
    """

    def __init__(self, cluster, env, collections_path, base_env):
        self.cluster = cluster
        self.ansible = Ansible(env, collections_path)
        for name in SCRUBBED:
            self.ansible.env.pop(name, None)
        self.ansible.env.update(base_env)
        self.runs = 0
        self.last_output = ""

    def run(self, module, args, check=False, extra_env=None):
        result = self.ansible.run(module, args, check=check, verbosity=3, extra_env=extra_env)
        self.runs += 1
        self.last_output = self.ansible.last_output
        shown = self.last_output + "\n" + json.dumps(result)
        leaked = find_secrets(shown, self.cluster.secrets)
        assert not leaked, "%d secret value(s) appear in the output of %s at -vvv (e.g. starting %r)" % (
            len(leaked), module, leaked[0][:3])
        return result


def as_user(user):
    """Module arguments that authenticate as ``user`` (the task's options, not the environment)."""
    return {"username": user.name, "password": user.password}
