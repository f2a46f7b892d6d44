"""Names of the course analytics jobs."""

REFRESH_TASK = "analytics.refresh_course_rollups"
