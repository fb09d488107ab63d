# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options every module takes (documented in the doc fragment ``connection``); their
environment fallbacks, defaults and checks are ConnectionOptions' (connection.py). No import here, so that
the controller can read the options without loading the HTTP client.
"""

from __future__ import annotations

ARGUMENT_SPEC = dict(
    host=dict(type="str"),
    scheme=dict(type="str", default="https", choices=["http", "https"]),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    user_password=dict(type="str", no_log=True),
    validate_certs=dict(type="bool"),
    ca_path=dict(type="path"),
    client_cert=dict(type="path"),
    client_key=dict(type="path"),
    timeout=dict(type="float"),
    connect_timeout=dict(type="float"),
    retries=dict(type="int"),
)
