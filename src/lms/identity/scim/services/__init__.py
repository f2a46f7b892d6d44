"""SCIM services: provisioning users and groups, SCIM documents and filters, SCIM-format errors."""
