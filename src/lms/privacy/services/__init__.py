"""Privacy services: personal data exports, erasure, the tenant's erasure policy, signed download links."""
