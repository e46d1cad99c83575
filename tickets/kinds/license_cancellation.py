"""A license cancellation: fewer seats of a license line, never below the minimum the policy keeps (L1–L3)."""

from django import forms
from rest_framework import serializers

from .. import effects
from ..models import Kind
from ..rules import account as acct
from ..rules import guards as g
from ..rules import submission as sub
from . import registry
from .forms import RequiredInfoForm
from .serializers import IdField, TicketCreateSerializer
from .spec import KindRules, KindSpec, by_kind, guards


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

    def to_request(self):
        request = super().to_request()
        request.license = self.cleaned_data["license"]
        request.quantity = self.cleaned_data["quantity"]
        return request


class LicenseCancellationSerializer(TicketCreateSerializer):
    license = IdField(help_text="Id of the license line.")
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, help_text="How many licenses to cancel.")

    def kind_fields(self, data):
        return {"license": data["license"], "quantity": data["quantity"]}


def summary(ticket) -> str:
    what = ticket.license.get_product_display() if ticket.license_id and ticket.license else "licenses"
    return f"Cancel {ticket.quantity} × {what}" if ticket.quantity else f"Cancel {what}"


def names(ticket) -> str | None:
    if not ticket.license_id:
        return None
    return f"{ticket.quantity or ''} × {ticket.license.get_product_display()}".strip(" ×")


def product_link(section: str, license_, facts) -> tuple[str, str] | None:
    if section == "licenses" and license_.quantity > license_.minimum:
        return "Cancel licenses", f"?license={license_.pk}"
    return None


SPEC = registry.register(
    KindSpec(
        kind=Kind.LICENSE_CANCELLATION,
        rules=KindRules(
            account=(acct.account_active,),
            submit=(
                sub.required_info_given,
                sub.license_and_quantity,
                sub.one_open_request_per_license,
                sub.license_minimum_kept,
            ),
            guards=guards(complete=[g.license_minimum_still_kept]),
            complete=effects.reduce_license,
        ),
        serializer=LicenseCancellationSerializer,
        desk_fields=("license_text", "quantity", "billing_note"),
        summary=summary,
        names=names,
        applies=lambda account: account.licenses.filter(quantity__gt=0).exists(),
        route=by_kind(Kind.LICENSE_CANCELLATION),
        purge_blanks=(),
        export_columns=("license", "quantity"),
        form=LicenseCancellationForm,
        template="portal/request_license_cancellation.html",
        product_link=product_link,
    )
)
