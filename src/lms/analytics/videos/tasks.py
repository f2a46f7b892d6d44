"""Names of the video analytics jobs."""

REFRESH_VIDEOS_TASK = "analytics.refresh_video_rollups"
