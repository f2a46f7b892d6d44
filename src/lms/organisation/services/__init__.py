"""The organisation domain's work: the setup checklist, the user list for admins and bulk import."""
