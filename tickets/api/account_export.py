"""`GET /api/v1/accounts/{id}/export/`: the account's data archive (SPEC §6), the portal's download through the API.

tickets.account_export builds it (and logs it); this view only finds the account the caller sees and streams the
file. Staff read accounts in the admin and the other endpoints: the archive is the account-wide roles' own.
"""

import json

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from tickets.account_export import ensure_may_export, export_account_data

from .common import DeskPermission, account_for, business_rules, error_responses


class ZipRenderer(BaseRenderer):
    """Lets a client ask for `application/zip`; the archive itself is a FileResponse, and an error (a dict) is
    written as the API's JSON so a refusal reads the same whatever was asked for."""

    media_type = "application/zip"
    format = "zip"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return json.dumps(data).encode()


class AccountExport(APIView):
    permission_classes = [DeskPermission]
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, ZipRenderer]
    staff_permissions = {"GET": "accounts.view_account"}  # staff see the account, and are refused the archive (403)

    @extend_schema(
        tags=["accounts"],
        summary="Download the account's data (owner and admins)",
        description=business_rules(
            "403 `role_not_allowed`: the account's owner, super admins and billing admins only (a plain member, "
            "staff).",
            intro=(
                "SPEC §6 (Kustomer: save any necessary information before canceling): a zip holding, for the cases, "
                "their public comments, invoices, numbers, licenses, add-ons and members, a CSV and a JSON file of "
                "the same rows, and `account.json` describing the archive. Another account is a 404. It holds only "
                "what the caller already sees (no check results, private comments, staff notes or staff emails), "
                "and every download is logged on the account."
            ),
        ),
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The archive."),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, pk: int):
        account = account_for(request, pk)
        if request.accepted_renderer.format == "api":
            # A browser on the browsable API reads a page that links the archive; only the download builds and logs it.
            ensure_may_export(account=account, user=request.user)
            link = request.build_absolute_uri(request.path) + "?format=zip"
            return Response({"detail": "The account's data as one zip archive.", "download": link})
        archive, filename = export_account_data(account=account, user=request.user)
        return FileResponse(archive, as_attachment=True, filename=filename, content_type="application/zip")
