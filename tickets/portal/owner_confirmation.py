"""The page behind K7's confirmation link (tickets.verification_links): a confirmation page on GET (mail scanners
follow links; only the owner's POST confirms), and the confirmation on POST, signed in or not."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.exceptions import Refusal
from tickets.verification_links import check_unused, confirm_with_link, read_token

TEMPLATE = "portal/owner_confirmation.html"


@never_cache
@require_http_methods(["GET", "POST"])
def owner_confirmation(request: HttpRequest, token: str) -> HttpResponse:
    try:
        ticket, owner = read_token(token)
    except Refusal as refusal:
        return render(request, TEMPLATE, {"refusal": refusal}, status=400)
    context = {"ticket": ticket, "owner": owner}
    try:
        check_unused(ticket)
    except Refusal as refusal:
        return render(request, TEMPLATE, {**context, "refusal": refusal}, status=409)
    if request.method == "POST":
        try:
            ticket = confirm_with_link(token=token)
        except Refusal as refusal:
            return render(request, TEMPLATE, {**context, "refusal": refusal}, status=409)
        return render(request, TEMPLATE, {**context, "ticket": ticket, "done": True})
    return render(request, TEMPLATE, context)
