"""Tests of the embedded PostgreSQL and Redis runtime."""
