"""Webhook endpoints in the admin (staff with manage_webhooks): add and edit (the secret shown once, in the message
after adding or rotating), the deliveries with their attempts, and resending."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from accounts.exceptions import Refusal
from accounts.outbox import EventType
from config.admin_mixins import ValidInitialIdsMixin
from tickets import access

from . import addresses, services
from .models import ALL_EVENTS, Delivery, DeliveryAttempt, WebhookEndpoint

EVENT_CHOICES = [(ALL_EVENTS, "Every event"), *((kind.value, kind.value) for kind in EventType)]


class EndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=1000, assume_scheme="https", help_text=WebhookEndpoint._meta.get_field("url").help_text
    )
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, initial=[ALL_EVENTS], widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "ordered", "enabled", "owners"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            addresses.check_url(url)
        except Refusal as refusal:
            raise forms.ValidationError(refusal.detail, code=str(refusal.code)) from None
        return url

    def clean_events(self) -> list[str]:
        events = self.cleaned_data["events"]
        return [ALL_EVENTS] if ALL_EVENTS in events else events


class ManagedByWebhookManagers:
    def has_module_permission(self, request) -> bool:
        return access.may_manage_webhooks(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return access.may_manage_webhooks(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return access.may_manage_webhooks(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return access.may_manage_webhooks(request.user)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ValidInitialIdsMixin, ManagedByWebhookManagers, admin.ModelAdmin):
    form = EndpointForm
    list_display = ["url", "description", "enabled", "ordered", "created_at", "disabled_reason"]
    list_filter = ["enabled", "ordered"]
    readonly_fields = ["created_by", "created_at", "disabled_at", "disabled_reason", "failing_since"]
    actions = ["rotate_secret", "resend_failed_last_week"]

    def has_add_permission(self, request) -> bool:
        return access.may_manage_webhooks(request.user)

    def save_model(self, request, obj, form, change) -> None:
        if change:
            services.update_endpoint(
                endpoint=obj,
                actor=request.user,
                **{name: form.cleaned_data[name] for name in ("url", "events", "description", "ordered", "enabled")},
            )
            return
        endpoint, secret = services.create_endpoint(
            actor=request.user,
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            description=form.cleaned_data["description"],
            ordered=form.cleaned_data["ordered"],
        )
        obj.pk = endpoint.pk
        obj.created_by = endpoint.created_by
        obj.secret = endpoint.secret
        obj.created_at = endpoint.created_at
        if not form.cleaned_data["enabled"]:
            services.update_endpoint(endpoint=endpoint, actor=request.user, enabled=False)
        self.message_user(request, f"The endpoint's signing secret, shown this once: {secret}", messages.WARNING)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if not change:
            form.instance.owners.add(request.user)

    @admin.action(description="Rotate the signing secret (the old one signs for 24 more hours)")
    def rotate_secret(self, request, queryset) -> None:
        for endpoint in queryset:
            secret = services.rotate_secret(endpoint=endpoint, actor=request.user)
            self.message_user(request, f"New secret of {endpoint.url}, shown this once: {secret}", messages.WARNING)

    @admin.action(description="Resend every delivery that failed in the last 7 days")
    def resend_failed_last_week(self, request, queryset) -> None:
        since = timezone.now() - dt.timedelta(days=7)
        queued = sum(services.resend(endpoint=endpoint, actor=request.user, since=since) for endpoint in queryset)
        self.message_user(request, f"{queued} deliveries queued again.")


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["at", "status_code", "error", "duration_ms", "response"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ValidInitialIdsMixin, ManagedByWebhookManagers, admin.ModelAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at", "delivered_at"]
    list_filter = ["status", "endpoint"]
    list_select_related = ["event", "endpoint"]
    readonly_fields = [
        "endpoint",
        "event",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "created_at",
    ]
    fields = readonly_fields
    inlines = [AttemptInline]
    actions = ["resend"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Resend the selected deliveries")
    def resend(self, request, queryset) -> None:
        queued = 0
        for endpoint_id in queryset.values_list("endpoint", flat=True).distinct():
            endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
            event_ids = queryset.filter(endpoint=endpoint).values_list("event__public_id", flat=True)
            queued += services.resend(endpoint=endpoint, actor=request.user, event_ids=list(event_ids))
        self.message_user(request, f"{queued} deliveries queued again.")
