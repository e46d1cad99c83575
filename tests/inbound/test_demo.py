import io

from django.core.management import call_command

from tickets.inbound.models import InboundMessage


def test_the_demo_fills_the_triage_queue_through_the_pipeline(db):
    call_command("demo", stdout=io.StringIO(), stderr=io.StringIO(), verbosity=0)
    call_command("demo", stdout=io.StringIO(), stderr=io.StringIO(), verbosity=0)  # twice: stored once
    statuses = dict(InboundMessage.objects.values_list("message_id", "status"))
    assert statuses == {
        "<demo-kixie-cancel@kixie.demo>": "triage",
        "<demo-avoxi-number@avoxi.demo>": "triage",
        "<demo-unknown-sender@gmail.example>": "triage",
        "<demo-out-of-office@kixie.demo>": "ignored",
    }
    assert InboundMessage.objects.get(message_id="<demo-kixie-cancel@kixie.demo>").member.email == "owner@kixie.demo"
    assert InboundMessage.objects.get(message_id="<demo-unknown-sender@gmail.example>").member is None
