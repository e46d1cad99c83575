"""The portal's download of the account's data (SPEC §6): the account page and the cancellation preview link here."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.exceptions import Refusal
from tickets.account_export import export_account_data
from tickets.portal import selectors


@never_cache
@login_required
@require_GET
def account_export(request: HttpRequest, account_id: str) -> HttpResponse:
    membership = selectors.membership_or_404(request.user, account_id)  # another account's is a 404
    try:
        archive, filename = export_account_data(account=membership.account, user=request.user)
    except Refusal as refusal:
        context = {"membership": membership, "account": membership.account, "sentence": refusal.detail}
        return render(request, "portal/not_allowed.html", context, status=403)
    return FileResponse(archive, as_attachment=True, filename=filename, content_type="application/zip")
