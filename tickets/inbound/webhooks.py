"""Hosted inbound email (django-anymail's normalised inbound webhooks), fed into the same pipeline as IMAP.

Each provider's endpoint answers only when its security is configured: Postmark signs nothing, so it needs HTTP
basic auth (`INBOUND_WEBHOOK_SECRET`, `user:password` in the URL the provider posts to); Mailgun
signs every post with an HMAC of its webhook signing key (`MAILGUN_WEBHOOK_SIGNING_KEY`), checked on top of the
basic auth. An endpoint whose security is not configured is a 404: nothing unauthenticated reaches the desk.
Anymail answers a post that fails its check with a 400 and sends nothing to the pipeline.
"""

from anymail.signals import AnymailInboundEvent
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from .models import InboundMessage
from .services import receive


def _anymail(name: str) -> str:
    return (getattr(settings, "ANYMAIL", {}) or {}).get(name) or ""


# Provider → (anymail's view, the settings its security needs). Any other anymail provider is one line here. Left
# out: SendGrid, whose inbound view anymail 15 still ships but no longer supports (it warns on every request) and
# which checks no signature, only basic auth; Amazon SES, whose inbound view checks no SNS signature either and needs
# boto3 (not installed) to confirm its SNS subscription and to read messages kept in S3.
PROVIDERS = {
    "postmark": (PostmarkInboundWebhookView, ["WEBHOOK_SECRET"]),
    "mailgun": (MailgunInboundWebhookView, ["WEBHOOK_SECRET", "MAILGUN_WEBHOOK_SIGNING_KEY"]),
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
    receive(event.message.as_bytes(), source=InboundMessage.Source.WEBHOOK)


urlpatterns = [path(f"{provider}/inbound/", _endpoint(provider), name=provider) for provider in PROVIDERS]
