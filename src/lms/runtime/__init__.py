"""Embedded default runtime: PostgreSQL and Redis started by the platform itself when no URL is set."""
