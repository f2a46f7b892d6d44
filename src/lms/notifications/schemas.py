"""Notification kinds (their texts and defaults) and the JSON shapes of the notification API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec


def N_(message: str) -> str:
    """Marks a message for the catalogues; it is translated when rendered, in the reader's language."""
    return message


Mode = Literal["instant", "digest", "off"]
CHANNELS = ("in_app", "email")
MODES = ("instant", "digest", "off")


@dataclass(frozen=True)
class Kind:
    """What a notification of this kind says and where it goes unless the user chose otherwise.
    `title` and `body` take `%(name)s` parameters from the notification's params."""

    name: str
    label: str
    title: str
    body: str
    action: str
    email: Mode = "instant"
    in_app: Mode = "instant"
    # Transactional (a sign-in link): always e-mailed at once, never in a digest, no unsubscribe.
    required: bool = False
    # Only staff or admins can receive it; learners' preference pages leave it out.
    staff_only: bool = False
    # Parameters whose values are catalogue messages (marked with N_ where they are written), shown in
    # the reader's language and filled with the other parameters.
    translated: tuple[str, ...] = ()
    # Parameters holding a moment (ISO 8601; a date alone for a day): shown in the reader's language
    # and time zone when the notice is read or e-mailed.
    moments: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "invitation",
            N_("Invitations"),
            N_("You are invited to %(site)s"),
            N_("Hello %(name)s, you have been invited. Choose a password with the link below (valid for 7 days)."),
            N_("Accept the invitation"),
            in_app="off",
            required=True,
        ),
        Kind(
            "password_reset",
            N_("Password reset"),
            N_("Reset your password for %(site)s"),
            N_(
                "Hello %(name)s, choose a new password with the link below (valid for one hour, works once). "
                "If you did not ask for this, ignore this e-mail."
            ),
            N_("Choose a new password"),
            in_app="off",
            required=True,
        ),
        Kind(
            "enrolment",
            N_("Enrolments"),
            N_("You are enrolled in %(course)s"),
            N_("You can start %(course)s now."),
            N_("Open the course"),
            email="digest",
            moments=("due",),
        ),
        Kind(
            "due_soon",
            N_("Due soon"),
            N_("%(course)s is due on %(due)s"),
            N_("Finish %(course)s before its due date."),
            N_("Continue"),
            moments=("due",),
        ),
        Kind(
            "overdue",
            N_("Overdue"),
            N_("%(course)s is overdue"),
            N_("%(course)s was due on %(due)s. Please finish it as soon as you can."),
            N_("Continue"),
            moments=("due",),
        ),
        Kind(
            "submission_received",
            N_("Submissions received"),
            N_("Received: %(title)s"),
            N_("Your submission (version %(version)s) was received."),
            N_("Open the assignment"),
        ),
        Kind(
            "graded",
            N_("Grades"),
            N_("Graded: %(title)s"),
            N_("Your work was graded: %(score)s%%."),
            N_("See your grade"),
        ),
        Kind(
            "returned",
            N_("Returned work"),
            N_("Returned: %(title)s"),
            N_("Your work was returned; you may submit a new version."),
            N_("Open the assignment"),
        ),
        Kind(
            "in_review",
            N_("Work in review"),
            N_("In review: %(title)s"),
            N_("Your submission is being reviewed."),
            N_("Open the assignment"),
            email="off",
        ),
        Kind(
            "review_assigned",
            N_("Peer reviews to do"),
            N_("Peer review to do: %(title)s"),
            N_("Please review a submission by %(due)s."),
            N_("Start the review"),
            moments=("due",),
        ),
        Kind(
            "thread_reply",
            N_("Replies to threads you follow"),
            N_("%(author)s replied in %(thread)s"),
            N_("%(excerpt)s"),
            N_("Read the reply"),
            email="digest",
        ),
        Kind(
            "mention",
            N_("Mentions"),
            N_("%(author)s mentioned you in %(thread)s"),
            N_("%(excerpt)s"),
            N_("Read the post"),
        ),
        Kind(
            "question_answered",
            N_("Answers to your questions"),
            N_("Your question was answered: %(thread)s"),
            N_("%(author)s marked an answer to your question in %(course)s."),
            N_("Read the answer"),
            email="digest",
        ),
        Kind(
            "course_completed",
            N_("Courses completed"),
            N_("You completed %(course)s"),
            N_("Well done: you completed %(course)s."),
            N_("See what is next"),
            email="digest",
        ),
        Kind(
            "certificate_issued",
            N_("Certificates issued"),
            N_("Your certificate for %(course)s"),
            N_("Your certificate for %(course)s is ready."),
            N_("View the certificate"),
        ),
        Kind(
            "certificate_expiring",
            N_("Certificates expiring"),
            N_("Your certificate for %(course)s expires on %(due)s"),
            N_("Your certificate for %(course)s expires on %(due)s. Please recertify by completing the course again."),
            N_("Recertify"),
            moments=("due",),
        ),
        Kind(
            "certificate_expired",
            N_("Certificates expired"),
            N_("Your certificate for %(course)s has expired"),
            N_("Your certificate for %(course)s expired on %(due)s. Please recertify by completing the course again."),
            N_("Recertify"),
        ),
        Kind(
            "announcement",
            N_("Announcements"),
            N_("%(subject)s"),
            N_("%(message)s"),
            N_("Open"),
            email="digest",
        ),
        Kind(
            "post_reported",
            N_("Reported posts"),
            N_("A post was reported in %(course)s"),
            N_("A post in %(thread)s was reported and is waiting in the moderation queue."),
            N_("Open the moderation queue"),
            email="digest",
            staff_only=True,
        ),
        Kind(
            "purchase_paid",
            N_("Receipts"),
            N_("Receipt: %(course)s"),
            N_("Thank you for your purchase of %(course)s (%(amount)s). You are enrolled; open My learning to start."),
            N_("Open the course"),
        ),
        Kind(
            "purchase_refunded",
            N_("Refunds"),
            N_("Refund: %(course)s"),
            N_("Your payment of %(amount)s for %(course)s was refunded. Your enrolment in the course has ended."),
            N_("Open My learning"),
        ),
        Kind(
            "purchase_partially_refunded",
            N_("Partial refunds"),
            N_("Partial refund: %(course)s"),
            N_(
                "%(refunded)s of your payment of %(amount)s for %(course)s was refunded. You keep your enrolment "
                "in the course."
            ),
            N_("Open the course"),
        ),
        Kind(
            "billing",
            N_("Seats and billing"),
            N_("%(subject)s"),
            N_("%(message)s"),
            N_("Open billing"),
            staff_only=True,
            translated=("subject", "message"),
        ),
    )
}


class NotificationOut(msgspec.Struct):
    id: UUID
    kind: str
    title: str
    body: str
    link: str | None
    read: bool
    created_at: datetime


class NotificationPage(msgspec.Struct):
    items: list[NotificationOut]
    total: int
    limit: int
    offset: int
    unread: int


class UnreadCount(msgspec.Struct):
    unread: int


class MarkedRead(msgspec.Struct):
    marked: int


class PreferenceOut(msgspec.Struct):
    kind: str
    label: str
    in_app: str
    email: str
    required: bool


class PreferenceIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    channel: str
    mode: str


class PreferencesIn(msgspec.Struct, forbid_unknown_fields=True):
    preferences: list[PreferenceIn]


class AnnouncementIn(msgspec.Struct, forbid_unknown_fields=True):
    subject: str
    message: str
    link: str | None = None


class AnnouncementOut(msgspec.Struct):
    recipients: int
