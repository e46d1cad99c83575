"""Each transition allowed and refused for every member of the cast; replays, concurrency, the log, emails."""

import threading

import pytest
from django.core import mail
from django.db import connection

from accounts import services as provisioning
from accounts.exceptions import Refusal
from tickets.models import Kind, State, TransitionLog
from tickets.services import available_transitions, transition_ticket

pytestmark = pytest.mark.django_db

CAST = ["owner", "super_admin", "billing_admin", "member", "outsider", "agent", "manager"]


@pytest.fixture
def desk(cast):
    return cast("avoxi")


@pytest.fixture
def case(desk, submit):
    line = provisioning.add_number(account=desk.account, number="+12025550143")
    return submit(
        desk,
        Kind.NUMBER_CANCELLATION,
        requester=desk.billing_admin,
        numbers=[line],
        full_name="Bea Billing",
        company="Acme",
        contact="bea@acme.test",
    )


def advance(ticket, desk, *names):
    for name in names:
        ticket = transition_ticket(ticket=ticket, name=name, actor=desk.manager)
    return ticket


# Who may run each transition from the state it starts in (SPEC §4): withdraw is the requester's (the
# billing admin here) or the owner's; staff transitions need the group's permission, approve the manager's.
ALLOWED = {
    "verify": {"agent", "manager"},
    "approve": {"manager"},
    "complete": {"agent", "manager"},
    "reject": {"agent", "manager"},
    "withdraw": {"owner", "billing_admin"},
}
BEFORE = {"verify": [], "approve": ["verify"], "complete": ["verify", "approve"], "reject": [], "withdraw": []}


@pytest.mark.parametrize("name", list(ALLOWED))
@pytest.mark.parametrize("who", CAST)
def test_transition_allowed_only_for_its_roles(desk, case, name, who):
    ticket = advance(case, desk, *BEFORE[name])
    actor = getattr(desk, who)
    evidence = {"reason": "Customer asked us to stop."} if name == "reject" else {}
    assert (name in available_transitions(ticket, actor)) == (who in ALLOWED[name])
    if who in ALLOWED[name]:
        done = transition_ticket(ticket=ticket, name=name, actor=actor, **evidence)
        assert (
            done.state
            == {
                "verify": "verified",
                "approve": "approved",
                "complete": "completed",
                "reject": "rejected",
                "withdraw": "withdrawn",
            }[name]
        )
        assert done.log.last().actor == actor
    else:
        with pytest.raises(Refusal) as refused:
            transition_ticket(ticket=ticket, name=name, actor=actor, **evidence)
        assert refused.value.code == "role_not_allowed" and refused.value.http_status == 403
        assert TransitionLog.objects.filter(ticket=ticket, transition=name).count() == 0


def test_state_field_is_protected(case):
    with pytest.raises(AttributeError):
        case.state = State.COMPLETED


def test_wrong_state_is_a_conflict(desk, case):
    with pytest.raises(Refusal) as refused:
        transition_ticket(ticket=case, name="complete", actor=desk.agent)
    assert refused.value.code == "invalid_state" and refused.value.http_status == 409


def test_withdraw_only_before_approval(desk, case):
    approved = advance(case, desk, "verify", "approve")
    with pytest.raises(Refusal) as refused:
        transition_ticket(ticket=approved, name="withdraw", actor=desk.owner)
    assert refused.value.code == "invalid_state"


def test_reject_needs_a_reason(desk, case):
    with pytest.raises(Refusal) as refused:
        transition_ticket(ticket=case, name="reject", actor=desk.agent, reason="   ")
    assert refused.value.code == "reason_required"
    assert transition_ticket(ticket=case, name="reject", actor=desk.agent, reason="Duplicate").rejection_reason


def test_job_replay_is_a_no_op_but_a_person_repeating_is_refused(desk, case):
    verified = advance(case, desk, "verify")
    again = transition_ticket(ticket=verified, name="verify", actor=None, replay_ok=True)
    assert again.state == State.VERIFIED
    assert verified.log.filter(transition="verify").count() == 1
    with pytest.raises(Refusal) as refused:
        transition_ticket(ticket=verified, name="verify", actor=desk.agent)
    assert refused.value.code == "invalid_state"


def test_every_change_leaves_a_log_row(desk, case):
    done = advance(case, desk, "verify", "approve", "complete")
    rows = list(done.log.values_list("transition", "source", "target", "actor_label", "channel"))
    assert rows == [
        ("submit", "", "submitted", desk.billing_admin.email, "web"),
        ("verify", "submitted", "verified", desk.manager.email, "admin"),
        ("approve", "verified", "approved", desk.manager.email, "admin"),
        ("complete", "approved", "completed", desk.manager.email, "admin"),
    ]


def test_refused_transition_leaves_no_partial_effect(desk, submit):
    license_ = provisioning.add_license(account=desk.account, product="contact_center", quantity=5)
    ticket = submit(
        desk,
        Kind.LICENSE_CANCELLATION,
        requester=desk.super_admin,
        license=license_,
        quantity=2,
        full_name="Sam",
        company="Acme",
        contact="sam@acme.test",
    )
    ticket = advance(ticket, desk, "verify", "approve")
    license_.quantity = 4  # someone else reduced it meanwhile: 4 - 2 would leave 2 < 3
    license_.save()
    with pytest.raises(Refusal) as refused:
        transition_ticket(ticket=ticket, name="complete", actor=desk.agent)
    assert refused.value.code == "license_minimum"
    ticket.refresh_from_db()
    license_.refresh_from_db()
    assert ticket.state == State.APPROVED and license_.quantity == 4
    assert not ticket.log.filter(transition="complete").exists()


def test_emails_on_submission_and_every_change(desk, submit, django_capture_on_commit_callbacks):
    line = provisioning.add_number(account=desk.account, number="+12025550150")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = submit(
            desk,
            Kind.NUMBER_CANCELLATION,
            requester=desk.billing_admin,
            numbers=[line],
            full_name="Bea",
            company="Acme",
            contact="bea@acme.test",
        )
    with django_capture_on_commit_callbacks(execute=True):
        ticket = transition_ticket(ticket=ticket, name="verify", actor=desk.agent)
    with django_capture_on_commit_callbacks(execute=True):
        transition_ticket(ticket=ticket, name="reject", actor=desk.agent, reason="Number is in a contract")
    # One copy per recipient, each with its own reply address (issue 24: reply addresses per recipient).
    sent = [(m.subject, m.to) for m in mail.outbox]
    assert sent == [
        (subject, [address])
        for subject in [
            f"[Exitdesk #{ticket.pk}] We received your number cancellation request",
            f"[Exitdesk #{ticket.pk}] Your number cancellation request is verified",
            f"[Exitdesk #{ticket.pk}] Your number cancellation request is rejected",
        ]
        for address in [desk.billing_admin.email, "bea@acme.test"]
    ]
    assert "Reason: Number is in a contract" in mail.outbox[-1].body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_approvals_one_wins(cast, submit):
    desk = cast("avoxi")
    line = provisioning.add_number(account=desk.account, number="+12025550160")
    ticket = submit(
        desk,
        Kind.NUMBER_CANCELLATION,
        requester=desk.owner,
        numbers=[line],
        full_name="O",
        company="Acme",
        contact="o@acme.test",
    )
    transition_ticket(ticket=ticket, name="verify", actor=desk.agent)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def approve() -> None:
        barrier.wait()
        try:
            transition_ticket(ticket=ticket.pk, name="approve", actor=desk.manager)
            outcomes.append("ok")
        except Refusal as refusal:
            outcomes.append(refusal.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 1
    assert set(outcomes) == {"ok", "invalid_state"}
    assert TransitionLog.objects.filter(ticket_id=ticket.pk, transition="approve").count() == 1


def test_customer_comment_restarts_a_paused_sla_clock(desk, case):
    from tickets import sla
    from tickets.services import add_comment

    assert sla.pause_clock(case)
    add_comment(ticket=case, author=desk.agent, body="Which number do you mean?")
    case.refresh_from_db()
    assert case.waiting_on_customer_since is not None  # staff talking does not restart it
    add_comment(ticket=case, author=desk.billing_admin, body="The second one.")
    case.refresh_from_db()
    assert case.waiting_on_customer_since is None and case.sla_clock_started_at is not None


def test_customer_cannot_probe_the_card_through_verify(cast, submit, in_business_hours):
    # rule K7: only staff verify; a customer's guesses are refused before any check runs or counts
    from billing.models import Plan
    from tickets.models import VerificationAttempt

    desk = cast("kixie", plan=Plan.objects.get(policy__preset="kixie", rank=2))
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    ticket = submit(desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent)
    for guess in ("1111", "4242"):
        with pytest.raises(Refusal) as refused:
            transition_ticket(ticket=ticket, name="verify", actor=desk.owner, card_last4=guess)
        assert refused.value.code == "role_not_allowed"
    assert not VerificationAttempt.objects.filter(account=desk.account).exists()
