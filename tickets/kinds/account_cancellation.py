"""An account cancellation (SPEC §4): the whole account closes. Its portal is a flow of pages of its own
(the portal's cancel steps, tickets.portal.views), not one form; completing it cancels the account
(tickets.effects.cancel_account)."""

from rest_framework import serializers

from billing.models import ACKNOWLEDGEMENT_TEXTS

from .. import effects
from ..models import ExitReason, Kind
from ..rules import account as acct
from ..rules import guards as g
from ..rules import submission as sub
from . import registry
from .serializers import TicketCreateSerializer
from .spec import KindRules, KindSpec, by_the_policys_route, guards


class AccountCancellationSerializer(TicketCreateSerializer):
    reason = serializers.ChoiceField(
        choices=ExitReason.choices, required=False, allow_blank=True, default="", help_text="Exit survey (U8)."
    )
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    acknowledgements = serializers.ListField(
        child=serializers.ChoiceField(choices=list(ACKNOWLEDGEMENT_TEXTS)),
        required=False,
        default=list,
        max_length=len(ACKNOWLEDGEMENT_TEXTS) * 2,
        help_text="The policy's acknowledgement keys (see the plans endpoint).",
    )
    confirmation = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        trim_whitespace=False,  # S3: " CONFIRM" is not CONFIRM
        help_text="The typed confirmation word, when the policy's verification asks for one.",
    )
    card_last4 = serializers.RegexField(
        r"^[0-9]{4}$",
        required=False,
        allow_blank=True,
        help_text="The card's last four digits, when the policy's verification asks for them (K7).",
    )

    def kind_fields(self, data):
        return {
            "reason": data["reason"],
            "comment": data["comment"],
            "acknowledgements": data["acknowledgements"],
            "confirmation": data.get("confirmation"),
            "card_last4": data.get("card_last4") or None,
        }


def summary(ticket) -> str:
    return f"Whole account — {ticket.get_reason_display()}" if ticket.reason else "Whole account"


SPEC = registry.register(
    KindSpec(
        kind=Kind.ACCOUNT_CANCELLATION,
        rules=KindRules(
            account=(
                acct.account_active,
                acct.one_open_request_per_account,
                acct.port_outs_complete,
                acct.not_in_last_days_of_term,
            ),
            submit=(
                sub.required_info_given,
                sub.channel_accepted,
                sub.within_intake_hours,
                sub.exit_survey_answered,
                sub.acknowledged,
                sub.confirmation_typed,
                sub.card_digits_match,
            ),
            guards=guards(verify=[g.account_cancellation_verified], complete=[g.port_outs_finished]),
            complete=effects.cancel_account,
            verified_at_submission=sub.verified_by_policy,
        ),
        serializer=AccountCancellationSerializer,
        desk_fields=("reason_text", "comment", "acknowledgement_list", "check_list", "billing_note"),
        summary=summary,
        names=lambda ticket: None,
        applies=lambda account: True,
        route=by_the_policys_route,
        purge_blanks=("comment",),
        export_columns=("exit_reason", "exit_comment", "acknowledgements"),
        flow="portal:cancel",
        closes_account=True,
        writes_once_closed=True,
    )
)
