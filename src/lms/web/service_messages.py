"""Messages of the services that pages show in a form, marked here so the catalogues translate them.

`lms.web.forms.service_message` turns a service's error into this sentence form before it looks it
up; a message missing here is shown in English (a test lists the ones pages meet).
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for extraction without translating it now."""
    return message


SERVICE_MESSAGES = (
    # the operator console
    N_("The e-mail or the operator token is not right."),
    N_("The code is not right; codes change every 30 seconds."),
    N_("This operator has not set up two-step sign-in yet."),
    N_("Enter the administrator's e-mail address, like name@example.com."),
    N_("Only a suspended tenant can be resumed; this one is active."),
    N_("A deleted tenant cannot be suspended."),
    N_("Delete the tenant before purging it."),
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
)
