"""Ticket serializers: one per kind to validate a request and build tickets.services.Request, and the outputs."""

import datetime as dt

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets import access, services
from tickets.kinds import registry
from tickets.models import TRANSITIONS, Attachment, Comment, Ticket, TransitionLog

from .common import FieldsBuiltOnce

# -- creating a ticket -----------------------------------------------------------------------------------------


# Each kind's serializer, by kind: a view of the registry (tickets/kinds/<kind>.py); their base is
# tickets.kinds.serializers.TicketCreateSerializer.
CREATE_SERIALIZERS = registry.View(lambda spec: spec.serializer)


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
