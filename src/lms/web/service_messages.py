"""Messages of the services that pages show in a form, marked here so the catalogues translate them.

`lms.web.forms.service_message` turns a service's error into this sentence form before it looks it
up; a message missing here is shown in English (a test lists the ones pages meet). A message with
values keeps its `%(name)s` placeholders here; the page fills them in after translating.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for extraction without translating it now."""
    return message


SERVICE_MESSAGES = (
    # single sign-on set-up
    N_("Switch on a sign-in provider before you require single sign-on."),
    N_("A provider with this name already exists."),
    N_("A client secret is needed for %(method)s."),
    # the operator console
    N_("The e-mail or the operator token is not right."),
    N_("The code is not right; codes change every 30 seconds."),
    N_("This operator has not set up two-step sign-in yet."),
    N_("Enter the administrator's e-mail address, like name@example.com."),
    N_("Only a suspended tenant can be resumed; this one is active."),
    N_("A deleted tenant cannot be suspended."),
    N_("Delete the tenant before purging it."),
    N_("Only a tenant on trial (or whose trial ended) can have it extended."),
    N_("This site pays through a Stripe subscription; its seats change there (or comp seats here)."),
    N_("A deleted tenant's billing cannot be changed."),
    N_("The current password is not correct."),
    N_("The password needs at least 12 characters."),
    N_("The password may have at most 256 characters."),
    N_("A code from your authenticator app (or a recovery code) is required."),
    N_("This password is too easy to guess."),
    N_("The password must not contain your e-mail address."),
    N_("This link is invalid, expired or already used."),
    N_("This invitation is no longer valid."),
    N_("This account cannot reset its password."),
    N_("This site signs in with your company's single sign-on; passwords are disabled."),
    N_("This account is deactivated and cannot sign in."),
    N_("This account is invited and cannot sign in."),
    N_("The code is not correct."),
    N_("Multi-factor sign-in is not enabled."),
    N_("Your organisation requires multi-factor sign-in for your role."),
    N_("Multi-factor sign-in is already enabled."),
    N_("A submission needs text, a URL or at least one file."),
    N_("The URL must be an http(s) address of at most 2000 characters."),
    N_("This assignment does not accept text submissions."),
    N_("This assignment does not accept url submissions."),
    N_("This assignment does not accept file submissions."),
    N_("This review has already been submitted."),
    N_("This attempt has already been submitted."),
    N_("All %(count)s attempts have been used."),
    N_("The next attempt opens in %(seconds)s s (cooldown)."),
    N_("The quiz closed at %(moment)s."),
    N_("The due date (%(moment)s) has passed."),
    N_("The review deadline (%(moment)s) has passed."),
    N_("Too many failed sign-ins from this network; try again in %(minutes)s minutes."),
    N_("This account is temporarily locked; try again in %(minutes)s minutes."),
    N_("Complete the module '%(title)s' first."),
    N_("Pass the quiz '%(title)s' first."),
    N_("Another attempt was started at the same time."),
    N_("The pool draws %(count)s questions but only %(available)s match."),
    N_("The rubric cannot change once a submission has been graded with it."),
    N_("The cover image is larger than 2048 KB."),
    N_("The cover image is larger than 4000 pixels on a side."),
    N_("The cover image is not a PNG, JPEG or WebP image."),
    N_("SVG images are not accepted for the cover image; upload a PNG, JPEG or WebP image."),
    N_("The image is larger than 2048 KB."),
    N_("The image is larger than 4000 pixels on a side."),
    N_("The image is not a PNG, JPEG or WebP image."),
    N_("SVG images are not accepted for the image; upload a PNG, JPEG or WebP image."),
    N_("Images go into text lessons."),
    N_("A group cannot sit inside itself or one of its subgroups."),
    N_("A group with this name already exists."),
    N_("The file is %(size)s bytes; this site accepts at most %(limit)s."),
    N_("Part number must be between 1 and %(count)s."),
    N_("Part %(number)s must be %(expected)s bytes, got %(got)s."),
    N_("Parts missing: %(parts)s."),
    N_("Caption files are limited to %(limit)s bytes."),
)

# The admin console: account administration and bulk import (sentence form, as service_message makes it).
ADMIN_MESSAGES = (
    N_("You cannot deactivate your own account."),
    N_("You cannot remove your own tenant_admin role."),
    N_("A user with this e-mail already exists."),
    N_("Only invited users can be sent an invitation."),
    N_("Preview the import before applying it."),
    N_("This import is running or already applied; upload the file again."),
    N_("The file is empty."),
    N_("The file is larger than 64 MiB."),
    N_("The file is not UTF-8 text; save it as CSV UTF-8."),
    N_("The file is empty; the first row must name the columns."),
    N_("The file is not an Excel workbook (.xlsx) this import can read."),
    N_("The worksheet is larger than the import accepts (64 MiB as CSV)."),
)

# Row problems of an import, shown as they are stored (the import page translates them as they are).
IMPORT_ROW_PROBLEMS = (
    N_("the e-mail address is missing"),
    N_("not an e-mail address"),
    N_("this e-mail address is already in an earlier row"),
    N_("the name is missing"),
    N_("the name is longer than 200 characters"),
    N_("longer than 255 characters"),
    N_("this external id is already in an earlier row"),
    N_("a group name is longer than 200 characters"),
    N_("unknown language (use en, de or fr)"),
    N_("the row contains a character that is not allowed"),
    N_("this e-mail address belongs to another user"),
    N_("this user already has a different external id"),
    N_("another row of the file is already about this user"),
    N_("a user cannot be their own manager"),
    N_("no user with this e-mail address in this site, and no valid row for it in the file"),
    # personal data: exports and erasure
    N_("This person's data was erased; there is nothing left to export."),
    N_("You cannot erase your own account."),
    N_("this person's data was erased; the account cannot be changed"),
    N_("Type the person's e-mail address exactly to confirm."),
    # assigned training
    N_("Choose a published course of this site."),
    N_("Choose a group or enter one person's e-mail."),
    N_("No such group in this site."),
    N_("Nobody in this site has this e-mail."),
    N_("Give a due date or a number of days."),
    N_("The due date is in the past."),
    N_("A recurring assignment is due a number of days after each start."),
    N_("This course is already assigned to them."),
    N_("Choose a published program of this site."),
    N_("This program has no published course of this site."),
    N_("Every course of this program is already assigned to them."),
    # seats & billing: plan changes and refunds
    N_("This site has no subscription yet; choose a plan and pay with Checkout."),
    N_("%(used)s seats are in use; license at least that many seats or deactivate learners first."),
    N_("This site is already on this plan; change its seats instead."),
    N_("Choose a paid plan."),
    N_("The payment provider could not be reached; try again in a minute."),
    N_("Refund at most %(remaining)s (what is left of the payment)."),
    N_("The payment provider refused the refund: %(reason)s."),
    N_("Only a paid purchase can be refunded."),
    N_(
        "The payment for the upgrade did not go through; the plan changes as soon as it is paid "
        "(update the payment method under Payment methods and receipts)."
    ),
)
