"""Tenant administration: the admin console, bulk user import, groups, managers and assigned training."""
