"""SCIM discovery documents: ServiceProviderConfig, ResourceTypes and Schemas (RFC 7643 sections 5-7)."""

from __future__ import annotations

from typing import Any

from lms.identity.scim.services.documents import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


def service_provider_config(base_url: str) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "documentationUri": f"{base_url}/schema",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 200},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A per-tenant SCIM token created by a tenant admin (POST /api/v1/scim-tokens)",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url}/scim/v2/ServiceProviderConfig"},
    }


def resource_types(base_url: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/scim/v2/ResourceTypes/User"},
        },
        {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "schema": GROUP_SCHEMA,
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/scim/v2/ResourceTypes/Group"},
        },
    ]


# Enterprise attributes kept as the person's custom attributes (see services.provisioning).
ENTERPRISE_TEXT_ATTRIBUTES = ("department", "division", "organization", "costCenter", "employeeNumber")


def _attribute(name: str, type_: str = "string", **extra: Any) -> dict[str, Any]:
    base = {
        "name": name,
        "type": type_,
        "multiValued": False,
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }
    base.update(extra)
    return base


def schemas(base_url: str) -> list[dict[str, Any]]:
    value_list = [_attribute("value"), _attribute("display", mutability="readOnly")]
    return [
        {
            "schemas": [SCHEMA_SCHEMA],
            "id": USER_SCHEMA,
            "name": "User",
            "description": "A person of this tenant; userName is the e-mail address",
            "attributes": [
                _attribute("userName", required=True, uniqueness="server"),
                _attribute("externalId", caseExact=True),
                _attribute("displayName"),
                _attribute(
                    "name",
                    "complex",
                    subAttributes=[_attribute("formatted"), _attribute("givenName"), _attribute("familyName")],
                ),
                _attribute("emails", "complex", multiValued=True, subAttributes=[_attribute("value")]),
                _attribute("active", "boolean"),
                _attribute("roles", "complex", multiValued=True, subAttributes=[_attribute("value")]),
                _attribute("groups", "complex", multiValued=True, mutability="readOnly", subAttributes=value_list),
            ],
            "meta": {"resourceType": "Schema", "location": f"{base_url}/scim/v2/Schemas/{USER_SCHEMA}"},
        },
        {
            "schemas": [SCHEMA_SCHEMA],
            "id": ENTERPRISE_SCHEMA,
            "name": "EnterpriseUser",
            "description": "Enterprise extension: the manager, and department and the like as custom attributes",
            "attributes": [
                _attribute("manager", "complex", subAttributes=[_attribute("value")]),
                *(_attribute(name) for name in ENTERPRISE_TEXT_ATTRIBUTES),
            ],
            "meta": {"resourceType": "Schema", "location": f"{base_url}/scim/v2/Schemas/{ENTERPRISE_SCHEMA}"},
        },
        {
            "schemas": [SCHEMA_SCHEMA],
            "id": GROUP_SCHEMA,
            "name": "Group",
            "description": "A group of users; group names can map to roles",
            "attributes": [
                _attribute("displayName", required=True, uniqueness="server"),
                _attribute("externalId", caseExact=True),
                _attribute("members", "complex", multiValued=True, subAttributes=value_list),
            ],
            "meta": {"resourceType": "Schema", "location": f"{base_url}/scim/v2/Schemas/{GROUP_SCHEMA}"},
        },
    ]
