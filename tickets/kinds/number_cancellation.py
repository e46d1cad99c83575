"""A number cancellation: one phone number leaves the account (N1)."""

from django import forms

from numbers.models import PhoneNumber

from .. import effects
from ..models import Kind
from ..rules import account as acct
from ..rules import submission as sub
from . import registry
from .formats import national_number
from .forms import RequiredInfoForm
from .serializers import IdField, TicketCreateSerializer
from .spec import KindRules, KindSpec, by_kind, guards


class NumberCancellationForm(RequiredInfoForm):
    number = forms.ModelChoiceField(queryset=None, empty_label=None, label="Number to cancel")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["number"].queryset = self.account.numbers.filter(status=PhoneNumber.Status.ACTIVE)
        self.fields["number"].label_from_instance = lambda number: national_number(number.number)

    def to_request(self):
        request = super().to_request()
        request.numbers = [self.cleaned_data["number"]]
        return request


class NumberCancellationSerializer(TicketCreateSerializer):
    number = IdField(help_text="Id of the phone number to cancel.")

    def kind_fields(self, data):
        return {"numbers": [data["number"]]}


def the_numbers(ticket) -> str:
    """The case's numbers, as their country writes them (a number cancellation's and a port-out's)."""
    return ", ".join(national_number(n.number) for n in ticket.numbers.all())


def has_active_numbers(account) -> bool:
    return account.numbers.filter(status=PhoneNumber.Status.ACTIVE).exists()


def product_link(section: str, number, facts) -> tuple[str, str] | None:
    if section == "numbers" and number.status == PhoneNumber.Status.ACTIVE:
        return "Cancel number", f"?number={number.pk}"
    return None


SPEC = registry.register(
    KindSpec(
        kind=Kind.NUMBER_CANCELLATION,
        rules=KindRules(
            account=(acct.account_active,),
            submit=(sub.required_info_given, sub.one_number),
            guards=guards(),
            complete=effects.release_numbers,
        ),
        serializer=NumberCancellationSerializer,
        desk_fields=("number_list", "billing_note"),
        summary=lambda ticket: "Cancel phone numbers",
        names=the_numbers,
        applies=has_active_numbers,
        route=by_kind(Kind.NUMBER_CANCELLATION),
        purge_blanks=(),
        export_columns=("numbers",),
        form=NumberCancellationForm,
        template="portal/request_number_cancellation.html",
        numbers_doing="cancelled",
        product_link=product_link,
    )
)
