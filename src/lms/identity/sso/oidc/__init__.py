"""OpenID Connect: the relying party (discovery, code flow with PKCE, ID token validation)."""
