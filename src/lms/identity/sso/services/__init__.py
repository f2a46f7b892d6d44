"""SSO services: accounts keyed by (provider, subject), provisioning, provider documents fetched safely."""
