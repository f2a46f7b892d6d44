"""SAML 2.0: the service provider and its routes (set-up, metadata, ACS, single logout)."""
