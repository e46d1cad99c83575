"""An add-on cancellation (A6–A11): one active add-on ends; its route is the add-on's own (`addon_routes`)."""

from django import forms

from billing.models import AddOn, Route

from .. import effects
from ..models import Kind
from ..rules import account as acct
from ..rules import submission as sub
from . import registry
from .formats import national_number
from .forms import RequiredInfoForm
from .serializers import IdField, TicketCreateSerializer
from .spec import KindRules, KindSpec, by_addon, guards


class AddOnCancellationForm(RequiredInfoForm):
    addon = forms.ModelChoiceField(queryset=None, empty_label=None, label="Add-on to cancel")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["addon"].queryset = self.account.addons.filter(status=AddOn.Status.ACTIVE)

    def to_request(self):
        request = super().to_request()
        request.addon = self.cleaned_data["addon"]
        return request


class AddOnCancellationSerializer(TicketCreateSerializer):
    addon = IdField(help_text="Id of the add-on to cancel.")

    def kind_fields(self, data):
        return {"addon": data["addon"]}


def addon_name(ticket) -> str | None:
    """The add-on's name (not str(): that reads the add-on's number), None where the case names none."""
    addon = ticket.addon if ticket.addon_id else None
    return (addon.name or addon.get_product_display()) if addon else None


def summary(ticket) -> str:
    name = addon_name(ticket)
    return f"Cancel {name}" if name else "Cancel an add-on"


def names(ticket) -> str | None:
    if not ticket.addon_id:
        return None
    addon = ticket.addon
    label = addon.name or addon.get_product_display()
    return f"{label} ({national_number(addon.number.number)})" if addon.number_id else label


def has_active_addons(account) -> bool:
    return account.addons.filter(status=AddOn.Status.ACTIVE).exists()


def product_link(section: str, addon, facts) -> tuple[str, str] | None:
    if section != "addons":
        return None
    return ("Cancel" if facts["route"] == Route.SELF_SERVICE else "Request cancellation"), f"?addon={addon.pk}"


SPEC = registry.register(
    KindSpec(
        kind=Kind.ADDON_CANCELLATION,
        rules=KindRules(
            account=(acct.account_active,),
            submit=(sub.required_info_given, sub.active_addon, sub.one_open_request_per_addon),
            guards=guards(),
            complete=effects.end_addon,
        ),
        serializer=AddOnCancellationSerializer,
        desk_fields=("addon_text", "billing_note"),
        summary=summary,
        names=names,
        applies=has_active_addons,
        route=by_addon(Kind.ADDON_CANCELLATION),
        purge_blanks=(),
        export_columns=("addon",),
        form=AddOnCancellationForm,
        template="portal/request_addon_cancellation.html",
        product_link=product_link,
    )
)
