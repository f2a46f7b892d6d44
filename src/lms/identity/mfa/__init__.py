"""Two-step sign-in (TOTP): enrolment, verification, recovery codes and the tenant's policy."""
