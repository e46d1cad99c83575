"""The portal's forms: they parse what a customer typed into a services.Request; the services decide."""

from django import forms

from accounts.exceptions import Refusal
from accounts.models import User
from billing.models import Policy
from tickets.attachments import ATTACHMENT_TYPES, add_attachment, clean_attachment
from tickets.kinds import registry
from tickets.kinds.forms import RequiredInfoForm
from tickets.models import Attachment, ExitReason
from tickets.services import COMMENT_MAX, Request

# The Refusal.field names of tickets.services → this module's field names.
REFUSAL_FIELDS = {"number": "numbers", "company_or_account_id": "company"}


def add_refusal(form: forms.Form, refusal: Refusal) -> None:
    """Show a service's refusal on the field it names, or above the form."""
    name = REFUSAL_FIELDS.get(refusal.field or "", refusal.field)
    if name == "numbers" and "numbers" not in form.fields and "number" in form.fields:
        name = "number"
    form.add_error(name if name in form.fields else None, refusal.detail)


# Each kind's portal form, by kind: a view of the registry (tickets/kinds/<kind>.py; an account cancellation has
# its own flow of pages instead, below).
KIND_FORMS = registry.View(lambda spec: spec.form)


# -- the account-cancellation flow -----------------------------------------------------------------------------


class ExitSurveyForm(forms.Form):
    """U8, S2: Stripe's eight reasons and a comment."""

    reason = forms.ChoiceField(
        label="Why are you cancelling?", choices=ExitReason.choices, widget=forms.RadioSelect, required=False
    )
    comment = forms.CharField(
        label="Anything else you want to tell us?", widget=forms.Textarea, required=False, max_length=COMMENT_MAX
    )

    def __init__(self, *args, policy: Policy, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = policy.exit_survey_required
        if policy.exit_survey_required:
            self.fields["reason"].error_messages["required"] = "Tell us why you are cancelling: choose a reason."


class AcknowledgementForm(forms.Form):
    """S5 and its kin: one box per statement the policy requires, every one of them ticked."""

    def __init__(self, *args, policy: Policy, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for key in policy.acknowledgements:
            self.fields[key] = forms.BooleanField(
                label=policy.acknowledgement_text(key),
                required=True,
                error_messages={"required": "Please tick this box to acknowledge it."},
            )

    def acknowledged(self) -> list[str]:
        return [key for key, value in self.cleaned_data.items() if value]


class CancellationVerificationForm(RequiredInfoForm):
    """The policy's verification (S3 typed word, K7 card last four) or, with none, an explicit confirmation (U4)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        method = self.policy.verification_method
        if method == Policy.Verification.TYPED_CONFIRMATION:
            word = self.policy.confirmation_word
            # strip=False: S3 refuses " CONFIRM" as much as "confirm"; the service compares exactly.
            self.fields["confirmation"] = forms.CharField(
                label=f"Type {word} to confirm",
                strip=False,
                max_length=40,
                widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}),
                error_messages={"required": f"Type {word} exactly to confirm."},
            )
        elif method == Policy.Verification.CARD_LAST4:
            self.fields["card_last4"] = forms.CharField(
                label="Last four digits of the card on file",
                min_length=4,
                max_length=4,
                widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
                error_messages={"required": "Enter the last four digits of the card on file."},
            )
        else:
            self.fields["confirm"] = forms.BooleanField(
                label="Yes, cancel this account.",
                error_messages={"required": "Tick the box to confirm the cancellation."},
            )

    def to_request(self) -> Request:
        request = super().to_request()
        request.confirmation = self.cleaned_data.get("confirmation")
        request.card_last4 = self.cleaned_data.get("card_last4")
        return request


# -- the ticket page -----------------------------------------------------------------------------------------


class CommentForm(forms.Form):
    body = forms.CharField(label="Add a comment", widget=forms.Textarea(attrs={"rows": 4}), max_length=COMMENT_MAX)


class AttachmentForm(forms.Form):
    file = forms.FileField(
        label="Attach a file",
        help_text="PDF, PNG, JPEG, text or CSV, up to 5 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(ATTACHMENT_TYPES)}),
    )

    def clean_file(self):
        return clean_attachment(self.cleaned_data["file"])

    def save(self, *, ticket, user: User) -> Attachment:
        """Attach the file through tickets.attachments.add_attachment (a Refusal for the case's or person's limits)."""
        return add_attachment(ticket=ticket, upload=self.cleaned_data["file"], uploaded_by=user)


class PortOutLockForm(forms.Form):
    """SPEC §4: the owner re-enters their password to switch the port-out lock on or off (none is asked to switch
    it on while the account's verification is locked: tickets.services.set_port_out_lock)."""

    def __init__(self, *args, password_asked: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not password_asked:
            del self.fields["password"]

    password = forms.CharField(
        label="Your password", strip=False, max_length=4096, widget=forms.PasswordInput(attrs={"autocomplete": "off"})
    )
    locked = forms.TypedChoiceField(
        choices=[("on", "Switch on"), ("off", "Switch off")],
        coerce=lambda value: value == "on",
        widget=forms.HiddenInput,
    )
