"""Celery app, beat schedule, and thin task wrappers over lms services."""
