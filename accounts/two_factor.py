"""Staff two-factor sign-in (SPEC §9): a TOTP code from an authenticator app on top of the password.

django-otp holds the devices (TOTP, RFC 6238, with replay protection and throttling of wrong codes) and marks a
session verified (`django_otp.login`); this module decides where a verified session is needed, once for every
staff surface: the admin, the manager queues, the API in a staff session, and a staff API token (tickets.api.accounts).
A staff member signs in with their password as anyone does, then gives a code on /accounts/two-factor/.

With settings.STAFF_OTP_REQUIRED off (local development, most of the test suite) the password alone is enough.
"""

from base64 import b32encode
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

PROTECTED_PREFIXES = ("/admin/", "/queues/", "/api/")
# The admin's own sign-in and sign-out, and the token endpoint (which asks for the code itself), stay reachable.
OPEN_PATHS = ("/admin/login/", "/admin/logout/", "/api/v1/auth/token/")


def otp_required_for(user) -> bool:
    """Whether this user must give a TOTP code before staff pages, staff sessions on the API, or a token."""
    return bool(settings.STAFF_OTP_REQUIRED and user.is_authenticated and user.is_staff)


def needs_verification(user) -> bool:
    is_verified = getattr(user, "is_verified", None)
    return otp_required_for(user) and not (is_verified and is_verified())


def code_matches(user, code: str | None) -> bool:
    """A current code of one of the user's confirmed TOTP devices (django-otp refuses a code used before and
    throttles after wrong ones)."""
    code = (code or "").strip().replace(" ", "")
    return bool(code) and code.isdigit() and match_token(user, code) is not None


def has_authenticator(user) -> bool:
    return user_has_device(user, confirmed=True)


def create_authenticator(user, name: str = "Authenticator app") -> TOTPDevice:
    """A confirmed TOTP device for a staff user: its secret and provisioning URI go to their authenticator app."""
    return TOTPDevice.objects.create(user=user, name=name, confirmed=True)


def secret_of(device: TOTPDevice) -> str:
    """The base32 secret an authenticator app takes by hand (the otpauth:// URI carries the same)."""
    return b32encode(device.bin_key).decode()


class StaffTwoFactorMiddleware:
    """Sends a staff session that gave no code this time to /accounts/two-factor/ (the API answers 403)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if self._guarded(request, path) and needs_verification(request.user):
            if path.startswith("/api/"):
                detail = (
                    "Staff sessions need a code from the authenticator app: sign in again at /accounts/two-factor/."
                )
                return JsonResponse({"code": "otp_required", "detail": detail}, status=403)
            return redirect(f"{reverse('two_factor')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def _guarded(request: HttpRequest, path: str) -> bool:
        if not path.startswith(PROTECTED_PREFIXES) or path.startswith(OPEN_PATHS):
            return False
        # An API call with a token is authenticated by the token alone (DRF's TokenAuthentication answers it, 401 for
        # a bad one, and never falls back to the session): staff tokens were issued against a code. The session is
        # then not read at all.
        return not (path.startswith("/api/") and request.headers.get("Authorization", "").startswith("Token "))
