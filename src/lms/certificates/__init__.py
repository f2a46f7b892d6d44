"""Certificates: issuance on course completion, PDF rendering, public verification, verifiable credentials."""
