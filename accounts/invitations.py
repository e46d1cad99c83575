"""The email that lets a person without a password set one (the password-reset flow): a new member added
without a password, and the owner of an account reactivated after its users were erased (K8, K9)."""

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Membership

logger = logging.getLogger(__name__)


def invite(membership: Membership, *, reactivated: bool = False) -> None:
    """Email the member a link to set their password, once the caller's transaction commits."""
    user = membership.user
    link = settings.SITE_URL.rstrip("/") + reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {
        "user": user,
        "account": membership.account,
        "role": membership.get_role_display(),
        "link": link,
        "reactivated": reactivated,
    }
    subject = " ".join(render_to_string("emails/member_invitation-subject.txt", context).split())
    body = render_to_string("emails/member_invitation-body.txt", context)

    def send() -> None:
        try:
            send_mail(subject, body, None, [user.email])
        except Exception:  # the member exists either way; staff can resend through the reset page
            logger.exception("Invitation email to %s failed", user.email)

    transaction.on_commit(send)
