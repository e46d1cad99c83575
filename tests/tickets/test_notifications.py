"""tickets/notifications.py: an email about a ticket goes to each recipient apart, answerable at a reply address
signed for that ticket and that recipient (issue 24, "Reply addresses per recipient")."""

from django.core import mail

from tickets.inbound import addresses
from tickets.notifications import send_once
from tickets.services import Request, submit_ticket


def test_each_recipient_of_a_ticket_email_gets_a_reply_address_of_their_own(cast):
    desk = cast("avoxi")
    from accounts import services

    number = services.add_number(account=desk.account, number="+12025550101")
    ticket = submit_ticket(
        account=desk.account,
        kind="number_cancellation",
        requester=desk.owner,
        request=Request(numbers=[number], full_name="Owner", contact=desk.owner.email),
    )
    mail.outbox.clear()
    people = [desk.owner, desk.billing_admin]

    send_once(
        key="test:per-recipient",
        template="ticket_submitted",
        recipients=[p.email for p in people] + ["someone@outside.test"],
        context={"ticket": ticket, "event": "submitted", "event_label": "Submitted", "site_url": ""},
        ticket=ticket,
    )

    assert [m.to for m in mail.outbox] == [[p.email] for p in people] + [["someone@outside.test"]]
    for sent, person in zip(mail.outbox, people, strict=False):
        assert sent.reply_to == [addresses.reply_address(ticket.pk, person.pk)]
        assert sent.extra_headers["Message-ID"].startswith(f"<t{ticket.pk}.r{person.pk}.")
        assert addresses.from_address(sent.reply_to[0]).recipient_id == person.pk
    # Nobody of the desk's: their reply goes to the desk's own address, and waits in triage.
    assert mail.outbox[-1].reply_to == [addresses.desk_address()]
    assert len({m.reply_to[0] for m in mail.outbox}) == 3
