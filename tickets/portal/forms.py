"""The portal's forms: they parse what a customer typed into a services.Request; the services decide."""

from django import forms
from django.core.exceptions import ValidationError

from accounts.exceptions import Refusal
from accounts.models import Account, User
from billing.models import REQUIRED_INFO_FIELDS, AddOn, Policy
from config.ids import as_id
from numbers.models import PhoneNumber
from tickets.attachments import ATTACHMENT_TYPES, add_attachment, check_file
from tickets.models import Attachment, ExitReason, Kind
from tickets.portal.selectors import national_number
from tickets.rules.objects import plans_to_move_to
from tickets.services import CANCELLATION_KINDS, COMMENT_MAX, Request
from tickets.templatetags.portal_format import money

# The Refusal.field names of tickets.services → this module's field names.
REFUSAL_FIELDS = {"number": "numbers", "company_or_account_id": "company"}


def add_refusal(form: forms.Form, refusal: Refusal) -> None:
    """Show a service's refusal on the field it names, or above the form."""
    name = REFUSAL_FIELDS.get(refusal.field or "", refusal.field)
    if name == "numbers" and "numbers" not in form.fields and "number" in form.fields:
        name = "number"
    form.add_error(name if name in form.fields else None, refusal.detail)


class RequiredInfoForm(forms.Form):
    """A4: who asks and how to reach them, prefilled from the signed-in user; required where the policy says."""

    full_name = forms.CharField(max_length=200, required=False)
    company = forms.CharField(label="Company name or account ID", max_length=200, required=False)
    contact = forms.CharField(label="Contact information (email or phone)", max_length=200, required=False)

    def __init__(self, *args, account: Account, user: User, kind: str, **kwargs) -> None:
        kwargs.setdefault(
            "initial",
            {"full_name": user.full_name, "company": f"{account.name} ({account.account_id})", "contact": user.email},
        )
        super().__init__(*args, **kwargs)
        self.account = account
        self.user = user
        self.kind = kind
        self.policy: Policy = account.plan.policy
        if kind in CANCELLATION_KINDS:
            attrs = {"full_name": "full_name", "company_or_account_id": "company", "contact": "contact"}
            for key in self.policy.required_info:
                self.fields[attrs[key]].required = True
                self.fields[attrs[key]].label = REQUIRED_INFO_FIELDS[key]

    def to_request(self) -> Request:
        data = self.cleaned_data
        return Request(full_name=data["full_name"], company=data["company"], contact=data["contact"])


class LicenseCancellationForm(RequiredInfoForm):
    license = forms.ModelChoiceField(queryset=None, empty_label=None)
    quantity = forms.IntegerField(min_value=1, help_text="How many licenses to cancel.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["license"].queryset = self.account.licenses.filter(quantity__gt=0)
        self.fields["license"].label_from_instance = self._license_label

    def _license_label(self, license_) -> str:
        minimum = max(license_.minimum, self.policy.license_minimum(license_.product))
        text = f"{license_.get_product_display()}: {license_.quantity} held"
        return text + (f", at least {minimum} must remain" if minimum else "")

    def to_request(self) -> Request:
        request = super().to_request()
        request.license = self.cleaned_data["license"]
        request.quantity = self.cleaned_data["quantity"]
        return request


class NumberCancellationForm(RequiredInfoForm):
    number = forms.ModelChoiceField(queryset=None, empty_label=None, label="Number to cancel")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["number"].queryset = self.account.numbers.filter(status=PhoneNumber.Status.ACTIVE)
        self.fields["number"].label_from_instance = lambda number: national_number(number.number)

    def to_request(self) -> Request:
        request = super().to_request()
        request.numbers = [self.cleaned_data["number"]]
        return request


class AddOnCancellationForm(RequiredInfoForm):
    addon = forms.ModelChoiceField(queryset=None, empty_label=None, label="Add-on to cancel")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["addon"].queryset = self.account.addons.filter(status=AddOn.Status.ACTIVE)

    def to_request(self) -> Request:
        request = super().to_request()
        request.addon = self.cleaned_data["addon"]
        return request


class AddOnChangeForm(AddOnCancellationForm):
    """A8, A9, A11: an add-on's tier or package up or down, to one of the tiers its policy lists."""

    tier = forms.ChoiceField(label="New tier or package", choices=())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["addon"]
        field.label = "Add-on to change"
        changeable = [product for product in AddOn.Product.values if self.policy.tiers_for(product)]
        field.queryset = field.queryset.filter(product__in=changeable)
        chosen = as_id((self.data.get("addon") if self.is_bound else self.initial.get("addon")) or "")
        addons = [addon for addon in field.queryset if chosen is None or addon.pk == chosen] or list(field.queryset)
        # One add-on chosen: its other tiers; none yet: every add-on's, grouped under its name.
        if len(addons) == 1:
            self.fields["tier"].choices = self._tiers(addons[0])
        else:
            self.fields["tier"].choices = [(str(addon), self._tiers(addon)) for addon in addons]

    def _tiers(self, addon: AddOn) -> list[tuple[str, str]]:
        return [(tier, tier) for tier in self.policy.tiers_for(addon.product) if tier != addon.tier]

    def to_request(self) -> Request:
        request = super().to_request()
        request.tier = self.cleaned_data["tier"]
        return request


class PortOutForm(RequiredInfoForm):
    numbers = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label="Numbers to port out"
    )
    gaining_carrier = forms.CharField(max_length=120, help_text="The carrier the numbers move to.")
    authorized_name = forms.CharField(
        max_length=200, help_text="The person authorized on this account, as the gaining carrier has it."
    )
    pin = forms.CharField(
        label="Port-out PIN or account number",
        max_length=64,
        widget=forms.PasswordInput(render_value=True),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["numbers"].queryset = self.account.numbers.filter(status=PhoneNumber.Status.ACTIVE)
        self.fields["numbers"].label_from_instance = lambda number: national_number(number.number)
        if self.account.port_out_pin:
            self.fields["pin"].label = "Port-out PIN"
        else:  # SPEC §4: an account without a PIN is authorized by its account number
            self.fields["pin"].label = "Account number"
            self.fields["pin"].help_text = "This account has no port-out PIN: give its account number (AC-…)."

    def to_request(self) -> Request:
        request = super().to_request()
        data = self.cleaned_data
        request.numbers = list(data["numbers"])
        request.gaining_carrier = data["gaining_carrier"]
        request.authorized_name = data["authorized_name"]
        request.pin = data["pin"]
        return request


class DowngradeForm(RequiredInfoForm):
    plan = forms.ModelChoiceField(queryset=None, empty_label=None, label="Plan to move to")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans_to_move_to(self.account)
        self.fields["plan"].label_from_instance = (
            lambda plan: f"{plan.name}: {money(plan.price_per_seat, self.policy.currency)} per seat a month"
        )

    def to_request(self) -> Request:
        request = super().to_request()
        request.plan = self.cleaned_data["plan"]
        return request


class ReactivationForm(RequiredInfoForm):
    pass


KIND_FORMS: dict[str, type[RequiredInfoForm]] = {
    Kind.LICENSE_CANCELLATION: LicenseCancellationForm,
    Kind.NUMBER_CANCELLATION: NumberCancellationForm,
    Kind.ADDON_CANCELLATION: AddOnCancellationForm,
    Kind.ADDON_CHANGE: AddOnChangeForm,
    Kind.PORT_OUT: PortOutForm,
    Kind.DOWNGRADE: DowngradeForm,
    Kind.REACTIVATION: ReactivationForm,
}


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


def clean_attachment(upload):
    """A form's check of an uploaded file (tickets.attachments.check_file), its refusal as the field's error."""
    try:
        return check_file(upload)
    except Refusal as refusal:
        raise ValidationError(refusal.detail) from refusal


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
