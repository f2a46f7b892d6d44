"""Single sign-on: per-tenant SAML 2.0 and OpenID Connect providers, just-in-time provisioning."""
