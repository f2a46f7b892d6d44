"""Sign-in services: local sign-in, sessions, access tokens and their keys, revocation, throttling, passwords."""
