"""Multi-tenant corporate learning platform."""
