"""Events out (SPEC §6a, issue 26): every state change of the catalogue writes its outbox event in its own transaction,
numbered per account in order, with a body that names things by public ids and carries nothing secret or personal.

One walk per event family, each asserting the bodies a webhook receiver would see (OutboxEvent.body()). The main ones
run on PostgreSQL too (DATABASE_URL=postgres://…).
"""

import datetime as dt
import json

import jsonschema
import pytest
import time_machine
from drf_spectacular.generators import SchemaGenerator

from accounts import lifecycle
from accounts import services as provisioning
from accounts.exceptions import Refusal
from accounts.models import Account, OutboxEvent, Tombstone
from accounts.outbox import EventType, record
from billing.models import AddOn, Plan
from tickets import purge
from tickets.api.events import component_name
from tickets.models import Kind, LogChannel, State
from tickets.services import add_comment, transition_ticket

from .conftest import KUSTOMER_ACKS

pytestmark = pytest.mark.django_db

# Monday 23 November 2026, 10:00 Pacific: inside every preset's intake hours (Kixie takes cancellations by phone then,
# K6). The clock stands still, so the bodies' times are exact.
MONDAY = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)
AT = "2026-11-23T18:00:00Z"

# What the customer and the desk write that no event may carry: the port-out PIN, the card's last four, the names,
# the contact, a staff note on a transition, a private comment, the exit comment, the gaining carrier.
PORT_OUT_PIN = "864209"
CARD = "7319"
PERSONAL = {
    "full_name": "Olive Oyl-Example",
    "company": "Acme Widgets Ltd",
    "contact": "olive@acme.test",
}
STAFF_NOTE = "Staff note: spoke to Olive at home"
PRIVATE_COMMENT = "Private: customer sounded upset"
SECRETS = [PORT_OUT_PIN, CARD, STAFF_NOTE, PRIVATE_COMMENT, "Telnyx", *PERSONAL.values()]
# Keys that would carry a check result, a PIN, a card, a note, a comment or a person.
FORBIDDEN_KEYS = {"pin", "checks", "card", "last4", "card_last4", "note", "comment", "body", "email", "requester"}
FORBIDDEN_KEYS |= {"assignee", "actor", "name_of_person", "full_name", "contact", "authorized_name", "gaining_carrier"}

# The ticket's public fields, as every ticket event carries them (tickets.access.event_ticket_fields decides).
TICKET_KEYS = {
    "id",
    "kind",
    "state",
    "channel",
    "route",
    "priority",
    "created_at",
    "closed_at",
    "license",
    "quantity",
    "numbers",
    "addon",
    "tier",
    "plan",
    "foc_date",
    "reason",
    "acknowledgements",
    "needs_manager_review",
    "rejection_code",
}
STEPS = ["ticket.submitted", "ticket.verified", "ticket.approved", "ticket.completed"]


@pytest.fixture
def monday():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture(scope="module")
def documented():
    """The OpenAPI schema's event components, as JSON Schema (3.0's `nullable` spelt as a null type), closed: a body
    holds exactly the properties its component documents."""
    components = SchemaGenerator().get_schema(request=None, public=True)["components"]
    return {"components": _json_schema(components)}


def _json_schema(node):
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    elif node.get("type") == "object" and "properties" in node:
        node["additionalProperties"] = False
    return node


def assert_documented(events, documented) -> None:
    """Each body is what the schema's component of its type says, no more and no less (SPEC §6a)."""
    for event in events:
        component = {"$ref": f"#/components/schemas/{component_name(EventType(event['type']))}", **documented}
        jsonschema.validate(event, component)


def bodies(account) -> list[dict]:
    """What receivers see of the account's events, in their order."""
    return [event.body() for event in OutboxEvent.objects.filter(account=account).order_by("sequence")]


def of_ticket(events, ticket) -> list[dict]:
    return [e for e in events if e["type"].startswith("ticket.") and e["data"]["ticket"]["id"] == ticket.pk]


def words_in(value, keys: bool = False) -> list[str]:
    """Every string value of a body (or every key, with `keys`), however deep."""
    if isinstance(value, dict):
        return [w for key, item in value.items() for w in ([key] if keys else []) + words_in(item, keys)]
    if isinstance(value, list):
        return [w for item in value for w in words_in(item, keys)]
    return [value] if isinstance(value, str) and not keys else []


def assert_nothing_secret(events, *more: str) -> None:
    assert not FORBIDDEN_KEYS & {key for e in events for key in words_in(e["data"], keys=True)}
    words = [w for e in events for w in words_in(e["data"])]
    assert [secret for secret in [*SECRETS, *more] if any(secret in w for w in words)] == []


def to_completed(ticket, desk, note: str = ""):
    """Staff take the ticket on from wherever its policy left it, to completed."""
    steps = {State.SUBMITTED: ("verify", desk.agent), State.VERIFIED: ("approve", desk.manager)}
    steps[State.APPROVED] = ("complete", desk.agent)
    ticket.refresh_from_db()
    while ticket.state in steps:
        name, actor = steps[ticket.state]
        ticket = transition_ticket(ticket=ticket, name=name, actor=actor, note=note)
    assert ticket.state == State.COMPLETED
    return ticket


def kixie_desk(cast):
    desk = cast("kixie", plan=Plan.objects.get(policy__preset="kixie", rank=2))
    provisioning.set_card(account=desk.account, brand="Visa", last4=CARD)
    account = desk.account
    account.set_port_out_pin(PORT_OUT_PIN)
    account.save(update_fields=["port_out_pin"])
    return desk


def ask(desk, submit, kind, **fields):
    requester = desk.billing_admin if desk.policy.allows_role(kind, "billing_admin") else desk.owner
    # A port-out's authorized name is the requester's (it must match the account's people).
    return submit(desk, kind, requester=requester, authorized_name=requester.full_name, **PERSONAL, **fields)


def test_every_kind_walked_to_completion_tells_each_step_and_its_effects_in_order(cast, submit, monday, documented):
    # SPEC §6a; rules K8, K9 (the cancellation releases the numbers, the reactivation brings the add-ons back)
    desk = kixie_desk(cast)
    account = desk.account
    lines = [provisioning.add_number(account=account, number=f"+1202555017{i}") for i in range(3)]
    seats = provisioning.add_license(account=account, product="agent_seat", quantity=5)
    insights = provisioning.add_addon(account=account, product=AddOn.Product.CALL_INSIGHTS)
    provisioning.add_addon(account=account, product=AddOn.Product.OUTBOUND_RECORDING)
    lower = Plan.objects.get(policy__preset="kixie", rank=1)
    asked = {
        Kind.LICENSE_CANCELLATION: {"license": seats, "quantity": 2},
        Kind.NUMBER_CANCELLATION: {"numbers": [lines[0]]},
        Kind.ADDON_CANCELLATION: {"addon": insights},
        Kind.PORT_OUT: {"numbers": [lines[1]], "gaining_carrier": "Telnyx", "pin": PORT_OUT_PIN},
        Kind.DOWNGRADE: {"plan": lower},
    }
    walked = {}
    for kind, fields in asked.items():  # one at a time: each is asked and completed before the next
        ticket = ask(desk, submit, kind, **fields)
        add_comment(ticket=ticket, author=desk.agent, body=PRIVATE_COMMENT, public=False)
        walked[kind] = to_completed(ticket, desk, note=STAFF_NOTE)
    monday.shift(dt.timedelta(hours=1))  # later than the add-on cancelled on its own, which stays cancelled (K9)
    cancellation = submit(
        desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent, card_last4=CARD, comment=STAFF_NOTE
    )
    walked[Kind.ACCOUNT_CANCELLATION] = to_completed(cancellation, desk)
    back = submit(desk, Kind.REACTIVATION, channel="email", actor=desk.agent)
    walked[Kind.REACTIVATION] = to_completed(back, desk)

    events = bodies(account)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert {e["account"] for e in events} == {account.account_id}
    assert len({e["id"] for e in events}) == len(events) and all(e["id"].startswith("msg_") for e in events)
    # Each ticket: its four steps, then what its completion changed, before the next ticket's first event.
    effects = {
        Kind.LICENSE_CANCELLATION: ["license.changed", "subscription.changed"],
        Kind.NUMBER_CANCELLATION: ["number.released"],
        Kind.ADDON_CANCELLATION: ["addon.cancelled"],
        Kind.PORT_OUT: ["number.ported_out"],
        Kind.DOWNGRADE: ["subscription.changed"],
        Kind.ACCOUNT_CANCELLATION: ["account.cancelled", "number.released", "subscription.changed", "addon.cancelled"],
        Kind.REACTIVATION: ["account.reactivated", "subscription.changed", "addon.changed"],
    }
    assert [e["type"] for e in events] == [t for kind in walked for t in STEPS + effects[kind]]
    # Kixie's policy lists no add-on tiers: the add-on change is walked on AVOXI's account (the next test).
    assert set(walked) == set(Kind.values) - {Kind.ADDON_CHANGE}

    for kind, ticket in walked.items():
        steps = of_ticket(events, ticket)
        assert [(s["data"]["ticket"]["state"], s["data"]["transition"]["name"]) for s in steps] == [
            ("submitted", "submit"),
            ("verified", "verify"),
            ("approved", "approve"),
            ("completed", "complete"),
        ]
        for step in steps:
            assert set(step["data"]["ticket"]) == TICKET_KEYS
            assert step["data"]["ticket"]["kind"] == kind
            assert step["created_at"] == step["data"]["transition"]["at"]
            assert step["data"]["transition"]["by"] in {"customer", "staff", "system"}
    port_out = of_ticket(events, walked[Kind.PORT_OUT])
    assert port_out[0]["data"]["ticket"]["numbers"] == ["+12025550171"]
    assert port_out[0]["data"]["transition"] == {
        "name": "submit",
        "source": None,
        "target": "submitted",
        "at": AT,
        "by": "customer",
        "channel": "web",
    }
    assert port_out[2]["data"]["ticket"]["foc_date"] == "2026-11-24"  # the next business day
    # Kixie verifies a phone cancellation by the card at submission: the system verified it (K7).
    cancelled = of_ticket(events, walked[Kind.ACCOUNT_CANCELLATION])
    assert [s["data"]["transition"]["by"] for s in cancelled] == ["staff", "system", "staff", "staff"]
    assert_nothing_secret(events, desk.owner.full_name, desk.billing_admin.full_name, desk.owner.email)
    assert_documented(events, documented)


def test_the_completions_name_numbers_plans_licenses_and_add_ons_by_their_public_ids(cast, submit, monday, documented):
    # SPEC §6a; rules K5 (the seats off the bill), K2 (the plan at once), A7, A8 (add-on tiers)
    desk = cast("avoxi")
    account = desk.account
    line = provisioning.add_number(account=account, number="+12025550180")
    jetpack = provisioning.add_addon(account=account, product="jetpack", tier="Jetpack Standard")
    recording = provisioning.add_addon(account=account, product=AddOn.Product.INBOUND_RECORDING, number=line)
    change = ask(desk, submit, Kind.ADDON_CHANGE, addon=jetpack, tier="Jetpack Plus")
    to_completed(change, desk)
    release = ask(desk, submit, Kind.NUMBER_CANCELLATION, numbers=[line])
    to_completed(release, desk)

    events = bodies(account)
    assert [e["type"] for e in of_ticket(events, change)] == STEPS
    assert {e["data"]["ticket"]["tier"] for e in of_ticket(events, change)} == {"Jetpack Plus"}
    assert_nothing_secret(events, desk.owner.full_name, desk.billing_admin.full_name)
    assert_documented(events, documented)
    effects = [e for e in events if not e["type"].startswith("ticket.")]
    assert [e["type"] for e in effects] == ["addon.changed", "number.released", "addon.cancelled"]
    tier, released, ended = (e["data"] for e in effects)
    assert tier == {
        "addon": {
            "id": jetpack.pk,
            "product": "jetpack",
            "tier": "Jetpack Plus",
            "status": "active",
            "number": None,
            "cancelled_at": None,
        },
        "previous_tier": "Jetpack Standard",
        "ticket": change.pk,
    }
    assert released == {
        "number": {
            "id": line.pk,
            "number": "+12025550180",
            "status": "released",
            "released_at": AT,
            "ported_out_at": None,
        },
        "ticket": release.pk,
    }
    # A7: the number's inbound recording leaves with it.
    assert ended["addon"]["id"] == recording.pk and ended["addon"]["number"] == "+12025550180"
    assert (ended["addon"]["status"], ended["addon"]["cancelled_at"]) == ("cancelled", AT)


def test_a_license_cancellation_tells_the_license_and_the_seats_billed(cast, submit, monday):
    # SPEC §6a; rule K5: the seats a seat-license cancellation takes off are off the next bill
    desk = kixie_desk(cast)
    seats = provisioning.add_license(account=desk.account, product="agent_seat", quantity=5)
    desk.account.subscription.seats = 5
    desk.account.subscription.save(update_fields=["seats"])
    ticket = to_completed(ask(desk, submit, Kind.LICENSE_CANCELLATION, license=seats, quantity=2), desk)
    license_changed, subscription_changed = (e["data"] for e in bodies(desk.account)[-2:])
    assert license_changed == {
        "license": {"id": seats.pk, "product": "agent_seat", "quantity": 3, "minimum": 0},
        "previous_quantity": 5,
        "ticket": ticket.pk,
    }
    assert subscription_changed["change"] == "seats" and subscription_changed["subscription"]["seats"] == 3
    assert subscription_changed["subscription"]["plan"] == {
        "id": desk.account.plan_id,
        "name": "Power Dialer",
        "product_line": "kixie",
        "rank": 2,
    }


def test_closed_cases_are_told_rejected_or_withdrawn(cast, submit, monday, documented):
    # SPEC §6a; rules K8, U5: the cancellation closes the other open cases as the system, each an event
    desk = kixie_desk(cast)
    lines = [provisioning.add_number(account=desk.account, number=f"+1202555019{i}") for i in range(2)]
    withdrawn = ask(desk, submit, Kind.PORT_OUT, numbers=[lines[0]], gaining_carrier="Telnyx", pin=PORT_OUT_PIN)
    transition_ticket(ticket=withdrawn, name="withdraw", actor=desk.owner, channel=LogChannel.WEB)
    rejected = ask(desk, submit, Kind.NUMBER_CANCELLATION, numbers=[lines[1]])
    transition_ticket(ticket=rejected, name="reject", actor=desk.agent, reason=STAFF_NOTE)
    settled = ask(desk, submit, Kind.NUMBER_CANCELLATION, numbers=[lines[1]])
    cancellation = submit(desk, Kind.ACCOUNT_CANCELLATION, channel="phone", actor=desk.agent, card_last4=CARD)
    to_completed(cancellation, desk)

    events = bodies(desk.account)
    withdraw = of_ticket(events, withdrawn)[-1]
    assert withdraw["type"] == "ticket.withdrawn"
    assert withdraw["data"]["transition"] | {"at": None} == {
        "name": "withdraw",
        "source": "submitted",
        "target": "withdrawn",
        "at": None,
        "by": "customer",
        "channel": "web",
    }
    reject = of_ticket(events, rejected)[-1]
    assert (reject["type"], reject["data"]["ticket"]["rejection_code"]) == ("ticket.rejected", None)
    closed = of_ticket(events, settled)[-1]
    assert closed["type"] == "ticket.rejected"
    assert closed["data"]["ticket"]["rejection_code"] == "account_cancelled"
    assert closed["data"]["transition"]["by"] == "system"
    # The settled case closes after the account's cancellation is told, before its numbers are released.
    types = [e["type"] for e in events]
    cancelled_at = types.index("account.cancelled")
    assert types[cancelled_at : cancelled_at + 3] == ["account.cancelled", "ticket.rejected", "number.released"]
    assert_nothing_secret(events, desk.owner.full_name, desk.billing_admin.full_name, desk.owner.email)
    assert_documented(events, documented)


def test_a_rolled_back_completion_leaves_no_event(cast, submit, in_business_hours):
    # SPEC §6a; rule U7: a reactivation completed once the purge has claimed the account is refused, and its
    # ticket.completed, written before the effect refused, goes with the rollback
    desk = cast("kustomer")
    cancel = submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS)
    cancel.refresh_from_db()
    assert cancel.state == State.COMPLETED
    back = submit(desk, Kind.REACTIVATION, channel="email", actor=desk.agent)
    back = transition_ticket(ticket=back, name="verify", actor=desk.agent)
    back = transition_ticket(ticket=back, name="approve", actor=desk.manager)
    account = Account.objects.get(pk=desk.account.pk)
    lifecycle.move_account(
        account=account, name="start_purge", actor=None, channel=LogChannel.SYSTEM, claim="x", at=MONDAY
    )
    before = bodies(desk.account)
    with pytest.raises(Refusal) as refused:
        transition_ticket(ticket=back, name="complete", actor=desk.agent)
    assert refused.value.code == "reactivation_closed"
    assert bodies(desk.account) == before
    assert before[-1]["type"] == "ticket.approved"
    assert Account.objects.get(pk=desk.account.pk).event_sequence == before[-1]["sequence"]


def test_cancel_reactivate_cancel_purge_is_told_in_order_and_the_purge_keeps_the_events(
    cast, submit, in_business_hours, documented
):
    # SPEC §6a; rules U6, U7: the account's moves, in order; the purge deletes the account's data, not its events
    desk = cast("kustomer")
    provisioning.add_number(account=desk.account, number="+12025550200")

    def cancel():
        ticket = submit(desk, Kind.ACCOUNT_CANCELLATION, reason="unused", acknowledgements=KUSTOMER_ACKS, **PERSONAL)
        return to_completed(ticket, desk)

    cancel()
    to_completed(submit(desk, Kind.REACTIVATION, channel="email", actor=desk.agent), desk)
    cancel()
    account = Account.objects.get(pk=desk.account.pk)
    told = bodies(account)
    assert purge.purge_account(account.pk, now=account.purge_after).outcome == "purged"

    events = bodies(account)
    assert events[: len(told)] == told  # nothing the purge touched
    moves = [e for e in events if e["type"].startswith("account.")]
    assert [e["type"] for e in moves] == [
        "account.cancelled",
        "account.reactivated",
        "account.cancelled",
        "account.purged",
    ]
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    purged = moves[-1]["data"]
    account.refresh_from_db()
    assert purged == {
        "account": {
            "account_id": account.account_id,
            "status": "purged",
            "plan": account.plan_id,
            "cancelled_at": account.cancelled_at.isoformat().replace("+00:00", "Z"),
            "purge_after": account.purge_after.isoformat().replace("+00:00", "Z"),
            "reactivated_at": None,
            "purged_at": account.purged_at.isoformat().replace("+00:00", "Z"),
        },
        "by": "system",
        "channel": "system",
    }
    assert moves[1]["data"]["account"]["status"] == "active" and moves[1]["data"]["by"] == "staff"
    assert "outbox_events" not in Tombstone.objects.get(account=account).counts
    # The purge redacted the tickets; the events never named the customer in the first place.
    assert not [w for e in events for w in words_in(e["data"]) if "customer" in w and "kustomer" in w.lower()]
    assert_nothing_secret(events, desk.owner.full_name, desk.billing_admin.full_name, desk.owner.email)
    assert_documented(events, documented)
    assert "number.released" in json.dumps([e["type"] for e in events])


def test_a_stale_whole_row_save_of_the_account_keeps_the_event_numbering(cast):
    # SPEC §6a: numbers rise with no gap and no repeat, whatever an admin form saved meanwhile
    desk = cast("avoxi")
    stale = Account.objects.get(pk=desk.account.pk)  # read before the event, as the admin's change form does
    record(desk.account, EventType.ACCOUNT_CANCELLED, {})
    stale.legal_hold_reason = "Subpoena 42"
    stale.save()
    second = record(desk.account, EventType.ACCOUNT_REACTIVATED, {})
    assert second.sequence == 2
    assert Account.objects.get(pk=desk.account.pk).legal_hold_reason == "Subpoena 42"


def test_the_schema_describes_every_event_body(client):
    # SPEC §6a, issue 26 "Must show": a component per type, and the catalogue under x-webhooks
    schema = client.get("/api/schema/?format=json").json()
    for event_type in EventType:
        name = component_name(event_type)
        assert schema["components"]["schemas"][name]["properties"]["type"]["enum"] == [event_type.value]
        body = schema["x-webhooks"][event_type.value]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{name}"}
    ticket = schema["components"]["schemas"]["EventTicket"]["properties"]
    assert set(ticket) == TICKET_KEYS
