"""Ticket serializers: one per kind to validate a request and build tickets.services.Request, and the outputs."""

import datetime as dt

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import ACKNOWLEDGEMENT_TEXTS
from tickets import access, services
from tickets.models import TRANSITIONS, Attachment, Channel, Comment, ExitReason, Kind, Ticket, TransitionLog

from .common import FieldsBuiltOnce, IdField

# -- creating a ticket -----------------------------------------------------------------------------------------


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

    def to_request(self) -> services.Request:
        data = self.validated_data
        return services.Request(
            full_name=data["full_name"],
            company=data["company"],
            contact=data["contact"],
            **self.kind_fields(data),
        )


class AccountCancellationSerializer(TicketCreateSerializer):
    reason = serializers.ChoiceField(
        choices=ExitReason.choices, required=False, allow_blank=True, default="", help_text="Exit survey (U8)."
    )
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    acknowledgements = serializers.ListField(
        child=serializers.ChoiceField(choices=list(ACKNOWLEDGEMENT_TEXTS)),
        required=False,
        default=list,
        max_length=len(ACKNOWLEDGEMENT_TEXTS) * 2,
        help_text="The policy's acknowledgement keys (see the plans endpoint).",
    )
    confirmation = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        trim_whitespace=False,  # S3: " CONFIRM" is not CONFIRM
        help_text="The typed confirmation word, when the policy's verification asks for one.",
    )
    card_last4 = serializers.RegexField(
        r"^[0-9]{4}$",
        required=False,
        allow_blank=True,
        help_text="The card's last four digits, when the policy's verification asks for them (K7).",
    )

    def kind_fields(self, data):
        return {
            "reason": data["reason"],
            "comment": data["comment"],
            "acknowledgements": data["acknowledgements"],
            "confirmation": data.get("confirmation"),
            "card_last4": data.get("card_last4") or None,
        }


class LicenseCancellationSerializer(TicketCreateSerializer):
    license = IdField(help_text="Id of the license line.")
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000, help_text="How many licenses to cancel.")

    def kind_fields(self, data):
        return {"license": data["license"], "quantity": data["quantity"]}


class NumberCancellationSerializer(TicketCreateSerializer):
    number = IdField(help_text="Id of the phone number to cancel.")

    def kind_fields(self, data):
        return {"numbers": [data["number"]]}


class AddOnCancellationSerializer(TicketCreateSerializer):
    addon = IdField(help_text="Id of the add-on to cancel.")

    def kind_fields(self, data):
        return {"addon": data["addon"]}


class AddOnChangeSerializer(TicketCreateSerializer):
    addon = IdField(help_text="Id of the add-on to change.")
    tier = serializers.CharField(max_length=40, help_text="The tier or package to move to (A8, A9, A11).")

    def kind_fields(self, data):
        return {"addon": data["addon"], "tier": data["tier"]}


class PortOutSerializer(TicketCreateSerializer):
    numbers = serializers.ListField(child=IdField(), min_length=1, max_length=1000, help_text="Ids of the numbers.")
    gaining_carrier = serializers.CharField(max_length=120)
    authorized_name = serializers.CharField(max_length=200, help_text="The authorized person's name.")
    pin = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="The account's port-out PIN, where it has one."
    )
    account_number = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="The account number (its public id, AC-…): authorizes the port-out of an account without a PIN.",
    )

    def kind_fields(self, data):
        return {
            "numbers": list(dict.fromkeys(data["numbers"])),
            "gaining_carrier": data["gaining_carrier"],
            "authorized_name": data["authorized_name"],
            "pin": data.get("pin") or None,
            "account_number": data.get("account_number") or None,
        }


class DowngradeSerializer(TicketCreateSerializer):
    plan = IdField(help_text="Id of a lower plan, or of the plan a downgrade left (where the policy allows).")

    def kind_fields(self, data):
        return {"plan": data["plan"]}


class ReactivationSerializer(TicketCreateSerializer):
    pass


CREATE_SERIALIZERS: dict[str, type[TicketCreateSerializer]] = {
    Kind.ACCOUNT_CANCELLATION: AccountCancellationSerializer,
    Kind.LICENSE_CANCELLATION: LicenseCancellationSerializer,
    Kind.NUMBER_CANCELLATION: NumberCancellationSerializer,
    Kind.ADDON_CANCELLATION: AddOnCancellationSerializer,
    Kind.ADDON_CHANGE: AddOnChangeSerializer,
    Kind.PORT_OUT: PortOutSerializer,
    Kind.DOWNGRADE: DowngradeSerializer,
    Kind.REACTIVATION: ReactivationSerializer,
}


# -- reading a ticket ------------------------------------------------------------------------------------------


class HistorySerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor_label", help_text='Who acted: an email for staff readers; customers read "Support" for staff.'
    )
    note = serializers.CharField(help_text="Staff notes are internal: customers read the rejection reason only.")

    class Meta:
        model = TransitionLog
        fields = ["transition", "source", "target", "actor", "channel", "at", "note"]
        read_only_fields = fields

    def to_representation(self, row: TransitionLog) -> dict:
        data = super().to_representation(row)
        if hasattr(row, "shown_actor"):  # read through tickets.access.history_for, for a customer
            data["actor"], data["note"] = row.shown_actor, row.shown_note
        return data


class TicketSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    account_code = serializers.CharField(source="account.account_id", read_only=True)
    plan = serializers.PrimaryKeyRelatedField(source="target_plan", read_only=True, allow_null=True)
    numbers = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    available_transitions = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()
    acknowledgements = serializers.ListField(child=serializers.CharField(), read_only=True)
    checks = serializers.DictField(
        child=serializers.BooleanField(),
        read_only=True,
        allow_null=True,
        help_text="Each verification check's outcome: staff only, null for customers (SPEC §5).",
    )
    reason = serializers.CharField(read_only=True, help_text="Exit-survey reason (Stripe's values) or empty.")

    class Meta:
        model = Ticket
        fields = [
            "id",
            "kind",
            "state",
            "account",
            "account_code",
            "requester",
            "full_name",
            "company",
            "contact",
            "channel",
            "route",
            "priority",
            "assignee",
            "created_at",
            "updated_at",
            "closed_at",
            "license",
            "quantity",
            "numbers",
            "addon",
            "plan",
            "gaining_carrier",
            "authorized_name",
            "foc_date",
            "reason",
            "comment",
            "acknowledgements",
            "checks",
            "needs_manager_review",
            "rejection_code",
            "rejection_reason",
            "available_transitions",
            "history",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=TRANSITIONS)))
    def get_available_transitions(self, ticket: Ticket) -> list[str]:
        return services.available_transitions(ticket, self.context["request"].user)

    @extend_schema_field(HistorySerializer(many=True))
    def get_history(self, ticket: Ticket) -> list[dict]:
        return HistorySerializer(access.history_for(self.context["request"].user, ticket), many=True).data

    def to_representation(self, ticket: Ticket) -> dict:
        data = super().to_representation(ticket)
        for name in access.hidden_ticket_fields(self.context["request"].user):
            data[name] = None
        return data


# -- transitions and comments ----------------------------------------------------------------------------------


class TransitionSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=TRANSITIONS)
    card_last4 = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text="verify: the last four digits the customer gave."
    )
    confirmation_link = serializers.BooleanField(
        required=False,
        help_text=(
            "verify, K7's fallback where the policy names it: instead of verifying now, email the account's owner a "
            "signed, single-use link; the ticket is verified when the owner confirms with it."
        ),
    )
    foc_date = serializers.DateField(required=False, allow_null=True, help_text="approve: the port-out's FOC date.")
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, help_text="reject: the reason the customer will read."
    )
    code = serializers.CharField(
        max_length=40, required=False, allow_blank=True, help_text="reject a port-out: the allow-listed code."
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, help_text="Kept in the history.")

    def validate_foc_date(self, value: dt.date | None) -> dt.date | None:
        if value is not None and value < timezone.localdate():
            raise serializers.ValidationError("The FOC date cannot be in the past.")
        return value

    def evidence(self) -> dict:
        data = self.validated_data
        return {key: data[key] for key in ("card_last4", "foc_date", "reason", "code") if data.get(key) is not None}


class AttachmentSerializer(serializers.ModelSerializer):
    file = serializers.FileField(
        write_only=True,
        max_length=200,
        help_text="PDF, PNG, JPEG, text or CSV, at most 5 MB, its contents what its name says (multipart/form-data).",
    )
    public = serializers.BooleanField(
        default=True,
        help_text=(
            "Staff only: false keeps the file for staff (customers never see it). Read-only for customers: their "
            "files are public, and false from a customer is refused (400 `invalid_request` on `public`)."
        ),
    )

    class Meta:
        model = Attachment
        fields = ["id", "name", "content_type", "size", "public", "created_at", "file"]
        read_only_fields = ["id", "name", "content_type", "size", "created_at"]


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    body = serializers.CharField(max_length=10_000)
    public = serializers.BooleanField(
        default=True,
        help_text=(
            "Staff only: false makes an internal note customers do not see. Read-only for customers: their "
            "comments are public, and false from a customer is refused (400 `invalid_request` on `public`)."
        ),
    )

    class Meta:
        model = Comment
        fields = ["id", "author", "body", "public", "created_at"]
        read_only_fields = ["id", "author", "created_at"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_author(self, comment: Comment) -> str:
        if hasattr(comment, "shown_author"):  # read through tickets.access.comments_shown
            return comment.shown_author
        if not (comment.author_id and comment.author):
            return "system"
        viewer = self.context["request"].user if "request" in self.context else None
        return access.actor_name(viewer, comment.author, comment.author.email, comment.ticket.account.plan.policy)
