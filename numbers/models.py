import phonenumbers
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


def normalize_e164(value: str) -> str:
    """Parse a phone number and return it in E.164, or raise ValidationError."""
    try:
        parsed = phonenumbers.parse(str(value).strip(), None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"{value!r} is not a phone number in international format (+country…).") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"{value!r} is not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    if normalize_e164(value) != value:
        raise ValidationError(f"{value!r} must be written in E.164, e.g. {normalize_e164(value)}.")


class PhoneNumberQuerySet(models.QuerySet):
    def on_account(self):
        return self.filter(status__in=[PhoneNumber.Status.ACTIVE, PhoneNumber.Status.PORTING_OUT])


class PhoneNumber(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PORTING_OUT = "porting_out", "Porting out"
        PORTED_OUT = "ported_out", "Ported out"
        RELEASED = "released", "Released"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="numbers")
    number = models.CharField(max_length=20, validators=[validate_e164], db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    inbound_recording = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    ported_out_at = models.DateTimeField(null=True, blank=True)

    objects = PhoneNumberQuerySet.as_manager()

    class Meta:
        ordering = ["number"]
        constraints = [
            # A number belongs to one account while it is in service; once released it may be assigned again.
            models.UniqueConstraint(
                fields=["number"],
                condition=Q(status__in=["active", "porting_out"]),
                name="number_in_service_once",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def clean(self) -> None:
        if self.number:
            try:
                self.number = normalize_e164(self.number)
            except ValidationError as exc:
                raise ValidationError({"number": exc.messages}) from exc
