"""Webhook endpoints over the API (SPEC appendix), for staff holding manage_webhooks: create (the secret shown
once), list, read, change, the deliveries, rotate the secret, resend."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.outbox import EventType
from tickets.api.common import business_rules, error_responses

from . import services
from .models import ALL_EVENTS, Delivery, WebhookEndpoint

EVENT_CHOICES = [ALL_EVENTS, *(kind.value for kind in EventType)]
URL_RULE = (
    "400 `url_not_allowed` on `url`: not `https://` (`http://` only to the hosts in WEBHOOK_ALLOWED_HOSTS), or its "
    "host resolves to a private, loopback, link-local, metadata or other non-public address (unless in "
    "WEBHOOK_ALLOW_NETWORKS), or does not resolve."
)


class EndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES),
        help_text='Event types sent to this endpoint, or ["*"] for all.',
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "enabled", "ordered", "description", "created_at", "disabled_reason"]
        read_only_fields = fields


class CreatedEndpointSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The `whsec_` signing secret: shown in this answer only, keep it."
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointWriteSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=1000, help_text="https:// URL the events are POSTed to.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES), min_length=1, max_length=len(EVENT_CHOICES)
    )
    description = serializers.CharField(max_length=200, allow_blank=True, required=False)
    ordered = serializers.BooleanField(required=False, help_text="One account's events in sequence.")
    enabled = serializers.BooleanField(required=False)


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.public_id", read_only=True, help_text="The event's `msg_…` id.")
    type = serializers.CharField(source="event.type", read_only=True)

    class Meta:
        model = Delivery
        fields = ["event_id", "type", "attempts", "status", "last_status_code", "next_attempt_at", "delivered_at"]
        read_only_fields = fields


class ResendSerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="Every delivery that failed created since then.")
    event_ids = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=1000, help_text="Events to send again."
    )

    def validate(self, data):
        if ("since" in data) == ("event_ids" in data):
            raise serializers.ValidationError("Give either `since` or `event_ids`.")
        return data


def _endpoint(request, pk: int) -> WebhookEndpoint:
    services.check_may_manage(request.user)
    endpoint = WebhookEndpoint.objects.filter(pk=pk).first()
    if endpoint is None:
        raise Http404
    return endpoint


TAGS = ["webhooks"]


class EndpointList(generics.ListAPIView):
    serializer_class = EndpointSerializer
    queryset = WebhookEndpoint.objects.none()  # for the schema

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.objects.none()
        services.check_may_manage(self.request.user)
        return WebhookEndpoint.objects.order_by("pk")

    @extend_schema(
        tags=TAGS,
        summary="Webhook endpoints (staff with manage_webhooks)",
        responses={200: EndpointSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=TAGS,
        summary="Add a webhook endpoint; the answer holds its secret, once",
        description=business_rules(URL_RULE),
        request=EndpointWriteSerializer,
        responses={201: CreatedEndpointSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request):
        services.check_may_manage(request.user)
        form = EndpointWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        endpoint, secret = services.create_endpoint(
            actor=request.user,
            url=data["url"],
            events=data["events"],
            description=data.get("description", ""),
            ordered=data.get("ordered", False),
        )
        if data.get("enabled") is False:
            services.update_endpoint(endpoint=endpoint, actor=request.user, enabled=False)
        answer = CreatedEndpointSerializer(endpoint).data
        answer["secret"] = secret
        return Response(answer, status=201)


class EndpointDetail(APIView):
    @extend_schema(
        tags=TAGS,
        summary="A webhook endpoint (staff with manage_webhooks)",
        responses={200: EndpointSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, pk: int):
        return Response(EndpointSerializer(_endpoint(request, pk)).data)

    @extend_schema(
        tags=TAGS,
        summary="Change a webhook endpoint: enable or disable it, its events, URL, description, ordering",
        description=business_rules(URL_RULE),
        request=EndpointWriteSerializer(partial=True),
        responses={200: EndpointSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request, pk: int):
        endpoint = _endpoint(request, pk)
        form = EndpointWriteSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        endpoint = services.update_endpoint(endpoint=endpoint, actor=request.user, **form.validated_data)
        return Response(EndpointSerializer(endpoint).data)


class EndpointDeliveries(generics.ListAPIView):
    serializer_class = DeliverySerializer
    queryset = Delivery.objects.none()  # for the schema

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Delivery.objects.none()
        endpoint = _endpoint(self.request, self.kwargs["pk"])
        return Delivery.objects.filter(endpoint=endpoint).select_related("event").order_by("-pk")

    @extend_schema(
        tags=TAGS,
        summary="An endpoint's deliveries, newest first (staff with manage_webhooks)",
        responses={200: DeliverySerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RotateSecret(APIView):
    @extend_schema(
        tags=TAGS,
        summary="A new signing secret, shown once; the old one signs beside it for 24 hours",
        request=None,
        responses={
            200: inline_serializer("RotatedSecret", {"secret": serializers.CharField()}),
            **error_responses(401, 403, 404),
        },
    )
    def post(self, request, pk: int):
        endpoint = _endpoint(request, pk)
        return Response({"secret": services.rotate_secret(endpoint=endpoint, actor=request.user)})


class Resend(APIView):
    @extend_schema(
        tags=TAGS,
        summary="Send deliveries again: everything that failed since a time, or the events named",
        description=business_rules(
            "400 `invalid_request`: give exactly one of `since` and `event_ids`.",
            intro="Each delivery goes again with its own webhook-id, attempts counted from 0; `queued` says how many.",
        ),
        request=ResendSerializer,
        responses={
            200: inline_serializer("Resent", {"queued": serializers.IntegerField(min_value=0)}),
            **error_responses(400, 401, 403, 404),
        },
    )
    def post(self, request, pk: int):
        endpoint = _endpoint(request, pk)
        form = ResendSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        queued = services.resend(
            endpoint=endpoint,
            actor=request.user,
            since=form.validated_data.get("since"),
            event_ids=form.validated_data.get("event_ids"),
        )
        return Response({"queued": queued})
