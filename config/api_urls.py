"""The REST API under /api/: version 1, the OpenAPI schema and its browsable docs (served locally, no CDN)."""

from django.urls import include, path, re_path, register_converter
from django.views import View
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tickets.api import accounts as accounts_api
from tickets.api import billing as billing_api
from tickets.api import inbound as inbound_api
from tickets.api import views as tickets_api
from tickets.api.account_export import AccountExport
from tickets.api.common import IdConverter, api_not_found
from tickets.webhooks import api as webhooks_api

register_converter(IdConverter, "id")

v1 = [
    path("auth/token/", accounts_api.ObtainToken.as_view(), name="token"),
    path("plans/", billing_api.PlanList.as_view(), name="plans"),
    path("accounts/", accounts_api.AccountList.as_view(), name="accounts"),
    path("accounts/<id:pk>/", accounts_api.AccountDetail.as_view(), name="account"),
    path("accounts/<id:pk>/members/", accounts_api.MemberList.as_view(), name="members"),
    path("accounts/<id:pk>/numbers/", accounts_api.NumberList.as_view(), name="numbers"),
    path("accounts/<id:pk>/licenses/", accounts_api.LicenseList.as_view(), name="licenses"),
    path("accounts/<id:pk>/addons/", accounts_api.AddOnList.as_view(), name="addons"),
    path("accounts/<id:pk>/invoices/", accounts_api.InvoiceList.as_view(), name="invoices"),
    path("accounts/<id:pk>/card/", accounts_api.Card.as_view(), name="card"),
    path("accounts/<id:pk>/export/", AccountExport.as_view(), name="account-export"),
    path("tickets/", tickets_api.TicketList.as_view(), name="tickets"),
    path("tickets/<id:pk>/", tickets_api.TicketDetail.as_view(), name="ticket"),
    path("tickets/<id:pk>/transitions/", tickets_api.TicketTransitions.as_view(), name="transitions"),
    path("tickets/<id:pk>/comments/", tickets_api.TicketComments.as_view(), name="comments"),
    path("tickets/<id:pk>/attachments/", tickets_api.TicketAttachments.as_view(), name="attachments"),
    path(
        "tickets/<id:pk>/attachments/<id:attachment_pk>/",
        tickets_api.TicketAttachmentFile.as_view(),
        name="attachment",
    ),
    path("inbound/", inbound_api.InboundList.as_view(), name="inbound"),
    path("inbound/<id:pk>/convert/", inbound_api.InboundConvert.as_view(), name="inbound-convert"),
    # Downloads (issue 24, "Size"): the item shows a bounded preview.
    path("inbound/<id:pk>/text/", inbound_api.InboundDownload.as_view(), {"part": "text"}, name="inbound-text"),
    path("inbound/<id:pk>/raw/", inbound_api.InboundDownload.as_view(), {"part": "raw"}, name="inbound-raw"),
    path("webhook-endpoints/", webhooks_api.EndpointList.as_view(), name="webhook-endpoints"),
    path("webhook-endpoints/<id:pk>/", webhooks_api.EndpointDetail.as_view(), name="webhook-endpoint"),
    path("webhook-endpoints/<id:pk>/deliveries/", webhooks_api.EndpointDeliveries.as_view(), name="webhook-deliveries"),
    path("webhook-endpoints/<id:pk>/rotate-secret/", webhooks_api.RotateSecret.as_view(), name="webhook-rotate-secret"),
    path("webhook-endpoints/<id:pk>/resend/", webhooks_api.Resend.as_view(), name="webhook-resend"),
]


class SwaggerDocs(SpectacularSwaggerSplitView):
    """The docs page. OPTIONS answers with the allowed methods; DRF's would render its metadata with the page's
    template and fail (500)."""

    def options(self, request, *args, **kwargs):
        return View.options(self, request, *args, **kwargs)


app_name = "api"
urlpatterns = [
    path("v1/", include((v1, "v1"))),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, so the docs page runs under a script-src 'self' CSP.
    path("docs/", SwaggerDocs.as_view(url_name="api:schema"), name="docs"),
    # Last: any other path under /api/ answers in the API's error format, not with the HTML 404 page.
    re_path(r"^", api_not_found),
]
