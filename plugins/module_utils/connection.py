# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options: one class owns them, their environment fallbacks, TLS and retries."""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.polardb.polarsearch.plugins.module_utils.client import (
    HAS_REQUESTS,
    PolarSearchClient,
    requests,
)


class ConnectionOptionsError(ValueError):
    """Bad connection options; the message names the option and the fix."""


class ConnectionOptions:
    """Resolve the connection options of a module into a :class:`PolarSearchClient`."""

    ARGUMENT_SPEC = dict(
        host=dict(type="str", fallback=(env_fallback, ["POLARSEARCH_HOST_PORT", "POLARSEARCH_URL"])),
        scheme=dict(type="str", default="https", choices=["http", "https"]),
        username=dict(type="str", fallback=(env_fallback, ["POLARSEARCH_USERNAME"])),
        password=dict(type="str", no_log=True, fallback=(env_fallback, ["POLARSEARCH_PASSWORD"])),
        user_password=dict(type="str", no_log=True, fallback=(env_fallback, ["POLARSEARCH_USER_PASSWORD"])),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        client_cert=dict(type="path"),
        client_key=dict(type="path"),
        timeout=dict(type="float", default=30.0),
        retries=dict(type="int", default=3),
    )

    def __init__(self, params):
        self.params = params

    @classmethod
    def argument_spec(cls):
        return {name: dict(spec) for name, spec in cls.ARGUMENT_SPEC.items()}

    @property
    def secrets(self):
        """Values that must never be shown."""
        values = [self.params.get("password"), self.params.get("user_password")]
        if self.params.get("user_password") and ":" in self.params["user_password"]:
            values.append(self.params["user_password"].split(":", 1)[1])
        return [v for v in values if v]

    def base_url(self):
        host = (self.params.get("host") or "").strip()
        if not host:
            raise ConnectionOptionsError(
                "host is required: set the host option (host:port, or a full URL) or the "
                "POLARSEARCH_HOST_PORT / POLARSEARCH_URL environment variable")
        if "://" not in host:
            host = "%s://%s" % (self.params.get("scheme") or "https", host)
        scheme = host.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise ConnectionOptionsError("host has the scheme %r: use http:// or https://" % scheme)
        return host.rstrip("/")

    def auth(self):
        username = self.params.get("username")
        password = self.params.get("password")
        user_password = self.params.get("user_password")
        if user_password and (username or password):
            raise ConnectionOptionsError(
                "username/password and user_password are mutually exclusive: set one form "
                "(options or POLARSEARCH_USERNAME/POLARSEARCH_PASSWORD vs POLARSEARCH_USER_PASSWORD)")
        if user_password:
            if ":" not in user_password:
                raise ConnectionOptionsError("user_password must have the form user:password")
            username, password = user_password.split(":", 1)
        if password and not username:
            raise ConnectionOptionsError("password is set without username: set username as well")
        if username and password is None:
            raise ConnectionOptionsError("username is set without password: set password as well")
        return (username, password) if username else None

    def tls(self):
        verify = self.params.get("validate_certs", True)
        if verify and self.params.get("ca_path"):
            verify = self.params["ca_path"]
        cert = None
        if self.params.get("client_cert"):
            cert = self.params["client_cert"]
            if self.params.get("client_key"):
                cert = (self.params["client_cert"], self.params["client_key"])
        elif self.params.get("client_key"):
            raise ConnectionOptionsError("client_key is set without client_cert: set client_cert as well")
        return verify, cert

    def client(self, extra_secrets=(), session=None):
        if not HAS_REQUESTS:  # pragma: no cover - modules check this first
            raise ConnectionOptionsError("the requests library is required")
        if self.params.get("timeout") is not None and self.params["timeout"] <= 0:
            raise ConnectionOptionsError("timeout must be a positive number of seconds")
        if self.params.get("retries") is not None and self.params["retries"] < 0:
            raise ConnectionOptionsError("retries must be 0 or more")
        base_url = self.base_url()
        session = session or requests.Session()
        session.auth = self.auth()
        session.verify, session.cert = self.tls()
        return PolarSearchClient(
            base_url,
            session,
            timeout=self.params.get("timeout") or 30.0,
            retries=self.params.get("retries") if self.params.get("retries") is not None else 3,
            secrets=list(self.secrets) + [s for s in extra_secrets if s],
        )
