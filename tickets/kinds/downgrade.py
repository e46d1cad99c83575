"""A plan downgrade (K1, K2): the account moves to a lower plan, or back up to the one a downgrade left."""

from django import forms

from .. import effects
from ..models import Kind
from ..rules import account as acct
from ..rules import submission as sub
from ..rules.objects import lower_plans, plans_back_up, plans_to_move_to
from . import registry
from .formats import money
from .forms import RequiredInfoForm
from .serializers import IdField, TicketCreateSerializer
from .spec import KindRules, KindSpec, by_kind, guards


class DowngradeForm(RequiredInfoForm):
    plan = forms.ModelChoiceField(queryset=None, empty_label=None, label="Plan to move to")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans_to_move_to(self.account)
        self.fields["plan"].label_from_instance = (
            lambda plan: f"{plan.name}: {money(plan.price_per_seat, self.policy.currency)} per seat a month"
        )

    def to_request(self):
        request = super().to_request()
        request.plan = self.cleaned_data["plan"]
        return request


class DowngradeSerializer(TicketCreateSerializer):
    plan = IdField(help_text="Id of a lower plan, or of the plan a downgrade left (where the policy allows).")

    def kind_fields(self, data):
        return {"plan": data["plan"]}


def summary(ticket) -> str:
    return f"Downgrade to {ticket.target_plan}" if ticket.target_plan_id and ticket.target_plan else "Downgrade"


def names(ticket) -> str | None:
    return f"to {ticket.target_plan.name}" if ticket.target_plan_id else None


def link_label(account) -> str:
    """K1, K2: a plan change that can go back up says so."""
    back_up = plans_back_up(account).last()
    if back_up is not None:
        return "Change the plan" if lower_plans(account).exists() else f"Move back up to {back_up.name}"
    return Kind.DOWNGRADE.label


SPEC = registry.register(
    KindSpec(
        kind=Kind.DOWNGRADE,
        rules=KindRules(
            account=(acct.account_active, acct.one_open_request_per_account),
            submit=(sub.plan_offered,),
            guards=guards(),
            complete=effects.downgrade,
        ),
        serializer=DowngradeSerializer,
        desk_fields=("target_plan", "reason_text", "comment", "billing_note"),
        summary=summary,
        names=names,
        applies=lambda account: plans_to_move_to(account).exists(),
        route=by_kind(Kind.DOWNGRADE),
        purge_blanks=("comment",),
        export_columns=("target_plan", "exit_reason", "exit_comment"),
        form=DowngradeForm,
        template="portal/request_downgrade.html",
        link_label=link_label,
    )
)
