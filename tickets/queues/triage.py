"""The triage queue: new email waiting for an agent, shown with the sender's accounts; one step to a ticket."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.exceptions import Refusal
from accounts.models import Membership
from tickets import access
from tickets.inbound import services
from tickets.inbound.models import InboundMessage
from tickets.models import Kind
from tickets.queues.triage_forms import ConvertForm
from tickets.queues.views import _nav, staff_view

PAGE_SIZE = 25


@require_GET
@staff_view()
def triage(request: HttpRequest) -> HttpResponse:
    memberships = Membership.objects.select_related("account__plan__policy").order_by("account__name")
    rows = (
        InboundMessage.objects.filter(status=InboundMessage.Status.TRIAGE)
        .defer("raw")
        .select_related("mailbox", "member")
        .prefetch_related(Prefetch("member__memberships", queryset=memberships))
        .order_by("received_at", "pk")  # oldest first: the queue is worked in arrival order
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    items = []
    for message in page:
        sender_memberships = list(message.member.memberships.all()) if message.member else []
        accounts = [m.account for m in sender_memberships]
        # A known former customer's email becomes a reactivation (SPEC §4, "Account lifecycle").
        former = access.only_former(sender_memberships)
        kind = Kind.REACTIVATION if former else (message.mailbox.kind if message.mailbox else "")
        initial = {"kind": kind or Kind.ACCOUNT_CANCELLATION}
        form = ConvertForm(
            initial=initial,
            accounts=services.accounts_of(message),
            sender_verified=message.authenticated,
            prefix=f"m{message.pk}",
        )
        form.fields["account"].choices = [(a.pk, f"{a.name} ({a.account_id}, {a.plan.name})") for a in accounts]
        items.append({"message": message, "accounts": accounts, "form": form, "former": former})
    return render(request, "inbound/triage.html", {**_nav(request, "triage"), "page": page, "items": items})


def _back(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("inbound:triage"))


@require_POST
@staff_view()
def convert(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    message = get_object_or_404(InboundMessage.objects.defer("raw"), pk=pk)
    form = ConvertForm(
        request.POST,
        accounts=services.accounts_of(message),
        sender_verified=message.authenticated,
        prefix=f"m{message.pk}",
    )
    if not form.is_valid():
        errors = "; ".join(
            f"{form.fields[k].label or k}: {' '.join(v)}" for k, v in form.errors.items() if k in form.fields
        )
        messages.error(request, f"Message {pk}: {errors or 'check the form.'}")
        return _back(request)
    try:
        ticket = services.convert_message(
            message=message,
            actor=request.user,
            kind=form.cleaned_data["kind"],
            account=form.cleaned_data["account"],
            request=form.to_request(),
            requester_confirmed_by=form.cleaned_data.get("requester_confirmed_by", ""),
        )
    except Refusal as refusal:
        messages.error(request, f"Message {pk}: {refusal.detail}")
        return _back(request)
    messages.success(request, f"Ticket #{ticket.pk} was created from the email of {message.from_email}.")
    return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[ticket.pk]))


@require_POST
@staff_view()
def dismiss(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    message = get_object_or_404(InboundMessage.objects.defer("raw"), pk=pk)
    try:
        services.ignore_message(message=message, actor=request.user)
    except Refusal as refusal:
        messages.error(request, refusal.detail)
    else:
        messages.success(request, f"The email from {message.from_email} was dismissed.")
    return _back(request)
