"""`manage.py staff_totp EMAIL [--replace]`: set up a staff member's authenticator app (staff two-factor)."""

from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.models import User


class Command(BaseCommand):
    help = "Create a TOTP authenticator for a staff user and print its secret and otpauth:// provisioning URI."

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")
        parser.add_argument("--replace", action="store_true", help="Remove the user's other authenticators first.")

    def handle(self, *args, email: str, replace: bool, **options) -> None:
        user = User.objects.filter(email=email.strip().lower(), is_staff=True).first()
        if user is None:
            raise CommandError(f"No staff user has the email {email!r}.")
        if replace:
            TOTPDevice.objects.filter(user=user).delete()
        device = two_factor.create_authenticator(user)
        self.stdout.write(f"secret: {two_factor.secret_of(device)}\nuri:    {device.config_url}")
