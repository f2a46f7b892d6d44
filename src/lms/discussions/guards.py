"""Who may call the discussion routes: any signed-in person; membership of the course (enrolled, or its
staff) is checked by the service for each course, thread and post."""

from __future__ import annotations

from lms.identity.guards import requires_user

requires_member = requires_user
