"""Names of the media jobs (sent by services, run by workers/media.py)."""

TRANSCODE = "media.transcode"
EXPIRE_UPLOADS = "media.expire_abandoned_uploads"
