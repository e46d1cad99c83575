"""SPEC §4: account-level rules are checked before anything about the requester, on every interface."""

import pytest

from accounts.exceptions import Refusal
from tests.tickets.conftest import SMRTPHONE_ACKS
from tickets.models import Kind
from tickets.services import Request, submit_ticket

pytestmark = pytest.mark.django_db


def _cancel_and_purge(people, django_capture_on_commit_callbacks):
    """smrtPhone: the cancellation completes at once and the 0-day purge erases the members (S6)."""
    with django_capture_on_commit_callbacks(execute=True):
        submit_ticket(
            account=people.account,
            kind=Kind.ACCOUNT_CANCELLATION,
            requester=people.owner,
            request=Request(
                full_name="Owner",
                contact=people.owner.email,
                reason="unused",
                acknowledgements=SMRTPHONE_ACKS,
                confirmation=people.policy.confirmation_word,
            ),
        )
    people.account.refresh_from_db()
    assert not people.account.memberships.exists()


def test_staff_recording_a_smrtphone_reactivation_hear_reactivation_closed(
    cast, client_for, django_capture_on_commit_callbacks, tasks_in_process
):
    # rule S11: whoever asks, even with a requester the purge has erased
    people = cast("smrtphone")
    owner_id = people.owner.pk
    _cancel_and_purge(people, django_capture_on_commit_callbacks)
    body = {"kind": "reactivation", "account": people.account.pk, "requester": owner_id, "channel": "phone"}
    refused = client_for(people.agent).post("/api/v1/tickets/", body, format="json")
    assert refused.status_code == 400, refused.json()  # a refused submission is a 400 (SPEC §5), with its code
    assert refused.json()["code"] == "reactivation_closed"


def test_the_service_names_the_account_rule_before_the_requester(
    cast, django_capture_on_commit_callbacks, tasks_in_process
):
    # rule S11: the staff member recording it is no member of the account; the account's rule still decides
    people = cast("smrtphone")
    _cancel_and_purge(people, django_capture_on_commit_callbacks)
    with pytest.raises(Refusal) as caught:
        submit_ticket(
            account=people.account,
            kind=Kind.REACTIVATION,
            requester=people.outsider,
            request=Request(),
            channel="phone",
            actor=people.agent,
        )
    assert caught.value.code == "reactivation_closed"
