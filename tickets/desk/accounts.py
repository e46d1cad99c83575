import copy

from axes.admin import AccessAttemptAdmin
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, ReadOnlyPasswordHashWidget, UserChangeForm
from django.core.exceptions import ValidationError
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from accounts.models import Account, AccountEvent, Membership, Tombstone, User
from billing.models import AddOn, CardOnFile, Invoice, License, Subscription
from config.admin_mixins import ValidInitialIdsMixin
from numbers.admin import PhoneNumberForm, PhoneNumberFormSet
from numbers.models import PhoneNumber
from tickets import access
from tickets.desk.billing import LicenseForm


class EmailUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


PASSWORD_HELP_FOR_VIEWERS = (
    "Raw passwords are not stored. The person resets their own password from the sign-in page "
    "(“Forgotten your password?”); an administrator can set one here."
)


class PasswordSummaryWidget(ReadOnlyPasswordHashWidget):
    """The password's summary without the "Reset password" button: for staff who may view a user but not change
    one (agents and managers), whom the button would only lead to a 403."""

    template_name = "accounts/password_summary.html"

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["help"] = PASSWORD_HELP_FOR_VIEWERS
        return context


class MembershipOfUserInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["account"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin for a user who signs in with the email (no username, one full-name field)."""

    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "full_name", "memberships__account__account_id", "memberships__account__name"]
    inlines = [MembershipOfUserInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("full_name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "usable_password", "password1", "password2")}),
    )
    readonly_fields = ["last_login", "date_joined"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        """Only who may change the user (and so reach the admin's password page) sees "Reset password"."""
        form = super().get_form(request, obj, change=change, **kwargs)
        password = form.base_fields.get("password")
        if password is not None and not self.has_change_permission(request, obj):
            password = form.base_fields["password"] = copy.deepcopy(password)  # the field is shared by every form
            password.widget = PasswordSummaryWidget()
        return form

    def get_search_results(self, request, queryset, search_term):
        """The ticket form's assignee search offers whom a ticket may be given to (tickets.access.assignable_staff),
        as the queues do."""
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if request.GET.get("model_name") == "ticket" and request.GET.get("field_name") == "assignee":
            queryset = queryset.filter(pk__in=access.assignable_staff().values("pk"))
        return queryset, may_have_duplicates


class MembershipFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        """An account has exactly one owner; the database refuses a second, the formset says so first."""
        super().clean()
        owners = [
            form
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("role") == Membership.Role.OWNER
        ]
        if len(owners) > 1:
            raise ValidationError("This account already has an owner; an account has exactly one.")


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class SubscriptionInline(admin.StackedInline):
    model = Subscription
    extra = 0
    max_num = 1
    fields = ["seats", "next_billing_date", "status", "ended_at"]


class CardOnFileInline(admin.TabularInline):
    model = CardOnFile
    extra = 0
    max_num = 1


class PhoneNumberInline(admin.TabularInline):
    model = PhoneNumber
    form = PhoneNumberForm
    formset = PhoneNumberFormSet
    extra = 0
    fields = ["number", "status", "inbound_recording", "created_at"]
    readonly_fields = ["created_at"]


class LicenseInline(admin.TabularInline):
    model = License
    form = LicenseForm
    extra = 0


class AddOnInline(admin.TabularInline):
    model = AddOn
    extra = 0
    fields = ["product", "name", "initial_ucaas", "number", "status", "cancelled_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "number":
            account_pk = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            numbers = PhoneNumber.objects.filter(account_id=account_pk) if account_pk else PhoneNumber.objects.none()
            kwargs["queryset"] = numbers
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class InvoiceInline(admin.TabularInline):
    model = Invoice
    extra = 0
    fields = ["amount", "due_date", "status", "created_at"]
    readonly_fields = ["created_at"]


class AccountForm(forms.ModelForm):
    new_port_out_pin = forms.CharField(
        label="New port-out PIN",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored hashed and never shown. Leave empty to keep the current PIN.",
    )

    class Meta:
        model = Account
        # Not the status: only its machine moves it (accounts.lifecycle), through the tickets that complete.
        fields = ["name", "plan", "account_manager", "purge_after", "legal_hold", "legal_hold_reason"]

    def save(self, commit: bool = True) -> Account:
        if self.cleaned_data.get("new_port_out_pin"):
            self.instance.set_port_out_pin(self.cleaned_data["new_port_out_pin"])
        return super().save(commit=commit)


class AccountEventInline(admin.TabularInline):
    """The account's moves (cancelled, reactivated, purged) and security events (verification lockouts, the owner's
    port-out lock), read-only: they are a log."""

    model = AccountEvent
    extra = 0
    fields = ["at", "kind", "actor", "channel", "note"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "account events"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    form = AccountForm
    list_display = ["account_id", "name", "plan", "status", "legal_hold", "account_manager", "created_at"]
    list_filter = ["status", "plan", "legal_hold"]
    list_select_related = ["plan", "account_manager"]
    search_fields = ["account_id", "name", "memberships__user__email", "numbers__number"]
    autocomplete_fields = ["plan", "account_manager"]
    readonly_fields = [
        "account_id",
        "status",
        "has_port_out_pin",
        "port_out_locked",
        "created_at",
        "cancelled_at",
        "reactivated_at",
        "purged_at",
    ]
    fieldsets = (
        (None, {"fields": ("account_id", "name", "plan", "status", "account_manager")}),
        ("Port-out", {"fields": ("has_port_out_pin", "new_port_out_pin", "port_out_locked")}),
        ("Lifecycle", {"fields": ("created_at", "cancelled_at", "purge_after", "reactivated_at", "purged_at")}),
        ("Legal hold (blocks the purge)", {"fields": ("legal_hold", "legal_hold_reason")}),
    )
    inlines = [
        MembershipInline,
        SubscriptionInline,
        CardOnFileInline,
        PhoneNumberInline,
        LicenseInline,
        AddOnInline,
        InvoiceInline,
        AccountEventInline,
    ]

    def get_queryset(self, request):
        return access.accounts_for(request.user) & super().get_queryset(request)

    @admin.display(boolean=True, description="Port-out PIN set")
    def has_port_out_pin(self, obj: Account) -> bool:
        return bool(obj.port_out_pin)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not access.is_manager(request.user):  # a legal hold is a support manager's decision (issue 7)
            fields += ["legal_hold", "legal_hold_reason"]
        if obj is not None and obj.status in (Account.Status.PURGING, Account.Status.PURGED):
            fields += ["purge_after"]  # the purge owns it now (tickets/purge.py)
        return fields


@admin.register(Membership)
class MembershipAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    list_display = ["user", "account", "role", "created_at"]
    list_filter = ["role", "account__plan"]
    list_select_related = ["user", "account"]
    search_fields = ["user__email", "user__full_name", "account__account_id", "account__name"]
    autocomplete_fields = ["user", "account"]


@admin.register(Tombstone)
class TombstoneAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    """What is left of a purged account; written by the purge only."""

    list_display = ["account_code", "plan_name", "cancelled_at", "purge_after", "started_at", "finished_at"]
    list_filter = ["plan_name"]
    search_fields = ["account_code"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# DRF's token admin searches `user__username`, which an email-login user does not have (a FieldError, a 500, on any
# search): the same admin, searching by email. rest_framework.authtoken comes before this app in INSTALLED_APPS.
admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ApiTokenAdmin(TokenAdmin):
    search_fields = ["user__email"]
    search_help_text = "The user's email"


# django-axes' "Clean up expired attempts" list action reads `request.axes_attempt_time`, which axes sets only on a
# sign-in request: run from its list it was an AttributeError, a 500 (issue 14's crawler). The same admin, with the
# request given axes' attributes first. axes comes before this app in INSTALLED_APPS.
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class SignInLockoutAdmin(AccessAttemptAdmin):
    actions = ["cleanup_expired_attempts"]

    @admin.action(description="Clean up expired attempts")
    def cleanup_expired_attempts(self, request, queryset):
        AxesProxyHandler.update_request(request)
        return super().cleanup_expired_attempts(request, queryset)
