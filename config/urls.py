from django.contrib import admin
from django.urls import include, path

from accounts.views import SignInView, two_factor_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/two-factor/", two_factor_view, name="two_factor"),
    # Django's sign-in with the cancelled customer's answer (accounts.views.SignInForm); the rest as Django's.
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("config.api_urls")),
    path("queues/triage/", include("tickets.inbound.urls")),
    # Hosted providers post inbound email here (tickets/inbound/webhooks.py), e.g. /inbound/mailgun/inbound/.
    path("inbound/", include(("tickets.inbound.webhooks", "inbound_webhooks"))),
    path("queues/", include("tickets.queue_urls")),
    path("", include("tickets.urls")),
]
