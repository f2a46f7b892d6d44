"""Server-rendered pages; templates and the default theme live in branding/."""
