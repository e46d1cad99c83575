"""Issue 16's must-show, end to end on the real Dovecot: an emailed Kixie cancellation becomes a ticket through
triage, and the customer's reply to the confirmation email lands on that ticket."""

import datetime as dt

import time_machine
from django.core import mail

from billing.models import Plan
from tests.inbound.conftest import email_bytes
from tickets.inbound.imap import fetch_all
from tickets.inbound.models import InboundMessage

# Monday 23 November 2026, 10:00 Pacific: within Kixie's intake hours (K6).
MONDAY_MORNING = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)


def test_emailed_kixie_cancellation_is_triaged_converted_and_the_reply_threads(
    cast, intake, client, tasks_in_process, django_capture_on_commit_callbacks
):
    # rule K6: Kixie takes cancellations by email
    desk = cast("kixie", plan=Plan.objects.get(policy__preset="kixie", rank=2))
    intake.mailbox(kind="account_cancellation")
    with time_machine.travel(MONDAY_MORNING, tick=True):
        intake.append(
            email_bytes(
                sender=f"{desk.owner.full_name} <{desk.owner.email}>",
                to="cancellations@desk.test",
                subject="Cancel our Kixie account",
                body="Hi, we are moving to another dialer. Please cancel our account.\n",
                message_id="<first-request@customer.test>",
                authenticated=True,
            )
        )
        with django_capture_on_commit_callbacks(execute=True):
            fetch_all()
        message = InboundMessage.objects.get()
        assert message.status == "triage" and message.member == desk.owner

        # The agent sees it in the triage queue with the sender's account, and turns it into a ticket in one step.
        client.force_login(desk.agent)
        page = client.get("/queues/triage/")
        assert "Cancel our Kixie account" in page.text and desk.account.account_id in page.text
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/queues/triage/{message.pk}/convert/",
                {f"m{message.pk}-kind": "account_cancellation", f"m{message.pk}-account": desk.account.pk},
            )
        assert response.status_code == 302, response
        message.refresh_from_db()
        ticket = message.ticket
        assert message.status == "converted"
        assert (ticket.kind, ticket.channel, ticket.requester) == ("account_cancellation", "email", desk.owner)
        assert ticket.created_at == message.received_at
        assert ticket.comments.get().body.startswith("Cancel our Kixie account")

        # The customer answers the confirmation email from their mail client.
        [confirmation] = [m for m in mail.outbox if f"#{ticket.pk}]" in m.subject]
        assert "<first-request@customer.test>" in confirmation.extra_headers["References"]
        intake.append(
            email_bytes(
                sender=desk.owner.email,
                to=confirmation.reply_to[0],
                subject=f"Re: {confirmation.subject}",
                body="The card ends in 4242.\n\n> We received your account cancellation request\n",
                headers={
                    "In-Reply-To": confirmation.extra_headers["Message-ID"],
                    "References": confirmation.extra_headers["References"],
                },
                authenticated=True,
            )
        )
        with django_capture_on_commit_callbacks(execute=True):
            fetch_all()
    reply = ticket.comments.order_by("pk").last()
    assert (reply.body, reply.author, reply.public) == ("The card ends in 4242.", desk.owner, True)
    assert InboundMessage.objects.get(ticket=ticket, status="comment").member == desk.owner


def test_an_email_sent_on_a_saturday_is_taken_and_converted_on_monday(cast, client, tasks_in_process):
    # rule K6: email is taken at any hour; only the live channels are refused outside the intake hours
    from tickets.inbound.services import convert_message, receive
    from tickets.services import Request

    desk = cast("kixie", plan=Plan.objects.get(policy__preset="kixie", rank=2))
    saturday = dt.datetime(2026, 11, 21, 18, 0, tzinfo=dt.UTC)
    with time_machine.travel(saturday, tick=True):
        message = receive(email_bytes(sender=desk.owner.email, date=saturday, authenticated=True), source="file")
    with time_machine.travel(MONDAY_MORNING, tick=True):
        ticket = convert_message(
            message=message, actor=desk.agent, kind="account_cancellation", account=desk.account, request=Request()
        )
    assert (ticket.channel, ticket.created_at) == ("email", saturday)
