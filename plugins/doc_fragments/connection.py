# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  host:
    description:
      - The PolarSearch (OpenSearch) endpoint, either as C(host:port) the way the PolarSearch console
        shows it (for example C(pc-xxx.polardbsearch.rds.aliyuncs.com:3001)) or as a full URL such as
        C(https://127.0.0.1:9200).
      - When not set, the environment variable E(POLARSEARCH_HOST_PORT) is used, then E(POLARSEARCH_URL).
      - An option set in the task always wins over the environment; an empty variable counts as unset.
    type: str
  scheme:
    description:
      - The scheme used when O(host) has none.
    type: str
    choices: [http, https]
    default: https
  username:
    description:
      - The user to authenticate as with HTTP basic authentication.
      - Give the credentials in one form, O(username) and O(password), or O(user_password).
        Omit all credentials for a cluster without security.
      - When the task sets none of O(username), O(password) and O(user_password), the environment is
        used, E(POLARSEARCH_USERNAME) and E(POLARSEARCH_PASSWORD), or E(POLARSEARCH_USER_PASSWORD).
        When the task sets any of them, no credential is read from the environment, so a task's
        credentials are never mixed with the environment's (for example when AWX injects one form and
        the task uses the other).
    type: str
  password:
    description:
      - The password of O(username).
      - When the task sets no credential, the environment variable E(POLARSEARCH_PASSWORD) is used.
    type: str
  user_password:
    description:
      - User and password in the C(user:password) form the PolarSearch documentation uses.
      - When the task sets no credential, the environment variable E(POLARSEARCH_USER_PASSWORD) is used.
      - Mutually exclusive with O(username) and O(password) (in the task; in the environment, only one
        form may be set).
    type: str
  validate_certs:
    description:
      - Whether to verify the server's TLS certificate. Default V(true).
      - When not set, the environment variable E(POLARSEARCH_VALIDATE_CERTS) is used.
      - V(false), like O(ca_path), wins over the E(REQUESTS_CA_BUNDLE) and E(CURL_CA_BUNDLE) environment
        variables of the C(requests) library. With neither option set, a bundle named by those
        variables is used to verify the server.
    type: bool
  ca_path:
    description:
      - A PEM file with the CA certificates to verify the server with (for example the CA of a private
        endpoint). It replaces, for this connection, the bundle named by E(REQUESTS_CA_BUNDLE) or
        E(CURL_CA_BUNDLE).
      - When not set, the environment variable E(POLARSEARCH_CA_PATH) is used.
      - Ignored when O(validate_certs) is V(false).
    type: path
  client_cert:
    description:
      - A PEM client certificate for mutual TLS (may also hold the key).
      - When not set, the environment variable E(POLARSEARCH_CLIENT_CERT) is used.
    type: path
  client_key:
    description:
      - The PEM private key of O(client_cert), when it is a separate file.
      - When not set, the environment variable E(POLARSEARCH_CLIENT_KEY) is used.
    type: path
  timeout:
    description:
      - The read timeout, seconds to wait for each HTTP answer once the request is sent. Default V(30).
      - When not set, the environment variable E(POLARSEARCH_TIMEOUT) is used.
    type: float
  connect_timeout:
    description:
      - Seconds to wait for a TCP and TLS connection to the cluster. Default V(10).
      - When not set, the environment variable E(POLARSEARCH_CONNECT_TIMEOUT) is used.
    type: float
  retries:
    description:
      - How many times a failed request may be sent again. Default V(3).
      - When not set, the environment variable E(POLARSEARCH_RETRIES) is used.
      - Every request may be sent again when it never reached the server (connection refused, connect
        timeout) or when the server refused it before acting on it (HTTP 429, honouring C(Retry-After),
        503, and the ML Commons master key answers of a fresh or restarted cluster, 404 "master key ...
        not initialized" and 500 "Fetching master key timed out").
      - When the answer was lost after the request was sent (read timeout, connection reset, HTTP 502 or
        504 from a proxy), only what is safe to do twice is sent again, reads, C(PUT), C(DELETE),
        C(_deploy) and C(_undeploy). A request that creates something is looked up first, a few times
        seconds apart, so a retry cannot create a duplicate. A C(_predict) is not sent again (a
        prediction may cost money) unless the module allows it.
      - TLS verification errors, an invalid URL, HTTP 400, 401, 403, 404 and other 5xx answers are never
        retried. Each retry is reported as a warning naming the request and the reason.
      - Retries wait with exponential backoff and jitter.
    type: int
attributes:
  action_group:
    support: full
    membership:
      - polardb.polarsearch.polarsearch
    description: Use C(group/polardb.polarsearch.polarsearch) in C(module_defaults) to set the connection once.
requirements:
  - requests
notes:
  - Error messages name the HTTP method, path, status and the server's reason, and the likely fix (a
    rejected password names the user, a missing permission names it and the request, an unknown CA
    names O(ca_path) and O(validate_certs)); they never contain a password, an API key or a connector
    credential.
  - Proxy environment variables (E(HTTPS_PROXY), E(NO_PROXY), ...) are honoured. List a private
    endpoint in E(NO_PROXY) when a proxy is set for the internet.
"""
