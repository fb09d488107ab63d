# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options: one class owns them, their environment fallbacks, TLS and retries.

The environment fallbacks are resolved here and not in the argument spec, so that an option set in
the task always beats the environment and a credential given in one form (``user_password``, or
``username`` + ``password``) is never mixed with the other form from the environment.
"""

from __future__ import annotations

import os
import re

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.client import (
    HAS_REQUESTS,
    PolarSearchClient,
    requests,
)
from ansible_collections.polardb.polarsearch.plugins.module_utils.transport.connection_spec import ARGUMENT_SPEC

# option -> environment variables read, in order, when the task does not set the option
ENVIRONMENT = {
    "host": ("POLARSEARCH_HOST_PORT", "POLARSEARCH_URL"),
    "username": ("POLARSEARCH_USERNAME",),
    "password": ("POLARSEARCH_PASSWORD",),
    "user_password": ("POLARSEARCH_USER_PASSWORD",),
    "validate_certs": ("POLARSEARCH_VALIDATE_CERTS",),
    "ca_path": ("POLARSEARCH_CA_PATH",),
    "client_cert": ("POLARSEARCH_CLIENT_CERT",),
    "client_key": ("POLARSEARCH_CLIENT_KEY",),
    "timeout": ("POLARSEARCH_TIMEOUT",),
    "connect_timeout": ("POLARSEARCH_CONNECT_TIMEOUT",),
    "retries": ("POLARSEARCH_RETRIES",),
}
DEFAULTS = {"scheme": "https", "validate_certs": True, "timeout": 30.0, "connect_timeout": 10.0, "retries": 3}
CREDENTIALS = ("username", "password", "user_password")
PAIR_VARIABLES = "POLARSEARCH_USERNAME/POLARSEARCH_PASSWORD"


class ConnectionOptionsError(ValueError):
    """Bad connection options; the message names the option and the fix."""


PEM_SCAN = 65536
HOST_EXAMPLE = "such as https://search.example.com:9200"
HOST_NAME = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])$")


def check_host_url(label, url):
    """Fail, naming the part that is wrong, unless ``url`` is ``scheme://host[:port]`` (a trailing / is fine)."""
    rest = url.split("://", 1)[1]
    for mark, what in (("?", "a query"), ("#", "a fragment")):
        if mark in rest:
            raise ConnectionOptionsError("%s %s has %s (%s): give only scheme://host[:port], %s" % (
                label, url, what, mark + rest.split(mark, 1)[1], HOST_EXAMPLE))
    netloc, _sep, path = rest.partition("/")
    if path.strip("/"):
        raise ConnectionOptionsError(
            "%s %s has the path /%s, which would be put in front of every request: give only scheme://host[:port], "
            "%s" % (label, url, path, HOST_EXAMPLE))
    name, port = netloc, None
    if netloc.startswith("["):
        name, _bracket, tail = netloc.partition("]")
        name += _bracket
        if not _bracket or (tail and not tail.startswith(":")):
            raise ConnectionOptionsError("%s %s has the host name %r, which is not valid: %s" % (
                label, url, netloc, HOST_EXAMPLE))
        port = tail[1:] if tail else None
    elif ":" in netloc:
        name, port = netloc.rsplit(":", 1)
    if not name:
        raise ConnectionOptionsError("%s %s has no host name: %s" % (label, url, HOST_EXAMPLE))
    if not HOST_NAME.match(name):
        raise ConnectionOptionsError("%s %s: the host name %r is not valid (only letters, digits, '.', '-' and "
                                     "'_', or an IPv6 address in brackets): %s" % (label, url, name, HOST_EXAMPLE))
    if port is not None:
        if not port.isdigit():
            raise ConnectionOptionsError("%s %s: the port %r is not a number: use a port from 1 to 65535, %s" % (
                label, url, port, HOST_EXAMPLE))
        if not 0 < int(port) <= 65535:
            raise ConnectionOptionsError("%s %s: port %s is out of range: use a port from 1 to 65535, %s" % (
                label, url, int(port), HOST_EXAMPLE))


class ConnectionOptions:
    """Resolve the connection options of a module into a :class:`PolarSearchClient`.

    ``params`` are the module's parameters; ``environ`` (default ``os.environ``) supplies the
    fallbacks. An empty value counts as unset in both (a credential injector writes an empty
    variable for an empty field).
    """

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def __init__(self, params, environ=None):
        self.params = params
        self.environ = os.environ if environ is None else environ
        self.sources = {}
        self._credentials = None

    @classmethod
    def argument_spec(cls):
        return {name: dict(spec) for name, spec in cls.ARGUMENT_SPEC.items()}

    # -- resolution ----------------------------------------------------------------------------
    def _option(self, name):
        value = self.params.get(name)
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def _variable(self, name):
        for variable in ENVIRONMENT.get(name, ()):
            value = self.environ.get(variable)
            if value is not None and value.strip():
                # a credential is taken as it is; other values may carry stray blanks
                return variable, (value if name in CREDENTIALS else value.strip())
        return None, None

    def value(self, name):
        """The option's value: the task's, else the first environment variable set, else the default."""
        value = self._option(name)
        if value is not None:
            self.sources[name] = name
            return value
        variable, text = self._variable(name)
        if variable is None:
            self.sources[name] = None
            return DEFAULTS.get(name)
        self.sources[name] = variable
        return self._convert(name, variable, text)

    def source(self, name):
        """Where ``name`` came from: the option's name, an environment variable, or ``None``."""
        if name not in self.sources:
            self.value(name)
        return self.sources[name]

    @staticmethod
    def _convert(name, variable, text):
        kind = ConnectionOptions.ARGUMENT_SPEC[name]["type"]
        try:
            if kind == "bool":
                return boolean(text, strict=True)
            if kind == "float":
                return float(text)
            if kind == "int":
                return int(text)
        except (TypeError, ValueError):
            raise ConnectionOptionsError("%s=%r is not a valid %s for %s: fix or unset the variable" % (
                variable, text, {"bool": "boolean (true or false)", "float": "number", "int": "whole number"}[kind],
                name))
        if kind == "path":
            return os.path.expanduser(os.path.expandvars(text))
        return text

    def credentials(self):
        """``(values, where)``: the credentials of one source (``task`` or ``environment``), never a mix.

        Any credential option in the task means the task's credentials are used and the
        environment's are not read at all.
        """
        if self._credentials is not None:
            return self._credentials
        given = {name: self._option(name) for name in CREDENTIALS if self._option(name) is not None}
        if given:
            where = "task"
            if "user_password" in given and len(given) > 1:
                raise ConnectionOptionsError(
                    "username/password and user_password are mutually exclusive: set one form in the task "
                    "(username and password, or user_password)")
        else:
            where = "environment"
            given = {}
            for name in CREDENTIALS:
                variable, text = self._variable(name)
                if variable is not None:
                    given[name] = text
            if "user_password" in given and len(given) > 1:
                raise ConnectionOptionsError(
                    "username/password and user_password are mutually exclusive: the environment sets both "
                    "%s and POLARSEARCH_USER_PASSWORD; unset one form (or set the credentials in the task, "
                    "which then wins)" % PAIR_VARIABLES)
        self._credentials = (given, where)
        return self._credentials

    @property
    def secrets(self):
        """Values that must never be shown."""
        given = self.credentials()[0]
        values = [given.get("password"), given.get("user_password")]
        if given.get("user_password") and ":" in given["user_password"]:
            values.append(given["user_password"].split(":", 1)[1])
        return [v for v in values if v]

    def host_secrets(self):
        """The password of a ``user:password@`` in the host (task or environment), which is refused but must
        be masked before anything can fail."""
        found = []
        for text in [self.params.get("host")] + [self.environ.get(v) for v in ENVIRONMENT["host"]]:
            if not isinstance(text, str) or "@" not in text:
                continue
            userinfo = text.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[0]
            found.extend(part for part in (userinfo, userinfo.split(":", 1)[-1]) if len(part) >= 3)
        return found

    # -- the parts of a connection -----------------------------------------------------------------
    def base_url(self):
        host = (self.value("host") or "").strip()
        if not host:
            raise ConnectionOptionsError(
                "host is required: set the host option (host:port, or a full URL) or the "
                "POLARSEARCH_HOST_PORT / POLARSEARCH_URL environment variable")
        if "://" not in host:
            host = "%s://%s" % (self.params.get("scheme") or DEFAULTS["scheme"], host)
        label = "host" if self.source("host") == "host" else "%s (host)" % self.source("host")
        if "@" in host.split("://", 1)[1].split("/", 1)[0]:
            raise ConnectionOptionsError(
                "%s contains credentials (user:password@): remove them and set username and password, or "
                "user_password, so that they are kept out of messages" % label)
        scheme = host.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise ConnectionOptionsError("host has the scheme %r: use http:// or https://" % scheme)
        check_host_url(label, host)
        return host.rstrip("/")

    def auth(self):
        given, where = self.credentials()
        username = given.get("username")
        password = given.get("password")
        user_password = given.get("user_password")
        if user_password:
            if ":" not in user_password:
                raise ConnectionOptionsError("%s must have the form user:password" % (
                    "user_password" if where == "task" else "POLARSEARCH_USER_PASSWORD"))
            username, password = user_password.split(":", 1)
        elif where == "task":
            if password and not username:
                raise ConnectionOptionsError(
                    "password is set without username: set username as well (the environment's "
                    "credentials are not used when the task sets one)")
            if username and not password:
                raise ConnectionOptionsError(
                    "username is set without password: set password as well (POLARSEARCH_PASSWORD is not "
                    "used when the task sets a credential, so that two sources are never mixed)")
        else:
            if password and not username:
                raise ConnectionOptionsError("POLARSEARCH_PASSWORD is set without POLARSEARCH_USERNAME: set both")
            if username and not password:
                raise ConnectionOptionsError("POLARSEARCH_USERNAME is set without POLARSEARCH_PASSWORD: set both")
        return (username, password) if username else None

    def credential_source(self):
        """A short text naming where the credentials came from, for error messages."""
        given, where = self.credentials()
        if not given:
            return None
        if where == "task":
            return "user_password" if "user_password" in given else "username/password"
        return "POLARSEARCH_USER_PASSWORD" if "user_password" in given else PAIR_VARIABLES

    def tls(self):
        """``(verify, cert)`` as the session keeps them: ``True``, a CA file, or ``False``."""
        verify = self.value("validate_certs")
        ca_path = self.value("ca_path")
        if verify and ca_path:
            verify = ca_path
        client_cert, client_key = self.value("client_cert"), self.value("client_key")
        cert = None
        if client_cert:
            cert = (client_cert, client_key) if client_key else client_cert
        elif client_key:
            raise ConnectionOptionsError("client_key is set without client_cert: set client_cert as well")
        return verify, cert

    def explicit_verify(self):
        """What every request must pass as ``verify``, or ``None`` to let the environment's bundle apply.

        ``requests`` replaces a session's ``verify`` with ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``;
        only a per-request value is kept. A CA file or ``validate_certs: false`` must win, so they are
        passed with each request; without either the environment's bundle is used as users expect.
        """
        verify = self.tls()[0]
        return None if verify is True else verify

    def _check_files(self):
        verify, cert = self.tls()
        paths = []
        if isinstance(verify, str):
            paths.append("ca_path")
        if cert:
            paths.append("client_cert")
            if isinstance(cert, tuple):
                paths.append("client_key")
        for name in paths:
            path = self.value(name)
            where = self.source(name)
            shown = "%s %s%s" % (name, path, "" if where == name else " (from %s)" % where)
            if not os.path.isfile(path):
                raise ConnectionOptionsError("%s does not exist or is not a file: set %s to a PEM file" % (
                    shown, name))
            with open(path, "rb") as handle:
                head = handle.read(PEM_SCAN)
            if b"-----BEGIN" not in head:
                raise ConnectionOptionsError(
                    "%s is not a PEM file (it has no -----BEGIN line): give %s in PEM form, such as a file made by "
                    "openssl x509 -in cert.der -inform DER -out cert.pem" % (shown, name))

    def _number(self, name, positive):
        value = self.value(name)
        if value < 0 or (positive and value == 0):
            where = self.source(name)
            raise ConnectionOptionsError("%s must be %s%s" % (
                name, "a positive number of seconds" if positive else "0 or more",
                "" if where == name else " (%s is %s)" % (where, value)))
        return value

    def client(self, extra_secrets=(), session=None, warn=None):
        if not HAS_REQUESTS:  # pragma: no cover - modules check this first
            raise ConnectionOptionsError("the requests library is required")
        timeout = self._number("timeout", positive=True)
        connect_timeout = self._number("connect_timeout", positive=True)
        retries = self._number("retries", positive=False)
        base_url = self.base_url()
        auth = self.auth()
        self._check_files()
        session = session or requests.Session()
        session.auth = auth
        session.verify, session.cert = self.tls()
        return PolarSearchClient(
            base_url,
            session,
            timeout=timeout,
            connect_timeout=connect_timeout,
            retries=retries,
            secrets=list(self.secrets) + [s for s in extra_secrets if s],
            verify=self.explicit_verify(),
            warn=warn,
            user=auth[0] if auth else None,
            credential_source=self.credential_source(),
            tls_source=self._tls_source(),
        )

    def _tls_source(self):
        """How the server is verified, in words for an error message (``None``: the environment decides)."""
        verify = self.tls()[0]
        if verify is False:
            return "validate_certs is false"
        if isinstance(verify, str):
            where = self.source("ca_path")
            return "ca_path %s%s" % (verify, "" if where == "ca_path" else " (from %s)" % where)
        return None
