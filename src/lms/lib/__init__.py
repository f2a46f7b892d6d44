"""Small shared pieces: errors, pagination, background jobs, telemetry."""
