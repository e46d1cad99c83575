"""Hosted inbound email (django-anymail's normalised inbound webhooks), fed into the same pipeline as IMAP.

Each provider's endpoint answers only when its security is configured: Postmark signs nothing, so it needs HTTP
basic auth (`INBOUND_WEBHOOK_SECRET`, `user:password` in the URL the provider posts to); Mailgun
signs every post with an HMAC of its webhook signing key (`MAILGUN_WEBHOOK_SIGNING_KEY`), checked on top of the
basic auth, and its signature is good once: its timestamp must be within MAX_AGE of now and its token unused. An
endpoint whose security is not configured is a 404: nothing unauthenticated reaches the desk.
A post that fails its check, or whose body cannot be read (not JSON, a JSON list, a NUL character in a field, a
message the parser gives up on), is answered 400 and sends nothing to the pipeline; never a 500.
"""

from __future__ import annotations

import datetime as dt
import json

from anymail.signals import AnymailInboundEvent
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .models import InboundMessage, WebhookToken
from .services import receive

# How far a signed post's timestamp may be from now (either way), and so how long its token is remembered.
MAX_AGE = dt.timedelta(minutes=5)
TOKEN_MAX = 100


class BadPost(ValueError):
    """A post that passed the provider's authentication but cannot be taken: its body cannot be read, or it is stale
    or replayed."""


def _holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _claim(provider: str, token: str) -> bool:
    """Remember a signed post's token for as long as its timestamp is accepted; False when it was seen already."""
    WebhookToken.objects.filter(seen_at__lt=timezone.now() - 2 * MAX_AGE).delete()
    try:
        with transaction.atomic():
            WebhookToken.objects.create(provider=provider, token=token)
    except IntegrityError:
        return False
    return True


class StrictInbound:
    """anymail's inbound view, answering 400 (never 500) to any post it cannot read, and refusing replays.

    1. The provider's checks (basic auth, its signature): 400 when they fail (anymail's own answer).
    2. The post's body into messages: whatever goes wrong here is the body's fault (it reads nothing else): 400.
    3. The post's freshness, where the provider signs one (a timestamp and a one-time token): 400 when stale.
    4. Each message into the pipeline (inbound.services.receive, which quarantines what it cannot store); the
       token is claimed in the same transaction, so a post the desk failed to store can be retried.
    """

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.run_validators(request)
        try:
            events = self.read_events(request)
            token = self.one_time_token(request)
        except BadPost as refused:
            return HttpResponseBadRequest(str(refused), content_type="text/plain")
        except Exception:  # noqa: BLE001 - the body alone was read: anything anymail or the parser raises is the body's
            return HttpResponseBadRequest("The post's body could not be read.", content_type="text/plain")
        with transaction.atomic():
            if token and not _claim(self.esp_name, token):
                return HttpResponseBadRequest(
                    "This post was received before: its token is used.", content_type="text/plain"
                )
            for event in events:
                self.signal.send(sender=self.__class__, event=event, esp_name=self.esp_name)
        return HttpResponse()

    def read_events(self, request: HttpRequest) -> list[AnymailInboundEvent]:
        events = self.parse_events(request)
        for event in events:
            event.raw = event.message.as_bytes()
        return events

    def one_time_token(self, request: HttpRequest) -> str:
        """The post's one-time token, once its timestamp is checked; "" for a provider that signs none."""
        return ""


class PostmarkInbound(StrictInbound, PostmarkInboundWebhookView):
    def parse_events(self, request: HttpRequest) -> list[AnymailInboundEvent]:
        try:
            payload = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadPost("The body is not JSON.") from exc
        if not isinstance(payload, dict):
            raise BadPost("The body is not a JSON object.")
        if _holds_nul(payload):
            raise BadPost("A field holds a NUL character.")
        return [self.esp_to_anymail_event(payload)]


class MailgunInbound(StrictInbound, MailgunInboundWebhookView):
    def parse_events(self, request: HttpRequest) -> list[AnymailInboundEvent]:
        if request.content_type != "application/json" and _holds_nul(
            [*request.POST.keys(), *(v for values in request.POST.lists() for v in values[1])]
        ):
            raise BadPost("A field holds a NUL character.")
        return super().parse_events(request)

    def one_time_token(self, request: HttpRequest) -> str:
        # The signature (checked in step 1) covers the timestamp and the token: a post replayed later, or again with
        # the same token, is refused.
        token, timestamp = request.POST.get("token", ""), request.POST.get("timestamp", "")
        try:
            signed_at = dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise BadPost("The timestamp is not a time.") from exc
        if abs(timezone.now() - signed_at) > MAX_AGE:
            raise BadPost(f"The timestamp is more than {MAX_AGE.seconds // 60} minutes from now.")
        if not token or len(token) > TOKEN_MAX:
            raise BadPost("The token is missing or too long.")
        return token


def _anymail(name: str) -> str:
    return (getattr(settings, "ANYMAIL", {}) or {}).get(name) or ""


# Provider → (its view, the settings its security needs). Any other anymail provider is a StrictInbound view and one
# line here. Left out: SendGrid, whose inbound view anymail 15 still ships but no longer supports (it warns on every
# request) and which checks no signature, only basic auth; Amazon SES, whose inbound view checks no SNS signature
# either and needs boto3 (not installed) to confirm its SNS subscription and to read messages kept in S3.
PROVIDERS = {
    "postmark": (PostmarkInbound, ["WEBHOOK_SECRET"]),
    "mailgun": (MailgunInbound, ["WEBHOOK_SECRET", "MAILGUN_WEBHOOK_SIGNING_KEY"]),
}


def _endpoint(provider: str):
    view_class, needs = PROVIDERS[provider]
    view = view_class.as_view()

    @csrf_exempt
    def endpoint(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not all(_anymail(name) for name in needs):
            raise Http404
        return view(request, *args, **kwargs)

    return endpoint


def handle_inbound(sender, event: AnymailInboundEvent, esp_name: str, **kwargs) -> None:
    """anymail's `inbound` signal: the provider's message, as bytes, into inbound.services.receive."""
    raw = getattr(event, "raw", None) or event.message.as_bytes()
    receive(raw, source=InboundMessage.Source.WEBHOOK)


urlpatterns = [path(f"{provider}/inbound/", _endpoint(provider), name=provider) for provider in PROVIDERS]
