"""Users, roles, authentication and single sign-on."""
