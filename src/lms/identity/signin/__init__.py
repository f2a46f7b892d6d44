"""Signing in: passwords, sessions and refresh tokens, access tokens, signing keys, revocation, throttling."""
