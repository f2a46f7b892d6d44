"""SCIM 2.0 (RFC 7643/7644) provisioning of users and groups by the tenant's identity provider."""
