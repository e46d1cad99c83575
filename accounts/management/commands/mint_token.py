"""`manage.py mint_token EMAIL [--rotate]`: an API token for an integration user, printed once.

Integrations (a billing system, a carrier's porting robot) cannot type a TOTP code: their token is minted here by
someone holding the server, instead of through POST /api/v1/auth/token/ with a password and a code.
"""

from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from accounts import tokens
from accounts.models import User


class Command(BaseCommand):
    help = "Print an API token for an integration user (created if missing; --rotate replaces an existing one)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")
        parser.add_argument("--rotate", action="store_true", help="Revoke the user's token and mint a new one.")

    def handle(self, *args, email: str, rotate: bool, **options) -> None:
        user = User.objects.filter(email=email.strip().lower()).first()
        if user is None:
            raise CommandError(f"No user has the email {email!r}.")
        if not user.is_active:
            raise CommandError(f"{user.email} is not active: its access was removed.")
        if rotate:
            tokens.revoke_tokens(user)
        existing = Token.objects.filter(user=user).values_list("key", flat=True).first()
        token = tokens.issue_token(user)  # a staff token past STAFF_TOKEN_DAYS is replaced
        self.stdout.write(token.key)
        if options["verbosity"] > 1:
            self.stderr.write(f"{'Existing' if token.key == existing else 'Minted'} token of {user.email}.")
