"""Names of the media jobs (sent by services, run by workers/media.py)."""

TRANSCODE = "media.transcode"
ENCODE_CHUNK = "media.encode_chunk"
EXPIRE_UPLOADS = "media.expire_abandoned_uploads"
