"""A reactivation (K9, U7): a cancelled account comes back inside the policy's window. Its tickets belong to a
cancelled account, so the window decides, not the account's status; it is asked by members whose access the
cancellation removed, and an open one holds the purge."""

from accounts.models import Account

from .. import effects
from ..models import Kind
from ..rules import account as acct
from ..rules import guards as g
from . import registry
from .forms import RequiredInfoForm
from .serializers import TicketCreateSerializer
from .spec import KindRules, KindSpec, by_kind, guards


class ReactivationForm(RequiredInfoForm):
    pass


class ReactivationSerializer(TicketCreateSerializer):
    pass


def unavailable(account: Account) -> str:
    """Why the account cannot be reactivated now: the rule's own sentence (S11, U7)."""
    return acct.reactivation_closed_sentence(account.plan.policy, account)


SPEC = registry.register(
    KindSpec(
        kind=Kind.REACTIVATION,
        rules=KindRules(
            account=(acct.reactivation_window_open, acct.one_open_request_per_account),
            submit=(),
            # A reactivation's tickets belong to a cancelled account: the window decides, not the account's status.
            guards=guards(complete=[g.reactivation_asked_in_time], account=()),
            complete=effects.reactivate_account,
        ),
        serializer=ReactivationSerializer,
        desk_fields=("comment",),
        summary=lambda ticket: "Restore the cancelled account",
        names=lambda ticket: None,
        applies=lambda account: account.plan.policy.reactivation_open(account),
        route=by_kind(Kind.REACTIVATION),
        purge_blanks=("comment",),
        export_columns=("exit_comment",),
        form=ReactivationForm,
        template="portal/request_reactivation.html",
        unavailable=unavailable,
        writes_once_closed=True,
        asked_by_former_members=True,
        holds_purge=True,
    )
)
