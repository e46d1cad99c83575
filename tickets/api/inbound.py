"""Email in over the API (staff): the triage list and turning a message into a ticket (SPEC appendix)."""

from django.http import Http404
from django.urls import reverse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.exceptions import Refusal
from accounts.models import Account
from tickets import access
from tickets.api.common import StrictFilterSet, business_rules, error_responses
from tickets.api.serializers import CREATE_SERIALIZERS, TicketSerializer
from tickets.api.views import CREATE_REQUEST, SUBMISSION_RULES, _reload
from tickets.inbound import preview, services
from tickets.inbound.models import InboundMessage


class InboundSerializer(serializers.ModelSerializer):
    verified = serializers.BooleanField(
        read_only=True,
        help_text="Whether the sender is a known customer: a member has this address and the message is authenticated "
        "(DMARC passed, by a trusted Authentication-Results header).",
    )
    authenticated = serializers.BooleanField(
        read_only=True, help_text="Whether the sender is verified (DMARC passed for the From domain)."
    )
    authentication = serializers.CharField(read_only=True, help_text="Why the sender is or is not verified.")
    requester_confirmed_by = serializers.CharField(
        read_only=True,
        help_text="How the agent who converted a message from a sender not verified confirmed the requester "
        "(`phone`, `video_call`, `in_person`); empty otherwise.",
    )
    text = serializers.SerializerMethodField(
        help_text=f"The message's own text, at most its first {preview.PREVIEW_CHARS:,} characters (see text_more_kb)."
    )
    text_more_kb = serializers.SerializerMethodField(
        help_text="Kilobytes of text left out of `text` (0: it is whole); `text_url` downloads all of it."
    )
    text_url = serializers.SerializerMethodField(help_text="The whole text, as a file (staff).")
    raw_url = serializers.SerializerMethodField(help_text="The email as received (.eml), as a file (staff).")

    class Meta:
        model = InboundMessage
        fields = [
            "id",
            "from",
            "subject",
            "received_at",
            "status",
            "ticket",
            "member",
            "verified",
            "authenticated",
            "authentication",
            "requester_confirmed_by",
            "text",
            "text_more_kb",
            "text_url",
            "raw_url",
            "note",
        ]
        read_only_fields = fields

    def get_text(self, message: InboundMessage) -> str:
        return preview.preview(message)[0]

    def get_text_more_kb(self, message: InboundMessage) -> int:
        return preview.preview(message)[1]

    def _download(self, message: InboundMessage, part: str) -> str:
        url = reverse(f"api:v1:inbound-{part}", args=[message.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url

    @extend_schema_field(OpenApiTypes.URI)
    def get_text_url(self, message: InboundMessage) -> str:
        return self._download(message, "text")

    @extend_schema_field(OpenApiTypes.URI)
    def get_raw_url(self, message: InboundMessage) -> str:
        return self._download(message, "raw")


class SenderField(serializers.EmailField):
    """The sender's address, null when the message had none (a format-email string is never empty)."""

    def to_representation(self, value: str) -> str | None:
        return value or None


# `from` is a Python keyword, so it cannot be declared as a class attribute.
InboundSerializer._declared_fields["from"] = SenderField(
    source="from_email", read_only=True, allow_null=True, help_text="The sender's address; null when it had none."
)


class InboundFilter(StrictFilterSet):
    status = filters.ChoiceFilter(choices=InboundMessage.Status.choices)

    class Meta:
        model = InboundMessage
        fields: list[str] = []


def _require_agent(request) -> None:
    if not access.may_read_email(request.user):
        raise exceptions.PermissionDenied("Only support staff read the email channel.")


class InboundList(generics.ListAPIView):
    serializer_class = InboundSerializer
    filterset_class = InboundFilter
    queryset = InboundMessage.objects.none()  # for the schema

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return InboundMessage.objects.none()
        _require_agent(self.request)
        # A bounded preview of each text, never the whole (issue 24, "Size"): the downloads hold the rest.
        return preview.with_preview(InboundMessage.objects.order_by("-received_at", "-pk"))

    @extend_schema(
        tags=["email in"],
        summary="Messages the email channel received, newest first (staff)",
        responses={200: InboundSerializer(many=True), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        status = request.query_params.get("status")
        if status is not None and status not in InboundMessage.Status.values:
            # django-filter takes an empty value as "any"; the schema names the four statuses only.
            raise exceptions.ValidationError({"status": ["Choose one of: " + ", ".join(InboundMessage.Status.values)]})
        return super().get(request, *args, **kwargs)


class InboundDownload(APIView):
    @extend_schema(
        tags=["email in"],
        summary="A message's whole text (`text`) or the email as received (`raw`), as a file (staff)",
        responses={
            (200, "text/plain"): OpenApiTypes.BINARY,
            (200, "message/rfc822"): OpenApiTypes.BINARY,
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, pk: int, part: str):
        _require_agent(request)
        response = preview.download_response(pk, part)
        if response is None:
            raise Http404
        return response


class InboundConvert(APIView):
    @extend_schema(
        tags=["email in"],
        summary="Turn a message waiting in triage into a ticket (staff)",
        description=business_rules(
            "409 `already_handled`: a message still in triage.",
            "409 `unverified_sender`: a sender who is a known customer, or a known former customer (a member of a "
            "cancelled account: their email converts to a `reactivation` only; another kind is `account_not_active`), "
            "and, when the sender is not verified (`authenticated` false), `requester_confirmed_by`: how the agent "
            "confirmed the requester by another channel (`phone`, `video_call`, `in_person`), kept on the ticket's "
            "log. Staff never act by email: their messages are never converted.",
            "400 `invalid_request`: a `requester_confirmed_by` that is not one of those.",
            *(f"{Refusal(code, '').http_status} `{code}`: {rule}" for code, rule in SUBMISSION_RULES.items()),
            intro=(
                "The ticket comes by channel `email`, with the sender as requester (a member of `account`) and the "
                "message's arrival as its submission time; the message is its first comment. The submission's own "
                "refusals are as on `POST /api/v1/tickets/`."
            ),
        ),
        request=CREATE_REQUEST,
        responses={201: TicketSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk: int):
        _require_agent(request)
        if not InboundMessage.objects.filter(pk=pk).exists():
            raise Http404
        data = request.data if isinstance(request.data, dict) else {}
        kind = data.get("kind")
        confirmed_by = data.get("requester_confirmed_by") or ""
        if not isinstance(confirmed_by, str):
            raise exceptions.ValidationError({"requester_confirmed_by": ["Choose how the requester was confirmed."]})
        if hasattr(data, "dict"):
            data = data.dict()
        data = {k: v for k, v in data.items() if k != "requester_confirmed_by"}
        form_class = CREATE_SERIALIZERS.get(kind if isinstance(kind, str) else None)
        if form_class is None:
            raise exceptions.ValidationError({"kind": ["Choose the kind of request."]})
        form = form_class(data=data)
        form.is_valid(raise_exception=True)
        if not Account.objects.filter(pk=form.validated_data["account"]).exists():
            raise exceptions.ValidationError({"account": ["No account has this id."]})
        ticket = services.convert_message(
            message=pk,
            actor=request.user,
            kind=form.validated_data["kind"],
            account=form.validated_data["account"],
            request=form.to_request(),
            requester_confirmed_by=confirmed_by,
        )
        return Response(TicketSerializer(_reload(ticket), context={"request": request}).data, status=201)
