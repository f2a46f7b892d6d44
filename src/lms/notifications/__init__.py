"""Notifications: one service every domain calls; in-app inbox, branded e-mail, daily digests, preferences."""
