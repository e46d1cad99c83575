from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from tickets.portal.accounts import FormerPasswordResetView, SignInView, former_member_view, two_factor_view

urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page links; the icon itself is a static file (WhiteNoise).
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"), permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/two-factor/", two_factor_view, name="two_factor"),
    # Django's sign-in with a former member's way back (tickets.portal.accounts.SignInForm); the rest as Django's.
    path("accounts/login/", SignInView.as_view(), name="login"),
    # A former member's password reset and their one page (tickets.former, SPEC §4 "Account lifecycle").
    path("accounts/password_reset/", FormerPasswordResetView.as_view(), name="password_reset"),
    path("accounts/former/", former_member_view, name="former_member"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("config.api_urls")),
    path("queues/triage/", include("tickets.queues.triage_urls")),
    # Hosted providers post inbound email here (tickets/inbound/webhooks.py), e.g. /inbound/mailgun/inbound/.
    path("inbound/", include(("tickets.inbound.webhooks", "inbound_webhooks"))),
    path("queues/", include("tickets.queues.urls")),
    path("", include("tickets.portal.urls")),
]
