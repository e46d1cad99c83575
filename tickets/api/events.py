"""The event bodies in the OpenAPI schema (SPEC §6a): one component per type (`TicketCompletedEvent`, ...), and the
catalogue under `x-webhooks` (the schema is OpenAPI 3.0, whose root has no `webhooks`; ReDoc reads `x-webhooks`).

The serializers here only describe what tickets.events and accounts.events build; the ticket's fields are the ones
tickets.access lets an event carry (tickets.events.TICKET_EVENT_FIELDS), so the schema follows that rule without
restating it. tests/tickets/test_event_schema.py checks every body a walk produces against its component.
"""

from __future__ import annotations

from drf_spectacular.plumbing import process_webhooks
from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

from accounts.events import CUSTOMER, STAFF, SYSTEM
from accounts.models import Account
from accounts.outbox import EventType
from billing.models import AddOn, License, Subscription
from numbers.models import PhoneNumber
from tickets import events
from tickets.models import Channel, ExitReason, Kind, LogChannel, Priority, State


def _nullable(field: type[serializers.Field], **kwargs) -> serializers.Field:
    return field(allow_null=True, **kwargs)


class PlanRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    product_line = serializers.CharField()
    rank = serializers.IntegerField()


class EventActorMixin(serializers.Serializer):
    by = serializers.ChoiceField(
        choices=[SYSTEM, STAFF, CUSTOMER], help_text="Who acted, as a role: never a person (events outlive the purge)."
    )
    channel = serializers.ChoiceField(choices=LogChannel.choices)


# Every field a ticket event may carry, as the schema says it; the serializer takes those tickets.access allows.
TICKET_FIELD_SCHEMAS = {
    "id": lambda: serializers.IntegerField(help_text="The ticket's id (GET /api/v1/tickets/{id}/)."),
    "kind": lambda: serializers.ChoiceField(choices=Kind.choices),
    "state": lambda: serializers.ChoiceField(choices=State.choices),
    "channel": lambda: serializers.ChoiceField(choices=Channel.choices),
    "route": lambda: serializers.CharField(),
    "priority": lambda: serializers.ChoiceField(choices=Priority.choices),
    "created_at": lambda: serializers.DateTimeField(),
    "closed_at": lambda: _nullable(serializers.DateTimeField),
    "license": lambda: _nullable(serializers.IntegerField, help_text="The license line's id."),
    "quantity": lambda: _nullable(serializers.IntegerField),
    "numbers": lambda: serializers.ListField(child=serializers.CharField(), help_text="The numbers in E.164."),
    "addon": lambda: _nullable(serializers.IntegerField, help_text="The add-on's id."),
    "tier": lambda: _nullable(serializers.CharField),
    "plan": lambda: PlanRefSerializer(allow_null=True, help_text="A downgrade's target plan."),
    "foc_date": lambda: _nullable(serializers.DateField),
    "reason": lambda: serializers.ChoiceField(choices=ExitReason.choices, allow_null=True),
    "acknowledgements": lambda: serializers.ListField(child=serializers.CharField()),
    "needs_manager_review": lambda: serializers.BooleanField(),
    "rejection_code": lambda: _nullable(serializers.CharField),
}
EventTicketSerializer = type(
    "EventTicketSerializer",
    (serializers.Serializer,),
    {name: TICKET_FIELD_SCHEMAS[name]() for name in events.TICKET_EVENT_FIELDS},
)


class EventTransitionSerializer(EventActorMixin):
    name = serializers.ChoiceField(choices=list(events.TRANSITION_EVENTS))
    source = serializers.ChoiceField(choices=State.choices, allow_null=True, help_text="Null for the submission.")
    target = serializers.ChoiceField(choices=State.choices)
    at = serializers.DateTimeField()


class TicketEventDataSerializer(serializers.Serializer):
    ticket = EventTicketSerializer()
    transition = EventTransitionSerializer()


class EventAccountSerializer(serializers.Serializer):
    account_id = serializers.CharField(help_text="The account's public id (AC-…).")
    status = serializers.ChoiceField(choices=Account.Status.choices)
    plan = serializers.IntegerField(help_text="The plan's id (GET /api/v1/plans/).")
    cancelled_at = _nullable(serializers.DateTimeField)
    purge_after = _nullable(serializers.DateTimeField)
    reactivated_at = _nullable(serializers.DateTimeField)
    purged_at = _nullable(serializers.DateTimeField)


class AccountEventDataSerializer(EventActorMixin):
    account = EventAccountSerializer()


class EventNumberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(help_text="E.164.")
    status = serializers.ChoiceField(choices=PhoneNumber.Status.choices)
    released_at = _nullable(serializers.DateTimeField)
    ported_out_at = _nullable(serializers.DateTimeField)


class NumberEventDataSerializer(serializers.Serializer):
    number = EventNumberSerializer()
    ticket = serializers.IntegerField(help_text="The ticket whose completion made the change.")


class EventSubscriptionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Subscription.Status.choices, allow_null=True)
    seats = _nullable(serializers.IntegerField)
    next_billing_date = _nullable(serializers.DateField)
    ended_at = _nullable(serializers.DateTimeField)
    plan = PlanRefSerializer()


class SubscriptionEventDataSerializer(serializers.Serializer):
    subscription = EventSubscriptionSerializer()
    change = serializers.ChoiceField(
        choices=list(events.SUBSCRIPTION_CHANGES),
        help_text="ended: the account's cancellation; restored: its reactivation; seats: a seat-license "
        "cancellation; plan: a downgrade.",
    )
    ticket = serializers.IntegerField()


class EventLicenseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product = serializers.ChoiceField(choices=License.Product.choices)
    quantity = serializers.IntegerField()
    minimum = serializers.IntegerField()


class LicenseEventDataSerializer(serializers.Serializer):
    license = EventLicenseSerializer()
    previous_quantity = serializers.IntegerField()
    ticket = serializers.IntegerField()


class EventAddonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product = serializers.ChoiceField(choices=AddOn.Product.choices)
    tier = _nullable(serializers.CharField)
    status = serializers.ChoiceField(choices=AddOn.Status.choices)
    number = _nullable(serializers.CharField, help_text="An inbound recording's number, E.164.")
    cancelled_at = _nullable(serializers.DateTimeField)


class AddonEventDataSerializer(serializers.Serializer):
    addon = EventAddonSerializer()
    previous_tier = _nullable(serializers.CharField, help_text="addon.changed by a tier change: the tier before.")
    ticket = serializers.IntegerField()


DATA: dict[str, type[serializers.Serializer]] = {
    "ticket": TicketEventDataSerializer,
    "account": AccountEventDataSerializer,
    "number": NumberEventDataSerializer,
    "subscription": SubscriptionEventDataSerializer,
    "license": LicenseEventDataSerializer,
    "addon": AddonEventDataSerializer,
}


def component_name(event_type: EventType) -> str:
    """`ticket.completed` → `TicketCompletedEvent`, `number.ported_out` → `NumberPortedOutEvent`."""
    words = event_type.value.replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words) + "Event"


def _envelope(event_type: EventType) -> type[serializers.Serializer]:
    """The body of SPEC §6a for one type: the envelope every event shares, with this type's `data`."""
    family = event_type.value.split(".")[0]
    fields = {
        "id": serializers.CharField(help_text="msg_…: the event's id and its webhook-id, the same on every retry."),
        "type": serializers.ChoiceField(choices=[event_type.value]),
        "created_at": serializers.DateTimeField(),
        "account": serializers.CharField(help_text="The account's public id (AC-…)."),
        "sequence": serializers.IntegerField(help_text="Per account, rising from 1 with no gaps."),
        "data": DATA[family](),
    }
    name = component_name(event_type)
    return type(f"{name}Serializer", (serializers.Serializer,), {**fields, "__doc__": EVENT_TEXTS[event_type]})


EVENT_TEXTS: dict[EventType, str] = {
    EventType.TICKET_SUBMITTED: "A request was made (any channel).",
    EventType.TICKET_VERIFIED: "The request's verification was satisfied (by staff, or by the system).",
    EventType.TICKET_APPROVED: "The request was approved (a port-out's FOC date is set).",
    EventType.TICKET_COMPLETED: "The request was carried out; the changes it made follow as their own events.",
    EventType.TICKET_REJECTED: "The request was rejected (`rejection_code` for port-outs, `account_cancelled` for "
    "a case its account's cancellation closed).",
    EventType.TICKET_WITHDRAWN: "The customer withdrew the request.",
    EventType.ACCOUNT_CANCELLED: "The account was cancelled: stop billing it (its numbers, subscription and add-ons "
    "follow as their own events).",
    EventType.ACCOUNT_REACTIVATED: "The account is active again (its subscription and add-ons follow).",
    EventType.ACCOUNT_PURGED: "The account's data was deleted; its id, its tickets (redacted) and its events stay.",
    EventType.NUMBER_RELEASED: "A number left the account: release it at the carrier.",
    EventType.NUMBER_PORTED_OUT: "A number was ported out to another carrier.",
    EventType.SUBSCRIPTION_CHANGED: "What the account is billed for changed: its plan, seats or status.",
    EventType.LICENSE_CHANGED: "A license line's quantity changed.",
    EventType.ADDON_CHANGED: "An add-on changed tier, or is active again with its account's reactivation.",
    EventType.ADDON_CANCELLED: "An add-on ended (on its own, with its number, or with its account).",
}
ENVELOPES = {event_type: _envelope(event_type) for event_type in EventType}
WEBHOOKS = [
    OpenApiWebhook(
        name=event_type.value,
        decorator=extend_schema(
            summary=EVENT_TEXTS[event_type],
            request=ENVELOPES[event_type],
            responses={200: OpenApiResponse(description="Any 2xx: delivered. Anything else is retried.")},
        ),
    )
    for event_type in EventType
]


def describe_events(result, generator, request, public):
    """drf-spectacular postprocessing hook: a component per event type and the catalogue under `x-webhooks`."""
    result["x-webhooks"] = process_webhooks(WEBHOOKS, generator.registry)
    built = generator.registry.build({}).get("schemas", {})
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in built.items():
        schemas.setdefault(name, schema)
    return result
