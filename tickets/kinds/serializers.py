"""The base of every kind's API serializer: what every request carries. A kind's own serializer (in its module)
adds its fields and `kind_fields`, which fill a tickets.rules.context.Request."""

from rest_framework import serializers

from config.ids import MAX_ID

from .. import access
from ..models import Channel, Kind
from ..rules.context import Request


class IdField(serializers.IntegerField):
    """A database id: a positive integer that fits a bigint, so no lookup overflows."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class TicketCreateSerializer(serializers.Serializer):
    """What every request carries; the subclasses add their kind's fields."""

    kind = serializers.ChoiceField(choices=Kind.choices)
    account = IdField(help_text="Id of the account the request is about.")
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    company = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="Company name or account ID (A4)."
    )
    contact = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(
        choices=Channel.choices, required=False, help_text="Staff only: how the customer asked. Customers: api."
    )
    requester = IdField(
        required=False, help_text="Staff only: the user id of the member asking (the members endpoint's `user`)."
    )

    def validate(self, attrs: dict) -> dict:
        # Read-only for the requester (tickets.access.STAFF_WRITTEN_TICKET_FIELDS): said, not silently dropped.
        sent = sorted(access.STAFF_WRITTEN_TICKET_FIELDS & set(getattr(self, "initial_data", {}) or {}))
        if sent:
            raise serializers.ValidationError({name: ["Read-only: the support desk sets this."] for name in sent})
        return attrs

    def kind_fields(self, data: dict) -> dict:
        return {}

    def to_request(self) -> Request:
        data = self.validated_data
        return Request(
            full_name=data["full_name"],
            company=data["company"],
            contact=data["contact"],
            **self.kind_fields(data),
        )
