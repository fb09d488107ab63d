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
      - When not set, the environment variable E(POLARSEARCH_USERNAME) is used.
      - Mutually exclusive with O(user_password). Omit all credentials for a cluster without security.
    type: str
  password:
    description:
      - The password of O(username).
      - When not set, the environment variable E(POLARSEARCH_PASSWORD) is used.
    type: str
  user_password:
    description:
      - User and password in the C(user:password) form the PolarSearch documentation uses.
      - When not set, the environment variable E(POLARSEARCH_USER_PASSWORD) is used.
      - Mutually exclusive with O(username) and O(password).
    type: str
  validate_certs:
    description:
      - Whether to verify the server's TLS certificate.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the CA certificates to verify the server with.
    type: path
  client_cert:
    description:
      - A PEM client certificate for mutual TLS (may also hold the key).
    type: path
  client_key:
    description:
      - The PEM private key of O(client_cert), when it is a separate file.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP response.
    type: float
    default: 30
  retries:
    description:
      - How many times to retry a request after a connection error, HTTP 429, 502, 503 or 504, or the
        404 a fresh cluster answers while its ML encryption master key is not initialized yet.
      - Retries wait with exponential backoff and jitter. A request that creates something is never
        repeated blindly; the object is looked up by name first, so a retry cannot create a duplicate.
    type: int
    default: 3
attributes:
  action_group:
    support: full
    membership:
      - polardb.polarsearch.polarsearch
    description: Use C(group/polardb.polarsearch.polarsearch) in C(module_defaults) to set the connection once.
requirements:
  - requests
notes:
  - Error messages name the HTTP method, path, status and the server's reason, and never contain a
    password, an API key or a connector credential.
"""
