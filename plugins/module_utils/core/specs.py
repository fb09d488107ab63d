# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the resource modules, shared with polarsearch_ml_stack, which checks each resource of a
stack against the same specification as the module that manages it alone.

Each function returns a fresh ``{argument_spec, ...}`` dict: the keyword arguments of
``PolarSearchModule`` (and of ``ArgumentSpecValidator``, but ``secret_options``).
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback


def cluster_settings():
    return dict(
        argument_spec=dict(
            persistent=dict(type="dict"),
            transient=dict(type="dict"),
            list_mode=dict(type="str", default="append", choices=["append", "replace", "remove"]),
        ),
        required_one_of=[("persistent", "transient")],
    )


def connector():
    return dict(
        argument_spec=dict(
            name=dict(type="str"),
            connector_id=dict(type="str"),
            description=dict(type="str"),
            version=dict(type="str"),
            protocol=dict(type="str", choices=["http", "aws_sigv4", "mcp_sse", "mcp_streamable_http"]),
            parameters=dict(type="dict"),
            url=dict(type="str"),
            headers=dict(type="dict"),
            credential=dict(type="dict", no_log=True),
            credential_update=dict(type="str", default="on_change", choices=["on_change", "always", "on_create"]),
            fingerprint_key=dict(type="str", no_log=True, fallback=(env_fallback, ["POLARSEARCH_FINGERPRINT_KEY"])),
            actions=dict(type="list", elements="dict", options=dict(
                action_type=dict(type="str", required=True),
                method=dict(type="str", required=True),
                url=dict(type="str", required=True),
                headers=dict(type="dict"),
                request_body=dict(type="raw"),
                pre_process_function=dict(type="str"),
                post_process_function=dict(type="str"),
                name=dict(type="str"),
                supports_structured_output=dict(type="bool"),
            )),
            client_config=dict(type="dict"),
            access_mode=dict(type="str", choices=["public", "private", "restricted"]),
            backend_roles=dict(type="list", elements="str"),
            add_all_backend_roles=dict(type="bool"),
            on_deployed_models=dict(type="str", default="replace", choices=["replace", "redeploy", "fail"]),
            duplicates=dict(type="str", default="fail", choices=["fail", "keep_one"]),
            wait_timeout=dict(type="int", default=300),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        secret_options=("credential", "fingerprint_key"),
        required_one_of=[("name", "connector_id")],
    )


def model_group():
    return dict(
        argument_spec=dict(
            name=dict(type="str"),
            model_group_id=dict(type="str"),
            description=dict(type="str"),
            access_mode=dict(type="str", choices=["public", "private", "restricted"]),
            backend_roles=dict(type="list", elements="str"),
            add_all_backend_roles=dict(type="bool"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_one_of=[("name", "model_group_id")],
        mutually_exclusive=[("backend_roles", "add_all_backend_roles")],
    )


def model():
    return dict(
        argument_spec=dict(
            name=dict(type="str"),
            model_id=dict(type="str"),
            connector=dict(type="str"),
            connector_id=dict(type="str"),
            description=dict(type="str"),
            model_group=dict(type="str"),
            model_group_id=dict(type="str"),
            interface=dict(type="dict"),
            is_enabled=dict(type="bool"),
            rate_limiter=dict(type="dict"),
            guardrails=dict(type="dict"),
            state=dict(type="str", default="present", choices=["present", "deployed", "undeployed", "absent"]),
            force_delete_referenced=dict(type="bool", default=False),
            removed_first=dict(type="list", elements="dict", options=dict(
                kind=dict(type="str", required=True, choices=["ingest_pipeline", "search_pipeline", "agent"]),
                name=dict(type="str", required=True))),
            duplicates=dict(type="str", default="fail", choices=["fail", "keep_one"]),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=300),
        ),
        required_one_of=[("name", "model_id")],
        mutually_exclusive=[("connector", "connector_id")],
    )


def pipeline():
    return dict(
        argument_spec=dict(
            name=dict(type="str", required=True),
            type=dict(type="str", required=True, choices=["ingest", "search"]),
            definition=dict(type="dict"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ("definition",))],
    )


def index():
    return dict(
        argument_spec=dict(
            name=dict(type="str", required=True),
            mappings=dict(type="dict"),
            settings=dict(type="dict"),
            recreate=dict(type="bool", default=False),
            only_if_managed=dict(type="bool", default=False),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
    )


def predict():
    return dict(
        argument_spec=dict(
            name=dict(type="str"),
            model_id=dict(type="str"),
            parameters=dict(type="dict", required=True),
            action_type=dict(type="str"),
            require_deployed=dict(type="bool", default=False),
            retry_predict=dict(type="bool", default=False),
        ),
        required_one_of=[("name", "model_id")],
        mutually_exclusive=[("name", "model_id")],
    )
