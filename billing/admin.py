from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.fields import InvalidJSONInput

from billing.models import AddOn, CardOnFile, CreditEntry, Invoice, License, Plan, Policy, Subscription
from config.admin_mixins import ValidInitialIdsMixin

PORT_OUT_DENY_WARNING = (
    "K10: the port-out balance rule is “deny”. In the US the losing provider may not refuse a valid "
    "port-out because money is owed (FCC consumer guide): denying port-outs for an outstanding balance "
    "may be unlawful there. Prefer “ignore” or “manager review” for US numbers."
)


# Policy JSON is at most three levels deep; anything far deeper is a mistake (or a probe).
POLICY_JSON_MAX_DEPTH = 20


def _depth(value) -> int:
    """How deeply lists and objects nest in value, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


class PolicyJSONField(forms.JSONField):
    """A JSON form field that refuses deeply nested input instead of failing with RecursionError (a 500)."""

    too_deep = f"Nested too deeply (at most {POLICY_JSON_MAX_DEPTH} levels)."

    def to_python(self, value):
        try:
            converted = super().to_python(value)
        except RecursionError:
            raise ValidationError(self.too_deep, code="invalid") from None
        if _depth(converted) > POLICY_JSON_MAX_DEPTH:
            raise ValidationError(self.too_deep, code="invalid")
        return converted

    def bound_data(self, data, initial):
        # Redisplaying the refused input parses it again: show it as typed.
        if self.disabled:
            return initial
        try:
            self.to_python(data)
        except ValidationError:
            return InvalidJSONInput(data)
        return super().bound_data(data, initial)


class PlanInline(admin.TabularInline):
    model = Plan
    extra = 0
    fields = ["name", "product_line", "rank", "price_per_seat"]


@admin.register(Policy)
class PolicyAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    """Every field of SPEC §3, grouped by the rules of SPEC §1 it reproduces."""

    list_display = ["name", "preset", "route", "verification_method", "retention_days", "reactivation"]
    list_filter = ["route", "verification_method", "reactivation", "port_out_balance_rule"]
    search_fields = ["name", "preset", "source"]
    inlines = [PlanInline]
    formfield_overrides = {models.JSONField: {"form_class": PolicyJSONField}}
    fieldsets = (
        (None, {"fields": ("preset", "name", "source")}),
        ("Who may request each kind — S4, A5, U1", {"fields": ("request_roles",)}),
        (
            "Channels and intake hours — K6",
            {
                "fields": (
                    "intake_channels",
                    "intake_hours_enforced",
                    "intake_time_zone",
                    "intake_weekdays",
                    "intake_start",
                    "intake_end",
                    "holiday_country",
                    "holiday_subdivision",
                    "closed_dates",
                )
            },
        ),
        ("Verification — K7, S3", {"fields": ("verification_method", "confirmation_word", "verification_fallback")}),
        ("Acknowledgements and required information — S5, U4, A4", {"fields": ("acknowledgements", "required_info")}),
        (
            "Exit survey and retention offers — U8, U9, S2, K1",
            {"fields": ("exit_survey_required", "offer_downgrade", "offer_meeting", "offers_by_reason")},
        ),
        (
            "Routes — S1, U2, U3, K3, A2, A6, A8, A9, A10, A11, K11",
            {"fields": ("route", "kind_routes", "addon_routes")},
        ),
        (
            "Completion, retention and reactivation — S7, K8, U6, U7, S6, S11, K9",
            {
                "fields": (
                    "credit_at_cancellation",
                    "erase_users_at_completion",
                    "purge_scheduled",
                    "retention_days",
                    "reactivation",
                )
            },
        ),
        (
            "Port-outs — K10, S10, fraud protection",
            {
                "fields": (
                    "port_out_balance_rule",
                    "port_out_deadline_hours",
                    "require_port_outs_complete",
                    "port_out_lock_offered",
                ),
                "description": "Warning: “deny” may be unlawful in the US. " + PORT_OUT_DENY_WARNING,
            },
        ),
        ("Licenses — A10", {"fields": ("license_minimums",)}),
        (
            "Contract — A1",
            {"fields": ("minimum_term_months", "cancellation_fee", "refuse_cancellation_days_before_term_end")},
        ),
        (
            "Money and holds — K1, K2, K4, K5, S7",
            {
                "fields": (
                    "refunds",
                    "holds_offered",
                    "holds_refused_with_alternatives",
                    "downgrade_proration",
                    "billing_cutoff_days",
                    "currency",
                )
            },
        ),
        (
            "Contact routes shown to customers — K6, K9, U7",
            {"fields": ("support_email", "support_phone", "support_hours")},
        ),
        ("Service levels and approval", {"fields": ("sla_targets", "verifier_may_approve")}),
        ("What customers read of staff — SPEC §5", {"fields": ("staff_first_names",)}),
    )

    def save_model(self, request, obj: Policy, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.port_out_balance_rule == Policy.PortOutBalanceRule.DENY:
            messages.warning(request, PORT_OUT_DENY_WARNING)


@admin.register(Plan)
class PlanAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    list_display = ["name", "product_line", "rank", "price_per_seat", "policy"]
    list_filter = ["product_line", "policy"]
    list_select_related = ["policy"]
    search_fields = ["name", "product_line", "policy__preset", "policy__name"]
    autocomplete_fields = ["policy"]


@admin.register(Subscription)
class SubscriptionAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    list_display = ["account", "seats", "next_billing_date", "status"]
    list_filter = ["status", "account__plan"]
    list_select_related = ["account"]
    search_fields = ["account__account_id", "account__name"]
    autocomplete_fields = ["account"]
    date_hierarchy = "next_billing_date"


class LicenseForm(forms.ModelForm):
    class Meta:
        model = License
        fields = ["account", "product", "quantity", "minimum"]

    def clean(self) -> dict:
        cleaned = super().clean()
        quantity, minimum = cleaned.get("quantity"), cleaned.get("minimum")
        if quantity is not None and minimum is not None and minimum > quantity:
            raise ValidationError({"minimum": f"The minimum ({minimum}) cannot be above the quantity ({quantity})."})
        return cleaned


@admin.register(License)
class LicenseAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    form = LicenseForm
    list_display = ["account", "product", "quantity", "minimum"]
    list_filter = ["product", "account__plan"]
    list_select_related = ["account"]
    search_fields = ["account__account_id", "account__name"]
    autocomplete_fields = ["account"]


@admin.register(AddOn)
class AddOnAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    list_display = ["__str__", "account", "product", "initial_ucaas", "status"]
    list_filter = ["product", "status", "initial_ucaas"]
    list_select_related = ["account", "number"]
    search_fields = ["name", "account__account_id", "account__name", "number__number"]
    autocomplete_fields = ["account", "number"]


@admin.register(Invoice)
class InvoiceAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    list_display = ["pk", "account", "amount", "due_date", "status", "is_overdue"]
    list_filter = ["status", "due_date"]
    list_select_related = ["account"]
    search_fields = ["account__account_id", "account__name"]
    autocomplete_fields = ["account"]
    date_hierarchy = "due_date"

    @admin.display(boolean=True, description="Overdue")
    def is_overdue(self, obj: Invoice) -> bool:
        return obj.is_overdue


@admin.register(CreditEntry)
class CreditEntryAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    list_display = ["account", "amount", "reason", "note", "created_at"]
    list_filter = ["reason"]
    list_select_related = ["account"]
    search_fields = ["account__account_id", "account__name", "note"]
    autocomplete_fields = ["account"]


@admin.register(CardOnFile)
class CardOnFileAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    list_display = ["account", "brand", "last4"]
    list_filter = ["brand"]
    list_select_related = ["account"]
    search_fields = ["account__account_id", "account__name", "last4"]
    autocomplete_fields = ["account"]
