"""Account services: the tenant's account directory and the cached own-profile read."""
