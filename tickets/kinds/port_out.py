"""A port-out (SPEC §4): numbers move to another carrier. Its numbers are in flight while it is open, the owner
hears of it at once, and its approval sets the day they move (FOC)."""

from django import forms
from rest_framework import serializers

from numbers.models import PhoneNumber

from .. import effects
from ..models import Kind
from ..rules import account as acct
from ..rules import guards as g
from ..rules import submission as sub
from ..rules.verification import port_out_authorized
from . import registry
from .formats import national_number
from .forms import RequiredInfoForm
from .number_cancellation import has_active_numbers, the_numbers
from .serializers import IdField, TicketCreateSerializer
from .spec import KindRules, KindSpec, by_kind, guards


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

    def to_request(self):
        request = super().to_request()
        data = self.cleaned_data
        request.numbers = list(data["numbers"])
        request.gaining_carrier = data["gaining_carrier"]
        request.authorized_name = data["authorized_name"]
        request.pin = data["pin"]
        return request


class PortOutSerializer(TicketCreateSerializer):
    numbers = serializers.ListField(child=IdField(), min_length=1, max_length=1000, help_text="Ids of the numbers.")
    gaining_carrier = serializers.CharField(max_length=120)
    authorized_name = serializers.CharField(max_length=200, help_text="The authorized person's name.")
    pin = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="The account's port-out PIN, where it has one."
    )
    account_number = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="The account number (its public id, AC-…): authorizes the port-out of an account without a PIN.",
    )

    def kind_fields(self, data):
        return {
            "numbers": list(dict.fromkeys(data["numbers"])),
            "gaining_carrier": data["gaining_carrier"],
            "authorized_name": data["authorized_name"],
            "pin": data.get("pin") or None,
            "account_number": data.get("account_number") or None,
        }


def summary(ticket) -> str:
    carrier = f" to {ticket.gaining_carrier}" if ticket.gaining_carrier else ""
    foc = f", FOC {ticket.foc_date:%d %b}" if ticket.foc_date else ""
    return f"Port numbers out{carrier}{foc}"


def names(ticket) -> str:
    numbers = the_numbers(ticket)
    return f"{numbers} to {ticket.gaining_carrier}" if ticket.gaining_carrier else numbers


def product_link(section: str, number, facts) -> tuple[str, str] | None:
    if section == "numbers" and number.status == PhoneNumber.Status.ACTIVE:
        return "Port out", ""
    return None


SPEC = registry.register(
    KindSpec(
        kind=Kind.PORT_OUT,
        rules=KindRules(
            account=(acct.account_active,),
            submit=(
                sub.numbers_to_port,
                sub.carrier_and_authorized_name,
                sub.port_out_lock_off,
                sub.port_out_authorization,
                sub.balance_review,
            ),
            guards=guards(
                verify=[g.system_not_guessed_at, g.port_out_matches_account],
                approve=[g.system_not_guessed_at, g.manager_reviews_balance],
                reject=[g.port_out_rejection_code_allowed],
            ),
            complete=effects.port_out,
            # A port-out whose authorization failed waits for staff even on a self-service route: its failure is
            # already counted in this transaction, which a refused verify would roll back.
            self_service_ready=port_out_authorized,
        ),
        serializer=PortOutSerializer,
        desk_fields=("number_list", "gaining_carrier", "authorized_name", "foc_date", "check_list", "review_text"),
        summary=summary,
        names=names,
        applies=has_active_numbers,
        route=by_kind(Kind.PORT_OUT),
        purge_blanks=("authorized_name", "gaining_carrier"),
        export_columns=("numbers", "gaining_carrier", "authorized_name", "foc_date"),
        form=PortOutForm,
        template="portal/request_port_out.html",
        ports_numbers=True,
        numbers_doing="ported out",
        product_link=product_link,
    )
)
