"""Single sign-on set-up pages for tenant admins."""
