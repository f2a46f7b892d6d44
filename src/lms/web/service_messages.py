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
)
