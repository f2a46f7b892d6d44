"""The operator console: pages for platform operators (sign-in with a second factor, tenants, health)."""
