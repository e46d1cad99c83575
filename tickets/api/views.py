"""REST API for tickets: create (every kind), list, detail with history, transitions, comments, files.

Views parse input and call tickets.services; a Refusal comes back as `{"code", "detail"}` with its status.
"""

import datetime as dt

from django import forms
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.exceptions import Code, Refusal
from accounts.models import Account
from tickets import access, idempotency, services, verification_links
from tickets.attachments import ATTACHMENT_TYPES, add_attachment, attachment_response
from tickets.kinds.serializers import TicketCreateSerializer
from tickets.models import (
    TRANSITIONS,
    Attachment,
    Channel,
    Comment,
    Kind,
    LogChannel,
    State,
    Ticket,
    TransitionLog,
)
from tickets.rules.table import blockers

from .common import (
    ID_SCHEMA,
    MAX_ID,
    DeskPermission,
    StrictFilterSet,
    VerificationThrottle,
    business_rules,
    error_responses,
)
from .serializers import (
    CREATE_SERIALIZERS,
    AttachmentSerializer,
    CommentSerializer,
    TicketSerializer,
    TransitionSerializer,
)

# The types a stored file is served with (tickets.attachments decides them from the name and the contents).
ATTACHMENT_CONTENT_TYPES = {content_type for content_type, _ in ATTACHMENT_TYPES.values()}


def _with_history(tickets):
    """What TicketSerializer reads, in a fixed number of queries: the history with its actors (customers read
    "Support" for staff), the numbers."""
    history = Prefetch("log", queryset=TransitionLog.objects.select_related("actor"))
    return tickets.select_related("account__plan__policy").prefetch_related(history, "numbers")


def ticket_for(request, pk: int) -> Ticket:
    ticket = _with_history(access.visible_tickets(request.user)).filter(pk=pk).first()
    if ticket is None:
        raise Http404
    return ticket


# -- list and create -------------------------------------------------------------------------------------------


@extend_schema_field(ID_SCHEMA)
class IdFilter(filters.NumberFilter):
    field_class = forms.IntegerField


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    """ISO 8601 with any offset Python accepts; PostgreSQL takes offsets up to ±15:59 only, so compare in UTC."""

    def filter(self, qs, value):
        if value is not None and value.tzinfo is not None:
            try:
                value = value.astimezone(dt.UTC)
            except OverflowError as exc:
                raise exceptions.ValidationError({self.field_name: ["Date out of range."]}) from exc
        return super().filter(qs, value)


class TicketFilter(StrictFilterSet):
    state = filters.ChoiceFilter(choices=State.choices)
    kind = filters.ChoiceFilter(choices=Kind.choices)
    account = IdFilter(field_name="account", min_value=1, max_value=MAX_ID)
    assignee = IdFilter(field_name="assignee", min_value=1, max_value=MAX_ID)
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    ordering = filters.OrderingFilter(fields=("created_at", "updated_at", "id", "state", "kind"))

    class Meta:
        model = Ticket
        fields: list[str] = []


# The policy's refusals of a submission (tickets.services.submit_ticket and the guards it runs), by code.
SUBMISSION_RULES = {
    "missing_required_info": "the policy's required information for the kind (A4).",
    "acknowledgement_missing": "every acknowledgement the policy asks for.",
    "survey_required": "the exit survey's reason, when the policy asks for it (U8).",
    "already_requested": "one open request per object.",
    "license_minimum": "a license cancellation leaves at least the plan's minimum.",
    "outside_intake_hours": "the policy's intake hours.",
    "channel_not_accepted": "a channel the policy accepts for the kind.",
    "outstanding_balance": "no overdue invoice, where the policy asks.",
    "port_out_locked": "the account's port-out lock is off.",
    "port_outs_pending": "no port-out in progress on the account.",
    "number_busy": "a number in no other open request.",
    "number_not_on_account": "numbers of the account, in service.",
    "requires_account_manager": "an account manager, where the policy asks.",
    "verification_failed": "the PIN, account number, confirmation word or card digits the policy checks.",
    "verification_locked": "too many failed verifications.",
    "account_not_active": "an active account (a reactivation: a cancelled one).",
    "invalid_plan": "a lower plan, for a downgrade.",
    "reactivation_closed": "the reactivation window is open.",
}

CREATE_REQUEST = PolymorphicProxySerializer(
    component_name="TicketCreate",
    serializers={kind.value: serializer for kind, serializer in CREATE_SERIALIZERS.items()},
    resource_type_field_name="kind",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Up to 200 characters. Repeating a key with the same request returns the first request's ticket instead of "
        "a new one; the key with a different request is a 400 `idempotency_key_reused`."
    ),
)


class TicketList(generics.ListAPIView):
    permission_classes = [DeskPermission]
    staff_permissions = {"GET": "tickets.view_ticket", "POST": "tickets.add_ticket"}
    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    throttle_classes = [VerificationThrottle]
    refusals_are_bad_requests = True  # a submission is 201 or 400/403 (tickets.api.drf_hooks._status_of)

    queryset = Ticket.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Ticket.objects.none()
        return _with_history(access.visible_tickets(self.request.user)).order_by("-created_at", "-pk")

    @extend_schema(
        tags=["tickets"],
        summary="Tickets the caller may see",
        responses={200: TicketSerializer(many=True), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["tickets"],
        summary="Submit a request",
        description=business_rules(
            *(f"400 `{code}`: {rule}" for code, rule in SUBMISSION_RULES.items()),
            "400 `idempotency_key_reused`: an Idempotency-Key goes with one request body.",
            intro=(
                "Customers submit for their own accounts (requester: the caller, channel: api). Staff submit on a "
                "customer's behalf with `requester` (a member's user id) and `channel`. A request the policy "
                "refuses is a 400 with the guard's code; 403 `role_not_allowed`; 409 only while another request "
                "with the same Idempotency-Key is in flight."
            ),
        ),
        request=CREATE_REQUEST,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: TicketSerializer, **error_responses(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request):
        """Submit a ticket.

        1. Validate the kind's fields with that kind's serializer; the account must be one the caller sees (404).
        2. Work out the requester and channel: the caller and `api`, or for staff the member they name.
        3. Submit through tickets.services.submit_ticket, once per Idempotency-Key (tickets.idempotency: a key
           already used returns its ticket, a refusal releases the key).
        """
        kind = request.data.get("kind") if isinstance(request.data, dict) else None
        form_class = CREATE_SERIALIZERS.get(kind if isinstance(kind, str) else None, TicketCreateSerializer)
        form = form_class(data=request.data)
        form.is_valid(raise_exception=True)
        values = form.validated_data
        # Only whether the caller sees the account: the service reads it, under its lock, with its plan and policy.
        if not access.accounts_for(request.user).filter(pk=values["account"]).exists():
            raise Http404
        account = Account(pk=values["account"])
        requester, channel = self._requester_and_channel(account, values)

        ticket, replayed = idempotency.submit_once(
            user=request.user,
            key=self._idempotency_key(request),
            values=values,
            submit=lambda: services.submit_ticket(
                account=account,
                kind=values["kind"],
                requester=requester,
                request=form.to_request(),
                channel=channel,
                actor=request.user,
            ),
        )
        if replayed:
            body = TicketSerializer(_reload(ticket), context=self.get_serializer_context()).data
            return Response(body, status=status.HTTP_201_CREATED, headers={"Idempotent-Replayed": "true"})
        return Response(
            # The service hands back the ticket as it left the transaction, its history and numbers included.
            TicketSerializer(ticket, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    def _requester_and_channel(self, account, values: dict):
        user = self.request.user
        if not access.may_submit_for_others(user):
            if values.get("requester") not in (None, user.pk):
                raise exceptions.ValidationError({"requester": ["Only staff submit on someone else's behalf."]})
            if values.get("channel") not in (None, Channel.API):
                raise exceptions.ValidationError({"channel": ["Requests through the API come by the api channel."]})
            return user, Channel.API
        if values.get("requester") is None:
            raise exceptions.ValidationError(
                {"requester": ["Staff submit on a customer's behalf: give the member's user id."]}
            )
        # Who may be named: tickets.access.requester_choices, as the admin's "Record a request" offers them.
        requester = access.requester_choices(account).filter(pk=values["requester"]).first()
        if requester is None:
            # SPEC §4, S11: the account's rules come before anything about the requester (a purged account's
            # former members are gone; its reactivation is refused for what it is).
            refused = blockers(Account.objects.select_related("plan__policy").get(pk=account.pk), values["kind"])
            if refused:
                raise refused[0]
            raise exceptions.ValidationError({"requester": ["No active member of this account has that user id."]})
        return requester, values.get("channel") or Channel.API

    @staticmethod
    def _idempotency_key(request) -> str | None:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return None
        key = key.strip()
        if not key or len(key) > 200:
            raise exceptions.ValidationError({"Idempotency-Key": ["Give a key of 1 to 200 characters."]})
        return key


def _reload(ticket: Ticket) -> Ticket:
    return _with_history(Ticket.objects).get(pk=ticket.pk)


# -- one ticket ------------------------------------------------------------------------------------------------


class TicketDetail(APIView):
    permission_classes = [DeskPermission]
    staff_permissions = {"GET": "tickets.view_ticket"}

    @extend_schema(
        tags=["tickets"],
        summary="One ticket with its available transitions and history",
        responses={200: TicketSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, pk: int):
        return Response(TicketSerializer(ticket_for(request, pk), context={"request": request}).data)


class TicketTransitions(APIView):
    permission_classes = [DeskPermission]
    staff_permissions = {"POST": "tickets.view_ticket"}  # and the transition's own, checked by the service (403)
    throttle_classes = [VerificationThrottle]

    @extend_schema(
        tags=["tickets"],
        summary="Run a transition",
        description=business_rules(
            "400 `reason_required`: `reject` carries a `reason`.",
            "400 `rejection_code_not_allowed`: a port-out's rejection `code` from the allow-list.",
            "400 `invalid_request` on `foc_date`: an `approve`'s FOC date is today or later (a number cannot move on "
            "a day that has passed).",
            "409 `invalid_state`: the transition runs from the ticket's state.",
            "409 `same_verifier`: four eyes, where the policy asks (the approver is not the verifier).",
            "409 `verification_failed`: the card digits or other evidence the policy checks.",
            "409 `verification_locked`: too many failed verifications.",
            "409 `license_minimum`: the licenses left meet the plan's minimum when the request is approved.",
            "409 `port_outs_pending`: no other port-out in progress on the account.",
            "409 `account_not_active`: the ticket's account is active (a cancelled or purged account's cases take no "
            "transition; a reactivation's do).",
            "409 `verification_fallback_unavailable`: `verify` with `confirmation_link` (K7's fallback) is for an "
            "account cancellation awaiting verification by a card the account does not have, on a policy naming it.",
            intro=(
                "`verify` may carry `card_last4`, or `confirmation_link: true` to email the owner a confirmation link "
                "instead (the ticket stays submitted until the owner confirms); `approve` may carry `foc_date`; "
                "`reject` carries `reason` and, "
                "for port-outs, `code`. 403 when the caller's role may not; 409 `{code, detail}` when the state or "
                "a guard refuses."
            ),
        ),
        request=TransitionSerializer,
        responses={200: TicketSerializer, **error_responses(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request, pk: int):
        ticket = ticket_for(request, pk)
        name = request.data.get("name") if isinstance(request.data, dict) else None
        if isinstance(name, str) and name not in TRANSITIONS:
            # The workflow's own refusal, so the API answers as the admin does.
            raise Refusal(Code.UNKNOWN_TRANSITION, f"Unknown transition {name!r}; one of {', '.join(TRANSITIONS)}.")
        if isinstance(name, str):
            # The caller's role first: someone who may not run it learns nothing of the fields it would read.
            services.check_may_ask(ticket=ticket, name=name, actor=request.user)
        form = TransitionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if form.validated_data["name"] == "verify" and form.validated_data.get("confirmation_link"):
            verification_links.send_confirmation_link(ticket=ticket, actor=request.user, channel=LogChannel.API)
            return Response(TicketSerializer(_reload(ticket), context={"request": request}).data)
        services.transition_ticket(
            ticket=ticket,
            name=form.validated_data["name"],
            actor=request.user,
            channel=LogChannel.API,
            note=form.validated_data.get("note", ""),
            **form.evidence(),
        )
        return Response(TicketSerializer(_reload(ticket), context={"request": request}).data)


class TicketAttachments(generics.GenericAPIView):
    """The case's files: those the caller may see (tickets.access.attachments_for), and a new one through
    tickets.attachments.add_attachment, the one service the portal, the admin and email call too."""

    permission_classes = [DeskPermission]
    staff_permissions = {"GET": "tickets.view_attachment", "POST": "tickets.add_attachment"}
    serializer_class = AttachmentSerializer
    parser_classes = [MultiPartParser]
    filter_backends: list = []
    queryset = Attachment.objects.none()  # for the browsable API and the schema; requests read the ticket's files

    @extend_schema(
        tags=["tickets"],
        summary="The ticket's files (customers see those not kept for staff)",
        responses={200: AttachmentSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request, pk: int):
        ticket = ticket_for(request, pk)
        page = self.paginate_queryset(access.attachments_for(request.user, ticket))
        return self.get_paginated_response(AttachmentSerializer(page, many=True).data)

    @extend_schema(
        tags=["tickets"],
        summary="Attach a file to the ticket",
        description=business_rules(
            "400 `invalid_request` on `file`: a PDF, PNG, JPEG, text or CSV file whose contents are what its name "
            "says, at most 5 MB; a case holds at most ATTACHMENTS_PER_TICKET files (20) and "
            "ATTACHMENT_MB_PER_TICKET MB (25), and a person attaches at most ATTACHMENTS_PER_USER_HOUR files an "
            "hour (20): the portal's, the admin's and email's limits.",
            "400 `invalid_request` on `public`: a customer's file is public; `false` (kept for staff) is for staff "
            "only, so a customer sending it is refused rather than published.",
        ),
        request=AttachmentSerializer,
        responses={201: AttachmentSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, pk: int):
        ticket = ticket_for(request, pk)
        if not access.may_attach(request.user, ticket):
            raise exceptions.PermissionDenied("You may not attach files to this ticket.")
        form = AttachmentSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        attachment = add_attachment(
            ticket=ticket,
            upload=form.validated_data["file"],
            uploaded_by=request.user,
            public=form.validated_data["public"],
        )
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class TicketAttachmentFile(APIView):
    """One file's contents, to whoever sees it (tickets.access.attachments_for), as the portal serves it."""

    permission_classes = [DeskPermission]
    staff_permissions = {"GET": "tickets.view_attachment"}

    @extend_schema(
        tags=["tickets"],
        summary="Download a file of the ticket",
        responses={
            **{(200, content_type): OpenApiTypes.BINARY for content_type in sorted(ATTACHMENT_CONTENT_TYPES)},
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, pk: int, attachment_pk: int):
        ticket = ticket_for(request, pk)
        return attachment_response(get_object_or_404(access.attachments_for(request.user, ticket), pk=attachment_pk))


class TicketComments(generics.GenericAPIView):
    permission_classes = [DeskPermission]
    staff_permissions = {"GET": "tickets.view_comment", "POST": "tickets.add_comment"}
    serializer_class = CommentSerializer
    filter_backends: list = []
    queryset = Comment.objects.none()  # for the browsable API and the schema; requests read the ticket's comments

    @extend_schema(
        tags=["tickets"],
        summary="The ticket's comments (customers see public ones)",
        responses={200: CommentSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request, pk: int):
        ticket = ticket_for(request, pk)
        page = self.paginate_queryset(access.comments_shown(request.user, ticket))
        return self.get_paginated_response(CommentSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        tags=["tickets"],
        summary="Comment on the ticket",
        description=business_rules(
            "400 `invalid_request` on `public`: a customer's comment is public; `false` (an internal note) is for "
            "staff only, so a customer sending it is refused rather than published.",
            "400 `invalid_request` on `body`: a comment holds text (not only spaces), at most 5,000 characters.",
        ),
        request=CommentSerializer,
        responses={201: CommentSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, pk: int):
        ticket = ticket_for(request, pk)
        form = CommentSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        comment = services.add_comment(
            ticket=ticket, author=request.user, body=form.validated_data["body"], public=form.validated_data["public"]
        )
        return Response(CommentSerializer(comment, context={"request": request}).data, status=status.HTTP_201_CREATED)
