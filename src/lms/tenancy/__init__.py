"""Tenants: host resolution, the operator API, and tenants as code."""
