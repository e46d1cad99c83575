"""An add-on change (A8, A9, A11): an add-on's tier or package up or down, routed as its cancellation."""

from django import forms
from rest_framework import serializers

from billing.models import AddOn
from config.ids import as_id

from .. import effects
from ..models import Kind
from ..rules import account as acct
from ..rules import submission as sub
from . import registry
from .addon_cancellation import AddOnCancellationForm, addon_name, has_active_addons
from .serializers import IdField, TicketCreateSerializer
from .spec import KindRules, KindSpec, by_addon, guards


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

    def to_request(self):
        request = super().to_request()
        request.tier = self.cleaned_data["tier"]
        return request


class AddOnChangeSerializer(TicketCreateSerializer):
    addon = IdField(help_text="Id of the add-on to change.")
    tier = serializers.CharField(max_length=40, help_text="The tier or package to move to (A8, A9, A11).")

    def kind_fields(self, data):
        return {"addon": data["addon"], "tier": data["tier"]}


def summary(ticket) -> str:
    what = addon_name(ticket) or "an add-on"
    return f"Change {what} to {ticket.tier}" if ticket.tier else f"Change {what}"


def product_link(section: str, addon, facts) -> tuple[str, str] | None:
    if section == "addons" and facts["tiers"]:
        return "Change", f"?addon={addon.pk}"
    return None


SPEC = registry.register(
    KindSpec(
        kind=Kind.ADDON_CHANGE,
        rules=KindRules(
            account=(acct.account_active,),
            submit=(sub.active_addon, sub.new_tier, sub.one_open_request_per_addon),
            guards=guards(),
            complete=effects.change_addon_tier,
        ),
        serializer=AddOnChangeSerializer,
        desk_fields=("addon_text", "tier", "billing_note"),
        summary=summary,
        names=lambda ticket: None,
        applies=has_active_addons,
        route=by_addon(Kind.ADDON_CHANGE),
        purge_blanks=(),
        export_columns=("addon",),
        form=AddOnChangeForm,
        template="portal/request_addon_change.html",
        product_link=product_link,
    )
)
