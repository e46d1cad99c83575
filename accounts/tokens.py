"""API tokens (DRF's authtoken): when one is issued and when it stops working, decided here for every caller.

- A password change or reset deletes the user's tokens (`User.save`), as Django ends their other sessions: a
  token someone copied keeps nothing open once the password it was issued against is gone.
- A staff token lives `STAFF_TOKEN_DAYS` days from its creation; after that the API answers 401 `token_expired`
  and a new one is issued with the password and a code (POST /api/v1/auth/token/), or minted (`mint_token`).
- A staff token is tied to the second factor it was issued against: removing a staff member's authenticator
  (a TOTP device: lost phone, leaving the desk) deletes their tokens, so the API answers 401 until a new token is
  issued with a code of the device they have now. (A token minted with `mint_token` for an integration user,
  who has no authenticator, is not tied to one: whoever runs the command holds the server.)
"""

import datetime as dt

from django.conf import settings
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


class TokenExpired(exceptions.AuthenticationFailed):
    default_code = "token_expired"
    default_detail = "This staff token has expired: get a new one with your password and a code (/api/v1/auth/token/)."


def expires_at(token: Token) -> dt.datetime | None:
    """When this token stops working: a staff token STAFF_TOKEN_DAYS after its creation; a customer's never (it dies
    with their password or their access)."""
    if not token.user.is_staff:
        return None
    return token.created + dt.timedelta(days=settings.STAFF_TOKEN_DAYS)


def is_expired(token: Token) -> bool:
    end = expires_at(token)
    return end is not None and end <= timezone.now()


def check_token(token: Token) -> None:
    """Raise the 401 a token no longer good for gets; return for a live one."""
    if is_expired(token):
        raise TokenExpired()


def issue_token(user) -> Token:
    """The user's token, a new one in place of an expired one (a user holds one token: DRF's model)."""
    current = Token.objects.select_related("user").filter(user=user).first()
    if current is not None and is_expired(current):
        current.delete()
    token, _ = Token.objects.get_or_create(user=user)  # two requests at once get the same new token
    return token


def revoke_tokens(user) -> int:
    """Delete every API token of the user; how many there were."""
    deleted, _ = Token.objects.filter(user_id=user.pk).delete()
    return deleted


class DeskTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing a staff token past its expiry (401 `token_expired`)."""

    def authenticate_credentials(self, key: str):
        user, token = super().authenticate_credentials(key)
        check_token(token)
        return user, token


@receiver(post_delete, sender=TOTPDevice, dispatch_uid="accounts.tokens.device_removed")
def _device_removed(sender, instance: TOTPDevice, **kwargs) -> None:
    # The tokens were issued against a code of the authenticators the person had; one of them is gone (lost phone,
    # staff member leaving): the tokens go with it, and a new one needs a code of the device they have now.
    Token.objects.filter(user_id=instance.user_id).delete()
