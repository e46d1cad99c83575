import functools
import json
import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.fields import InvalidJSONInput
from django.utils.html import format_html, format_html_join

from accounts.vocabulary import Channel, ExitReason, Kind, Role
from billing.models import (
    ACKNOWLEDGEMENT_TEXTS,
    REQUIRED_INFO_FIELDS,
    RETENTION_OFFERS,
    SLA_TARGET_NAMES,
    AddOn,
    CardOnFile,
    CreditEntry,
    Invoice,
    License,
    Plan,
    Policy,
    Route,
    Subscription,
)
from config.admin_mixins import ValidInitialIdsMixin
from tickets import sla
from tickets.desk.policy_widgets import (
    GridField,
    LinesField,
    LinesTextarea,
    ListCellsTableWidget,
    OrderedChoicesField,
    TableField,
)

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
    fields = ["name", "product_line", "rank", "price_per_seat", "seat_product"]


ROLE_LABELS = {"owner": "Owner", "super_admin": "Super admin", "billing_admin": "Billing admin", "member": "Member"}
WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
SLA_COLUMNS = [("first_response", "First response (business hours)"), ("resolution", "Resolution (business hours)")]
ADDON_ROUTE_KEYS = [*AddOn.Product.choices, ("sip_trunk_initial_ucaas", "SIP trunk created with the UCaaS service")]
ROUTE_CHOICES = [("", "Default (support case)"), *Route.choices]
assert tuple(key for key, _ in SLA_COLUMNS) == SLA_TARGET_NAMES  # noqa: S101 - one list of SLA clocks


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())  # reads the tz database's files: once a process


def _time_zones() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(_zone_names())]


def _friendly_fields() -> dict[str, forms.Field]:
    """The editor's widget for each JSON field of the policy, keyed by the model field it writes."""
    fields: dict[str, forms.Field] = {
        "request_roles": GridField(
            Kind.choices,
            [(role, ROLE_LABELS.get(role, role)) for role in Role.values],
            corner="Kind of request",
            label="Who may ask for each kind",
        ),
        "intake_channels": OrderedChoicesField(
            choices=Channel.choices,
            widget=forms.CheckboxSelectMultiple,
            required=False,
            label="Channels that take account cancellations",
        ),
        "intake_weekdays": OrderedChoicesField(
            choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple, required=False, label="Intake days"
        ),
        "acknowledgements": OrderedChoicesField(
            choices=list(ACKNOWLEDGEMENT_TEXTS.items()),
            widget=forms.CheckboxSelectMultiple,
            required=False,
            label="What the customer ticks before cancelling",
        ),
        "required_info": OrderedChoicesField(
            choices=list(REQUIRED_INFO_FIELDS.items()),
            widget=forms.CheckboxSelectMultiple,
            required=False,
            label="What every cancellation request must carry",
        ),
        "kind_routes": TableField(
            [kind for kind in Kind.choices if kind[0] != "account_cancellation"],
            [(None, "Route")],
            lambda: forms.ChoiceField(choices=ROUTE_CHOICES, required=False),
            forms.Select(choices=ROUTE_CHOICES),
            corner="Kind of request",
            label="How the other kinds are worked",
        ),
        "addon_routes": TableField(
            ADDON_ROUTE_KEYS,
            [(None, "Route")],
            lambda: forms.ChoiceField(choices=ROUTE_CHOICES, required=False),
            forms.Select(choices=ROUTE_CHOICES),
            corner="Add-on",
            label="How each add-on's cancellation is worked",
        ),
        "addon_tiers": TableField(
            AddOn.Product.choices,
            [(None, "Tiers")],
            lambda: LinesField(required=False),
            None,
            widget=ListCellsTableWidget(
                AddOn.Product.choices, [(None, "Tiers")], LinesTextarea(attrs={"rows": 3, "cols": 30}), "Add-on"
            ),
            label="Tiers or packages each add-on comes in",
            help_text="One a line, lowest first. A8, A9, A11: an add-on change moves only between these; an add-on "
            "with none cannot be changed.",
        ),
        "license_minimums": TableField(
            License.Product.choices,
            [(None, "Must remain")],
            lambda: forms.IntegerField(min_value=0, max_value=1_000_000, required=False),
            forms.NumberInput(attrs={"min": 0, "step": 1}),
            corner="License",
            label="Licenses that must remain",
        ),
        "sla_targets": TableField(
            [("default", "Every kind (default)"), *Kind.choices],
            SLA_COLUMNS,
            lambda: forms.FloatField(required=False),
            forms.NumberInput(attrs={"min": 0, "step": "any"}),
            corner="Kind of request",
            label="Service-level targets",
            help_text="Business hours of the intake calendar; an empty row uses the default row, and an empty "
            "default 4 h to the first response and 16 h to resolution.",
        ),
    }
    # Offers per exit-survey reason (S2, U9): reasons as rows, offers as columns, every reason written (a reason
    # left out leads to every offer).
    fields["offers_by_reason"] = GridField(
        ExitReason.choices,
        list(RETENTION_OFFERS.items()),
        corner="Exit-survey reason",
        every_row=True,
        missing_row=list(RETENTION_OFFERS),
        label="Offers each exit-survey reason leads to",
    )
    return fields


FRIENDLY = _friendly_fields()
EDIT = "{}__edit"  # the widget's form field name beside the JSON field's own


class PolicyForm(forms.ModelForm):
    """The policy as widgets; each JSON field also stays editable as JSON under "Advanced" (see
    tickets/desk/policy_widgets.py for which wins). The model's validators and clean() check whatever is saved."""

    intake_time_zone = forms.ChoiceField(choices=_time_zones, label="Intake time zone")

    class Meta:
        model = Policy
        fields = [f.name for f in Policy._meta.fields if f.editable and not f.primary_key]
        widgets = {
            "intake_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "intake_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in FRIENDLY:
            key = EDIT.format(name)
            if key not in self.fields:
                continue
            self.fields[key].help_text = self.fields[key].help_text or getattr(
                Policy._meta.get_field(name), "help_text", ""
            )
            stored = self.initial.get(name, getattr(self.instance, name, None))
            self.initial[key] = stored if not isinstance(stored, str) else None
        zone = self.fields.get("intake_time_zone")
        current = self.initial.get("intake_time_zone") or getattr(self.instance, "intake_time_zone", "")
        if zone is not None and isinstance(current, str) and current not in _zone_names():
            zone.choices = [*zone.choices, (current, f"{current} (not a known time zone)")]

    def clean(self):
        cleaned = super().clean()
        for name in FRIENDLY:
            key = EDIT.format(name)
            if key not in self.fields or self._json_edited(name) or key not in self.changed_data:
                continue  # the JSON was edited (it wins), or the widget was left as it was
            if key not in cleaned:
                continue  # the widget's own error is already on it
            value = cleaned[key]
            stored = self.initial.get(name)
            rows = getattr(self.fields[key], "row_keys", None) or [
                row for row, _ in getattr(self.fields[key], "rows", [])
            ]
            if isinstance(value, dict) and isinstance(stored, dict):
                # Keys the widget has no row for (set under Advanced, or of a kind added later) are kept.
                value = {**{k: v for k, v in stored.items() if k not in rows}, **value}
            try:
                for validator in Policy._meta.get_field(name).validators:
                    validator(value)  # the model's own validators, empty values included
            except ValidationError as error:
                self.add_error(key, error)
                continue
            cleaned[name] = value
        return cleaned

    def _json_edited(self, name: str) -> bool:
        """Whether the JSON field itself was changed, judged against the stored value (not Django's hidden initial,
        which a form posted without it would count as a change)."""
        if name not in self.fields:
            return False
        if name not in self.cleaned_data:
            return True  # refused JSON: its error stands
        before = self.initial.get(name)
        return json.dumps(before, sort_keys=True, default=str) != json.dumps(
            self.cleaned_data[name], sort_keys=True, default=str
        )


for _name, _field in FRIENDLY.items():
    PolicyForm.base_fields[EDIT.format(_name)] = _field
    PolicyForm.declared_fields[EDIT.format(_name)] = _field


def _e(name: str) -> str:
    return EDIT.format(name)


@admin.register(Policy)
class PolicyAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    """Every field of SPEC §3, as widgets, grouped by what they decide; the JSON itself under "Advanced"."""

    form = PolicyForm
    list_display = ["name", "preset", "route", "verification_method", "retention_days", "reactivation"]
    list_filter = ["route", "verification_method", "reactivation", "port_out_balance_rule"]
    search_fields = ["name", "preset", "source"]
    inlines = [PlanInline]
    formfield_overrides = {models.JSONField: {"form_class": PolicyJSONField}}

    def get_fieldsets(self, request, obj=None):
        # A JSON field with no widget (the extra closed dates: a short list) is edited as JSON where it belongs.
        json_fields = [
            f.name for f in Policy._meta.get_fields() if isinstance(f, models.JSONField) and f.name != "closed_dates"
        ]
        offers = [_e("offers_by_reason")]
        return (
            (None, {"fields": ("preset", "name", "source")}),
            ("Who may ask for what", {"fields": (_e("request_roles"),)}),
            (
                "Channels and intake hours",
                {
                    "fields": (
                        _e("intake_channels"),
                        "intake_hours_enforced",
                        "intake_time_zone",
                        _e("intake_weekdays"),
                        ("intake_start", "intake_end"),
                        ("holiday_country", "holiday_subdivision"),
                        "closed_dates",
                    )
                },
            ),
            ("Verification", {"fields": ("verification_method", "confirmation_word", "verification_fallback")}),
            ("What the customer confirms and gives", {"fields": (_e("acknowledgements"), _e("required_info"))}),
            (
                "Exit survey and retention offers",
                {"fields": ("exit_survey_required", "offer_downgrade", "offer_meeting", *offers)},
            ),
            ("Routes and add-ons", {"fields": ("route", _e("kind_routes"), _e("addon_routes"), _e("addon_tiers"))}),
            (
                "Completion, retention and reactivation",
                {
                    "fields": (
                        "credit_at_cancellation",
                        "erase_users_at_completion",
                        "purge_scheduled",
                        "retention_days",
                        "reactivation",
                        "external_data_untouched",
                    )
                },
            ),
            (
                "Port-outs",
                {
                    "fields": (
                        "port_out_balance_rule",
                        "port_out_deadline_hours",
                        "require_port_outs_complete",
                        "port_out_lock_offered",
                        "port_out_alerts_account_manager",
                    ),
                    "description": "Warning: “deny” may be unlawful in the US. " + PORT_OUT_DENY_WARNING,
                },
            ),
            ("Licenses", {"fields": (_e("license_minimums"),)}),
            (
                "Contract",
                {"fields": ("minimum_term_months", "cancellation_fee", "refuse_cancellation_days_before_term_end")},
            ),
            (
                "Money and holds",
                {
                    "fields": (
                        "refunds",
                        "holds_offered",
                        "holds_refused_with_alternatives",
                        "downgrade_proration",
                        "downgrade_reversible",
                        "billing_cutoff_days",
                        "currency",
                    )
                },
            ),
            ("Contact routes shown to customers", {"fields": ("support_email", "support_phone", "support_hours")}),
            ("Service levels and approval", {"fields": (_e("sla_targets"), "verifier_may_approve")}),
            ("What customers read of staff", {"fields": ("staff_first_names",)}),
            (
                "Advanced: the settings above as JSON",
                {
                    "fields": tuple(json_fields),
                    "classes": ("collapse",),
                    "description": "The raw data behind the widgets above. A change here wins over the widgets; "
                    "the same checks apply.",
                },
            ),
        )

    def get_readonly_fields(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return []
        # View only (agents): every widget's field reads as text through the display methods below.
        return [name for _, options in self.get_fieldsets(request, obj) for name in flatten(options["fields"])]

    def save_model(self, request, obj: Policy, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.port_out_balance_rule == Policy.PortOutBalanceRule.DENY:
            messages.warning(request, PORT_OUT_DENY_WARNING)

    # -- read-only views of the widgets (staff who may view a policy but not change it) ----------------------------
    @admin.display(description="Who may ask for each kind")
    def request_roles__edit(self, obj: Policy) -> str:
        roles = obj.request_roles if isinstance(obj.request_roles, dict) else {}
        return _lines(
            (label, ", ".join(ROLE_LABELS.get(r, r) for r in roles.get(kind, [])) or "nobody")
            for kind, label in Kind.choices
        )

    @admin.display(description="Channels that take account cancellations")
    def intake_channels__edit(self, obj: Policy) -> str:
        return ", ".join(dict(Channel.choices).get(c, c) for c in _list(obj.intake_channels)) or "—"

    @admin.display(description="Intake days")
    def intake_weekdays__edit(self, obj: Policy) -> str:
        return ", ".join(dict(WEEKDAYS).get(d, str(d)) for d in _list(obj.intake_weekdays)) or "—"

    @admin.display(description="What the customer ticks before cancelling")
    def acknowledgements__edit(self, obj: Policy) -> str:
        return _items(ACKNOWLEDGEMENT_TEXTS.get(k, k) for k in _list(obj.acknowledgements))

    @admin.display(description="What every cancellation request must carry")
    def required_info__edit(self, obj: Policy) -> str:
        return _items(REQUIRED_INFO_FIELDS.get(k, k) for k in _list(obj.required_info))

    @admin.display(description="How the other kinds are worked")
    def kind_routes__edit(self, obj: Policy) -> str:
        routes = dict(Route.choices)
        stored = obj.kind_routes if isinstance(obj.kind_routes, dict) else {}
        return _lines(
            (label, routes.get(stored.get(kind), "Support case (default)")) for kind, label in Kind.choices[1:]
        )

    @admin.display(description="How each add-on's cancellation is worked")
    def addon_routes__edit(self, obj: Policy) -> str:
        routes = dict(Route.choices)
        stored = obj.addon_routes if isinstance(obj.addon_routes, dict) else {}
        return _lines((label, routes.get(stored.get(key), "Support case (default)")) for key, label in ADDON_ROUTE_KEYS)

    @admin.display(description="Tiers or packages each add-on comes in")
    def addon_tiers__edit(self, obj: Policy) -> str:
        return _lines((label, ", ".join(obj.tiers_for(key)) or "no tiers") for key, label in AddOn.Product.choices)

    @admin.display(description="Licenses that must remain")
    def license_minimums__edit(self, obj: Policy) -> str:
        stored = obj.license_minimums if isinstance(obj.license_minimums, dict) else {}
        return _lines((label, str(stored.get(key, 0))) for key, label in License.Product.choices)

    @admin.display(description="Service-level targets (business hours)")
    def sla_targets__edit(self, obj: Policy) -> str:
        return _lines(
            (label, "first response {first_response:g} h, resolution {resolution:g} h".format(**sla.targets(obj, kind)))
            for kind, label in Kind.choices
        )

    @admin.display(description="Offers each exit-survey reason leads to")
    def offers_by_reason__edit(self, obj: Policy) -> str:
        stored = getattr(obj, "offers_by_reason", {})
        return (
            _lines((reason, ", ".join(offers) or "none") for reason, offers in _rows(stored).items()) or "Every offer"
        )


def flatten(fields) -> list[str]:
    names: list[str] = []
    for item in fields:
        names.extend(item if isinstance(item, (list, tuple)) else [item])
    return names


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _rows(value) -> dict:
    return value if isinstance(value, dict) else {}


def _items(texts) -> str:
    texts = list(texts)
    return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((t,) for t in texts))) if texts else "—"


def _lines(pairs) -> str:
    return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", pairs))


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
