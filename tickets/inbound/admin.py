"""Email in, for agents: the intake mailboxes (password written, never shown back) and every message received."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.exceptions import Refusal
from config.admin_mixins import ValidInitialIdsMixin
from tickets import access
from tickets.inbound.services import ignore_message

from . import preview
from .models import InboundMessage, Mailbox


class MailboxForm(forms.ModelForm):
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Never shown back; leave empty to keep the password already set.",
    )

    class Meta:
        model = Mailbox
        fields = ["name", "enabled", "host", "port", "use_tls", "username", "password", "folder", "policy", "kind"]

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password") or ""
        if not password and self.instance.pk:
            return Mailbox.objects.filter(pk=self.instance.pk).values_list("password", flat=True).first() or ""
        return password


@admin.register(Mailbox)
class MailboxAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    form = MailboxForm
    list_display = [
        "name",
        "enabled",
        "host",
        "port",
        "use_tls",
        "username",
        "folder",
        "last_fetched_at",
        "failures",
        "quarantined",
    ]
    list_filter = ["enabled"]
    readonly_fields = [
        "uidvalidity",
        "last_uid",
        "last_fetched_at",
        "failures",
        "retry_after",
        "last_error",
        "claimed_until",
    ]
    fieldsets = [
        (None, {"fields": ["name", "enabled", "policy", "kind"]}),
        ("IMAP", {"fields": ["host", "port", "use_tls", "username", "password", "folder"]}),
        ("Reading", {"fields": readonly_fields}),
    ]

    def get_queryset(self, request):
        quarantined = Count("messages", filter=Q(messages__status=InboundMessage.Status.QUARANTINED))
        return super().get_queryset(request).annotate(quarantined_count=quarantined)

    @admin.display(description="quarantined", ordering="quarantined_count")
    def quarantined(self, mailbox: Mailbox) -> int:
        """Messages of this mailbox that could not be stored (Email in → Inbound messages, status "Quarantined")."""
        return mailbox.quarantined_count


class AcknowledgementFilter(admin.SimpleListFilter):
    """Whether new mail was acknowledged, or skipped past the desk-wide INBOUND_ACK_RATE (counted with facets)."""

    title = "acknowledgement"
    parameter_name = "acknowledgement"
    CHOICES = {
        "sent": ("Sent", Q(acknowledged_at__isnull=False)),
        "skipped": ("Skipped: the desk's hourly limit was reached", Q(acknowledgement_skipped_at__isnull=False)),
    }

    def lookups(self, request, model_admin):
        return [(value, label) for value, (label, _) in self.CHOICES.items()]

    def queryset(self, request, queryset):
        chosen = self.CHOICES.get(self.value() or "")
        return queryset.filter(chosen[1]) if chosen else queryset


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["received_at", "from_email", "subject", "status", "verified_sender", "ticket_link"]
    # Facets always on: each status (quarantined included) and each acknowledgement outcome shows its count.
    list_filter = ["status", "authenticated", "source", "mailbox", AcknowledgementFilter]
    show_facets = admin.ShowFacets.ALWAYS
    search_fields = ["from_email", "subject", "message_id"]
    list_select_related = ["ticket"]
    date_hierarchy = "received_at"
    fields = [
        "status",
        "from_email",
        "from_name",
        "subject",
        "received_at",
        "fetched_at",
        "source",
        "mailbox",
        "message_id",
        "text_preview",
        "downloads",
        "note",
        "authentication",
        "sender_accounts",
        "member",
        "ticket",
        "handled_by",
        "handled_at",
        "acknowledged_at",
        "acknowledgement_skipped_at",
        "requester_confirmed_by",
    ]
    readonly_fields = fields
    actions = ["dismiss"]

    def get_queryset(self, request):
        # Never the raw copy nor the whole text: a 20 MB email made a 21 MB page (issue 24, "Size").
        return preview.with_preview(super().get_queryset(request))

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        return [
            path("<int:pk>/download/<str:part>/", download, name="inbound_inboundmessage_download"),
            *super().get_urls(),
        ]

    def download_view(self, request, pk: int, part: str):
        """The whole text or the message as received, as a file: staff who read the email channel only."""
        if not access.may_read_email(request.user):
            raise PermissionDenied
        response = preview.download_response(pk, part)
        if response is None:
            raise Http404
        return response

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="text")
    def text_preview(self, message: InboundMessage) -> str:
        """The first preview.PREVIEW_CHARS characters, and how much more the download holds."""
        shown, more_kb = preview.preview(message)
        return format_html(
            '<div style="white-space: pre-wrap; overflow-wrap: anywhere; max-width: 100%">{}</div>{}',
            shown,
            format_html("<p><strong>{}</strong> (download the whole text below)</p>", preview.more_words(more_kb))
            if more_kb
            else "",
        )

    @admin.display(description="download")
    def downloads(self, message: InboundMessage) -> str:
        def url(part: str) -> str:
            return reverse("admin:inbound_inboundmessage_download", args=[message.pk, part])

        return format_html(
            '<a href="{}" download>The whole text (.txt)</a> · <a href="{}" download>The email as received (.eml)</a>',
            url("text"),
            url("raw"),
        )

    @admin.display(boolean=True, description="known customer")
    def verified_sender(self, message: InboundMessage) -> bool:
        """A known customer (or former customer): an address of theirs, and the sender verified (DMARC passed)."""
        return message.verified

    @admin.display(description="ticket")
    def ticket_link(self, message: InboundMessage) -> str:
        if not message.ticket_id:
            return "—"
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:tickets_ticket_change", args=[message.ticket_id]), message.ticket_id
        )

    @admin.display(description="sender's accounts")
    def sender_accounts(self, message: InboundMessage) -> str:
        if message.member_id is None:
            if not message.authenticated:
                return "Sender not verified, and no customer account has this address."
            return "Unknown sender: no customer account has this address."
        memberships = message.member.memberships.select_related("account__plan")
        accounts = format_html_join(
            ", ", "{} ({}, {})", ((m.account.name, m.account.account_id, m.account.plan.name) for m in memberships)
        )
        if message.authenticated:
            return accounts
        return format_html(
            "Sender not verified: the address is that of a member of {}, but anybody can write it. Confirm the "
            "requester by phone or another channel before you create a ticket.",
            accounts,
        )

    @admin.action(description="Dismiss the selected emails waiting in triage")
    def dismiss(self, request, queryset) -> None:
        done = 0
        for message in queryset.filter(status=InboundMessage.Status.TRIAGE):
            try:
                ignore_message(message=message, actor=request.user)
                done += 1
            except Refusal:
                continue
        self.message_user(request, f"{done} email(s) dismissed.")
