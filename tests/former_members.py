"""Former members (SPEC §4, "Account lifecycle"): an account of the fixed cast cancelled through the services, as
each preset's customers cancel it, so its people become former members."""

import datetime as dt
import re

import time_machine

from accounts import services as provisioning
from accounts.models import Account
from tickets.models import Channel, Kind, State
from tickets.services import Request, submit_ticket, transition_ticket

# Monday 23 November 2026, 10:00 Pacific: inside every preset's intake hours (K6).
BUSINESS_HOURS = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)


def cancel(desk) -> Account:
    """Cancel the cast's account the way its preset takes it (the policy's survey, acknowledgements, confirmation
    word and card; by phone in the intake hours, K6), then staff take it on to completed where it waits for them."""
    policy = desk.policy
    provisioning.set_card(account=desk.account, brand="Visa", last4="4242")
    steps = {State.SUBMITTED: ("verify", desk.agent), State.VERIFIED: ("approve", desk.manager)}
    with time_machine.travel(BUSINESS_HOURS, tick=True):
        ticket = submit_ticket(
            account=desk.account,
            kind=Kind.ACCOUNT_CANCELLATION,
            requester=desk.owner,
            request=Request(
                full_name=desk.owner.full_name,
                contact=desk.owner.email,
                reason="unused",
                acknowledgements=list(policy.acknowledgements),
                confirmation=policy.confirmation_word or None,
                card_last4="4242",
            ),
            channel=policy.intake_channels[0] if Channel.WEB not in policy.intake_channels else Channel.WEB,
            actor=desk.agent if Channel.WEB not in policy.intake_channels else None,
        )
        ticket.refresh_from_db()
        while ticket.state in steps:
            name, actor = steps[ticket.state]
            ticket = transition_ticket(ticket=ticket, name=name, actor=actor)
        if ticket.state == State.APPROVED:
            ticket = transition_ticket(ticket=ticket, name="complete", actor=desk.agent)
    assert ticket.state == State.COMPLETED
    return Account.objects.get(pk=desk.account.pk)


def text(response) -> str:
    """A page's words, tags and runs of spaces removed."""
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").replace("&amp;", "&")
