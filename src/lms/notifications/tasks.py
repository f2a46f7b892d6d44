"""Names of the notification jobs (the wrappers live in workers/notifications.py)."""

# Beat, hourly: the daily digest of every user whose morning it is.
DIGEST_TASK = "notifications.send_digests"
# After an announcement commits: the instant e-mails it owes, in batches.
SEND_PENDING_TASK = "notifications.send_pending"
# Beat, hourly: "due soon" and "overdue" reminders for enrolments and assignments with a due date.
DUE_REMINDERS_TASK = "notifications.send_due_reminders"
