"""The agents' desk in Django admin. Transitions go through tickets.services only, permission checked on POST."""

import datetime as dt
import functools
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import get_script_prefix, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.exceptions import Refusal
from accounts.models import Account, User
from billing import services as billing_services
from billing.models import AddOn, License, Plan
from config.admin_mixins import ValidInitialIdsMixin
from config.ids import as_id
from numbers.models import PhoneNumber
from tickets import access, selectors, services, sla, verification_links
from tickets.attachments import add_attachment, attachment_response, check_quota, clean_attachment
from tickets.desk import wording as admin_desk
from tickets.desk.changelist import AssigneeListFilter, CappedCountPaginator, RouteListFilter, fixed_choices_filter
from tickets.models import (
    OPEN_STATES,
    PORT_OUT_REJECTION_CODES,
    TRANSITIONS,
    Attachment,
    Channel,
    Comment,
    EmailNotice,
    ExitReason,
    Kind,
    LogChannel,
    RetentionOutcome,
    State,
    Ticket,
    TransitionLog,
)
from tickets.rules.objects import plans_to_move_to
from tickets.rules.table import blockers
from tickets.sla import SlaStatusListFilter
from tickets.templatetags.portal_format import money

# The desk's own names (SPEC §6): agents and managers work in "Exitdesk", not "Django administration".
admin.site.site_header = "Exitdesk"
admin.site.site_title = "Exitdesk agent desk"
admin.site.index_title = "Agent desk"
# The app list sits on the home page; beside the ticket list it would push Priority and Created past 1,280 px.
admin.site.enable_nav_sidebar = False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class TransitionLogInline(ReadOnlyInline):
    model = TransitionLog
    fields = ["at", "transition", "source", "target", "actor_label", "channel", "note"]
    readonly_fields = fields
    ordering = ["at", "pk"]


class CommentInline(admin.StackedInline):
    """Adds a comment; the comments already made are read in the page's timeline (tickets.desk.wording)."""

    model = Comment
    extra = 1
    fields = ["body", "public"]
    verbose_name = "new comment"
    verbose_name_plural = "Add a comment"

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # comments are a record: added, never edited

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AttachmentAdminForm(forms.ModelForm):
    """A file staff attach: checked here to show the error on the form; stored by add_attachment (save_formset),
    which checks again under the case's lock."""

    class Meta:
        model = Attachment
        fields = ["file", "public"]

    user: User | None = None  # who attaches, set per request (AttachmentInline.get_formset)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if hasattr(upload, "content_type"):  # a new file
            clean_attachment(upload)
            if self.instance.ticket_id:
                try:
                    check_quota(self.instance.ticket_id, self.user, upload.size)
                except Refusal as refusal:
                    raise forms.ValidationError(refusal.detail) from refusal
        return upload


class AttachmentInline(admin.TabularInline):
    """Staff attach files under the portal's checks; files are served through `attachment_view`, never /media/."""

    model = Attachment
    form = AttachmentAdminForm
    extra = 0
    fields = ["download", "file", "public", "content_type", "size", "uploaded_by", "created_at"]
    readonly_fields = ["download", "content_type", "size", "uploaded_by", "created_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # an attachment is evidence: added, never replaced

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # The person's hourly limit counts the staff member attaching (tickets.attachments.check_quota); the form
        # class is built afresh for each request (modelform_factory), so this is this request's alone.
        formset.form.user = request.user
        return formset

    @admin.display(description="File")
    def download(self, obj: Attachment) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:tickets_ticket_attachment", args=[obj.ticket_id, obj.pk])
        return format_html('<a href="{}">{}</a> ({} bytes)', url, obj.name, obj.size)


RECEIVED_AT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def _account_widget() -> forms.Widget:
    """The admin's own autocomplete over accounts (AccountAdmin's search: account ID, name, member email, number)."""
    return AutocompleteSelect(Ticket._meta.get_field("account"), admin.site)


class ChooseAccountForm(forms.Form):
    """Step one of recording a request: whose account (everything after is scoped to it)."""

    # Every account: a purged one is refused by its own rule (reactivation_closed), not by an empty search.
    account = forms.ModelChoiceField(
        queryset=Account.objects.all(),
        widget=_account_widget(),
        help_text="Search by account ID, name, a member's email or a phone number.",
    )


class RecordRequestForm(forms.Form):
    """A request an agent takes by phone or email on a customer's behalf (K6, K11, A2), scoped to one account: its
    active members, its numbers, licenses and add-ons, the lower plans of its product line. A cancelled account's
    former members ask for its reactivation only (SPEC §4, "Account lifecycle"); an account nobody may ask for
    (purged) answers its rule, as the service would (SPEC §4: the account's rules before the requester)."""

    account = forms.ModelChoiceField(queryset=Account.objects.all(), widget=forms.HiddenInput)
    requester = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        help_text="The member of the account who asks (active members; a cancelled account's former members).",
    )
    kind = forms.ChoiceField(choices=Kind.choices)
    channel = forms.ChoiceField(choices=[(Channel.PHONE, "Phone"), (Channel.EMAIL, "Email")])
    received_at = forms.DateTimeField(
        required=False,
        input_formats=RECEIVED_AT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label="Received at",
        help_text="When the call or email came in (your time zone); empty: now. Intake hours are those of that moment.",
    )
    full_name = forms.CharField(required=False)
    company = forms.CharField(required=False, label="Company name or account ID")
    contact = forms.CharField(required=False, label="Contact (email or phone)")
    reason = forms.ChoiceField(choices=[("", "—")] + list(ExitReason.choices), required=False, label="Why they leave")
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    card_last4 = forms.CharField(
        required=False, max_length=4, label="Card's last four digits", help_text="Where the policy verifies the card."
    )
    license = forms.ModelChoiceField(queryset=License.objects.none(), required=False, help_text="License cancellation.")
    quantity = forms.IntegerField(required=False, min_value=1, help_text="How many licenses to cancel.")
    numbers = forms.ModelMultipleChoiceField(
        queryset=PhoneNumber.objects.none(), required=False, help_text="Number cancellation or port-out."
    )
    addon = forms.ModelChoiceField(queryset=AddOn.objects.none(), required=False, label="Add-on")
    tier = forms.CharField(
        required=False,
        max_length=40,
        label="New tier or package",
        help_text="Add-on change: one of the tiers the account's policy lists for the add-on (A8, A9, A11).",
    )
    plan = forms.ModelChoiceField(
        queryset=Plan.objects.none(),
        required=False,
        label="Target plan",
        help_text="Downgrade: a lower plan, or back up to the plan a downgrade left.",
    )
    gaining_carrier = forms.CharField(required=False, help_text="Port-out.")
    authorized_name = forms.CharField(required=False, help_text="Port-out: the person authorized on the account.")
    pin = forms.CharField(required=False, widget=forms.PasswordInput, label="Port-out PIN")

    def __init__(self, *args, account: Account | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account_refusals: list[str] = []
        if self.is_bound:
            chosen = as_id(self.data.get("account", ""))
            accounts = self.fields["account"].queryset.select_related("plan")
            account = accounts.filter(pk=chosen).first() if chosen else None
        self.account = account
        if account is None:
            return
        self.fields["account"].initial = account.pk
        requesters = access.requester_choices(account)
        if account.status != Account.Status.ACTIVE:
            # Former members ask for one thing: the account back.
            self.fields["kind"].choices = [(Kind.REACTIVATION, Kind.REACTIVATION.label)]
            self.fields["kind"].initial = Kind.REACTIVATION
            self.fields["requester"].help_text = "A former member of the cancelled account asking to have it back."
            # Shown before the form: what the account's own rules say of its reactivation now.
            self.account_refusals = [refusal.detail for refusal in blockers(account, Kind.REACTIVATION)]
        self.fields["requester"].queryset = requesters.order_by("full_name", "email")
        self.fields["requester"].label_from_instance = lambda user: (
            f"{user.full_name} <{user.email}>" if user.full_name else user.email
        )
        self.fields["license"].queryset = License.objects.filter(account=account)
        self.fields["numbers"].queryset = PhoneNumber.objects.filter(
            account=account, status=PhoneNumber.Status.ACTIVE
        ).order_by("number")
        self.fields["addon"].queryset = AddOn.objects.filter(account=account, status=AddOn.Status.ACTIVE)
        self.fields["plan"].queryset = plans_to_move_to(account)  # K2, and K1's way back up where the policy says

    def clean(self):
        data = super().clean()
        account, kind = data.get("account"), data.get("kind")
        if account is not None and kind and data.get("requester") is None and "requester" not in self.errors:
            # Nobody to name: the account's own rule, if one refuses, says why (as the API does).
            refused = blockers(account, kind)
            if refused:
                raise forms.ValidationError(refused[0].detail, code=str(refused[0].code))
            self.add_error("requester", "Choose the member who asks.")
        return data

    def request(self) -> services.Request:
        data = self.cleaned_data
        return services.Request(
            full_name=data["full_name"],
            company=data["company"],
            contact=data["contact"],
            reason=data["reason"],
            comment=data["comment"],
            acknowledgements=list(data["account"].plan.policy.acknowledgements),  # read to the customer
            card_last4=data["card_last4"] or None,
            license=data["license"],
            quantity=data["quantity"],
            numbers=list(data["numbers"]),
            addon=data["addon"],
            tier=data["tier"],
            plan=data["plan"],
            gaining_carrier=data["gaining_carrier"],
            authorized_name=data["authorized_name"],
            pin=data["pin"] or None,
        )


class SlaFilter(admin.SimpleListFilter):
    title = "open / closed"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", "Open"), ("no", "Closed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(state__in=OPEN_STATES)
        if self.value() == "no":
            return queryset.exclude(state__in=OPEN_STATES)
        return queryset


def desk_plans(request: HttpRequest) -> list[Plan]:
    """Every plan with its policy's calendar and targets, read once a request: the policy filter's choices and the
    rows' SLA both come from it."""
    if not hasattr(request, "_desk_plans"):
        request._desk_plans = selectors.plans_with_policies()
    return request._desk_plans


class PolicyListFilter(admin.SimpleListFilter):
    """The policies that plans use, from desk_plans: the same read as the rows' SLA, not a query of its own."""

    title = "policy"
    parameter_name = "policy"

    def lookups(self, request, model_admin):
        policies = {plan.policy.pk: plan.policy.name for plan in desk_plans(request)}
        return sorted(policies.items(), key=lambda item: item[1])

    def queryset(self, request, queryset):
        policy = as_id(self.value()) if self.value() else None
        if self.value() and policy is None:
            return queryset.none()
        return queryset.filter(account__plan__policy_id=policy) if policy else queryset


class TicketChangeList(ChangeList):
    """The list shows the account and the assignee: it joins those only, not the plan and its policy (a policy is a
    dozen JSON fields decoded for every row)."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        # The one-line summary names the license, add-on or target plan: joined here, never read per row.
        return queryset.select_related(None).select_related("account", "assignee", "license", "addon", "target_plan")

    def get_results(self, request):
        """Each row's SLA, from the plans and their policies read once (a handful), never a query per row."""
        super().get_results(request)
        if not self.result_list:
            return
        plans = {plan.pk: plan for plan in desk_plans(request)}
        now = timezone.now()
        for ticket in self.result_list:
            plan = plans.get(ticket.account.plan_id)
            ticket.desk_sla = sla.ticket_sla(ticket, plan.policy, now) if plan is not None else None


@functools.lru_cache(maxsize=16)
def _account_change_url(prefix: str) -> tuple[str, str]:
    """The account change page's URL around its id, reversed once (per script prefix) rather than per row."""
    marker = "2147483647"
    before, _, after = reverse("admin:accounts_account_change", args=[int(marker)]).partition(marker)
    return before, after


def _short(moment: dt.datetime) -> str:
    """A due time in the viewer's zone, short enough for a list column: "24 Nov 14:00"."""
    return f"{timezone.localtime(moment):%d %b %H:%M}"


def _account_url() -> tuple[str, str]:
    return _account_change_url(get_script_prefix())


@admin.register(Ticket)
class TicketAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "request_summary",
        "state",
        "sla_status",
        "sla_due",
        "account_link",
        "assignee_name",
        "priority",
        "created",
    ]
    list_filter = [
        "state",
        "kind",
        SlaFilter,
        "channel",
        RouteListFilter,  # bounded lookups (tickets.desk.changelist): no DISTINCT over every ticket
        AssigneeListFilter,
        PolicyListFilter,
        "priority",
        SlaStatusListFilter,  # manager queues: SLA in business hours (tickets.sla)
    ]
    paginator = CappedCountPaginator
    search_fields = [
        "=id",
        "account__account_id",
        "account__name",
        "requester__email",
        "contact",
        "numbers__number",
        "account__numbers__number",
    ]
    list_select_related = ["account", "assignee"]
    list_per_page = 50
    show_full_result_count = False  # a COUNT(*) over every ticket on each page is what slows big desks
    autocomplete_fields = ["assignee"]
    inlines = [CommentInline, AttachmentInline]  # the log, the comments and the emails: the page's timeline
    change_form_template = "admin/tickets/ticket/change_form.html"
    # The page's fields follow the ticket's kind (tickets.desk.wording.KIND_FIELDS); staff write only these two here.
    WRITABLE = ("assignee", "priority")
    fieldsets = [(None, {"fields": ["assignee", "priority", "channel_text", "route_text"]})]  # see get_fieldsets

    actions = ["claim_selected", "unassign_selected"]

    # -- who sees and does what: tickets.access -----------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        tickets = access.visible_tickets(request.user) & super().get_queryset(request)
        return tickets.select_related("account__plan__policy", "assignee")

    def has_view_permission(self, request, obj=None) -> bool:
        return access.is_agent(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return access.may_change_ticket(request.user, obj)

    def has_add_permission(self, request) -> bool:
        return access.may_submit_for_others(request.user)

    def get_fieldsets(self, request, obj=None):
        """Only what this kind of request carries, each in words (tickets.desk.wording)."""
        sets = [(None, {"fields": ["assignee", "priority", "channel_text", "route_text"]})]
        if obj is None:
            return sets
        if obj.full_name or obj.company or obj.contact:
            sets.append(("Who asked", {"fields": ["full_name", "company", "contact"]}))
        details = admin_desk.detail_fields(obj)
        if details:
            sets.append((f"The request: {obj.get_kind_display().lower()}", {"fields": details}))
        workflow = ["created_at", "first_response_at"]
        workflow += [name for name in ("verified_by", "approved_by") if getattr(obj, f"{name}_id")]
        if obj.state == State.REJECTED:
            workflow.append("rejection_text")
        if obj.closed_at:
            workflow.append("closed_at")
        sets.append(("Workflow", {"fields": workflow, "classes": ["collapse"] if obj.is_open else []}))
        return sets

    def get_readonly_fields(self, request, obj=None):
        writable = access.writable_ticket_fields(request.user, obj)
        shown = {name for _, options in self.get_fieldsets(request, obj) for name in options["fields"]}
        return sorted(name for name in shown if name not in self.WRITABLE or name not in writable)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """The assignee is one of tickets.access.assignable_staff, as in the queues (not any staff account)."""
        if db_field.name == "assignee":
            kwargs["queryset"] = access.assignable_staff()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "assignee" not in form.base_fields:
            return form
        user = request.user

        class AssigneeForm(form):
            def clean_assignee(self):
                assignee = self.cleaned_data.get("assignee")
                if obj is not None and assignee != obj.assignee and not access.may_assign(user, obj, assignee):
                    raise forms.ValidationError("Agents claim unassigned tickets; a support manager reassigns.")
                return assignee

        return AssigneeForm

    def save_model(self, request, obj: Ticket, form, change: bool) -> None:
        """The assignee changes through tickets.services.assign_ticket (checked and logged), never by a save."""
        if not (change and "assignee" in form.changed_data):
            return super().save_model(request, obj, form, change)
        assignee = obj.assignee
        obj.assignee_id = form.initial.get("assignee")
        super().save_model(request, obj, form, change)
        try:
            services.assign_ticket(ticket=obj, assignee=assignee, actor=request.user)
        except Refusal as refusal:
            self.message_user(request, f"{refusal.detail} [{refusal.code}]", messages.ERROR)

    @admin.action(description="Claim the selected tickets (assign them to me)")
    def claim_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._assign_each(request, queryset, request.user)

    @admin.action(description="Unassign the selected tickets (managers)")
    def unassign_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._assign_each(request, queryset, None)

    def _assign_each(self, request: HttpRequest, queryset: QuerySet, assignee) -> None:
        done, refused = 0, []
        for ticket in queryset.order_by("pk"):
            try:
                services.assign_ticket(ticket=ticket, assignee=assignee, actor=request.user)
            except Refusal:
                refused.append(f"#{ticket.pk}")
            else:
                done += 1
        if done:
            tickets = f"{done} ticket{'s' if done != 1 else ''}"
            self.message_user(request, f"{tickets} assigned to you." if assignee else f"{tickets} unassigned.")
        if refused:
            self.message_user(
                request,
                f"Not yours to assign: {', '.join(refused)} (agents claim unassigned tickets only).",
                messages.WARNING,
            )

    def get_changelist(self, request, **kwargs):
        return TicketChangeList

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Tickets", **(extra_context or {})})

    @admin.display(description="Account", ordering="account__account_id")
    def account_link(self, obj: Ticket) -> str:
        before, after = _account_url()
        return format_html(
            '<a href="{}{}{}" class="desk-account">{}</a><span class="desk-summary">{}</span>',
            before,
            obj.account_id,
            after,
            obj.account.name,
            obj.account.account_id,
        )

    @admin.display(description="Assignee", ordering="assignee__email")
    def assignee_name(self, obj: Ticket) -> str:
        if obj.assignee is None:
            return "—"
        return obj.assignee.full_name or obj.assignee.email.split("@")[0]

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Ticket) -> str:
        return format_html('<time datetime="{}">{}</time>', obj.created_at.isoformat(), _short(obj.created_at))

    @admin.display(description="Request")
    def request_summary(self, obj: Ticket) -> str:
        return format_html(
            '<span class="desk-kind">{}</span><span class="desk-summary">{}</span>',
            obj.get_kind_display(),
            admin_desk.summary(obj),
        )

    @admin.display(description="SLA")
    def sla_status(self, obj: Ticket) -> str:
        status = getattr(obj, "desk_sla", None)
        if status is None:
            return "—"
        return format_html('<span class="desk-sla desk-sla-{}">{}</span>', status.status, status.label)

    @admin.display(description="Due")
    def sla_due(self, obj: Ticket) -> str:
        status = getattr(obj, "desk_sla", None)
        if status is None or status.due is None or obj.closed_at:
            return "—"
        return format_html('<time datetime="{}">{}</time>', status.due.isoformat(), _short(status.due))

    @admin.display(description="Channel")
    def channel_text(self, obj: Ticket) -> str:
        return obj.get_channel_display()

    @admin.display(description="Route")
    def route_text(self, obj: Ticket) -> str:
        return admin_desk.route_text(obj.route)

    @admin.display(description="License")
    def license_text(self, obj: Ticket) -> str:
        if obj.license is None:
            return "—"
        line = obj.license
        return f"{line.get_product_display()}: {line.quantity} held, at least {line.minimum} must remain"

    @admin.display(description="Add-on")
    def addon_text(self, obj: Ticket) -> str:
        return str(obj.addon) if obj.addon else "—"

    @admin.display(description="Exit survey reason")
    def reason_text(self, obj: Ticket) -> str:
        return obj.get_reason_display() if obj.reason else "Not given"

    @admin.display(description="Acknowledged")
    def acknowledgement_list(self, obj: Ticket) -> str:
        keys = obj.acknowledgements if isinstance(obj.acknowledgements, list) else []
        if not keys:
            return "Nothing acknowledged"
        return format_html_join("", "<li>{}</li>", ((admin_desk.acknowledgement_text(k),) for k in keys))

    @admin.display(description="Verification checks")
    def check_list(self, obj: Ticket) -> str:
        checks = obj.checks if isinstance(obj.checks, dict) else {}
        if not checks:
            return "No check recorded yet"
        return format_html_join(
            "",
            '<li class="desk-check-{}">{}: {}</li>',
            (
                ("passed" if ok is True else "failed", admin_desk.check_text(key), "passed" if ok is True else "failed")
                for key, ok in checks.items()
            ),
        )

    @admin.display(description="Outstanding balance")
    def review_text(self, obj: Ticket) -> str:
        if obj.needs_manager_review:
            return "The account owes money: a support manager reviews this port-out before it is approved."
        return "Nothing owed that holds this port-out."

    @admin.display(description="Why it was rejected")
    def rejection_text(self, obj: Ticket) -> str:
        return admin_desk.rejection_text(obj) or "—"

    @admin.display(description="Coming bill")
    def billing_note(self, obj: Ticket) -> str:
        """K5: the next billing date and seats, and whether this request arrived too late to stop that bill."""
        bill = billing_services.coming_bill(obj.account, asked_at=obj.created_at) if obj.pk else None
        if bill is None:
            return "No upcoming bill."
        seats = f"{bill.seats} seat{'s' if bill.seats != 1 else ''}"
        text = f"Next bill on {billing_services.day_text(bill.date)}: {seats}, {money(bill.amount, bill.currency)}. "
        if obj.state not in OPEN_STATES:
            return text
        return text + f"This request arrived on {billing_services.day_text(bill.asked_on)}. {bill.advice}"

    @admin.display(description="Numbers")
    def number_list(self, obj: Ticket) -> str:
        return ", ".join(f"{n.number} ({n.get_status_display()})" for n in obj.numbers.all()) or "—"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # tickets are records; they are rejected or withdrawn, never deleted

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:ticket_id>/attachments/<int:attachment_id>/",
                self.admin_site.admin_view(self.attachment_view),
                name="{}_{}_attachment".format(*info),
            ),
            path(
                "<int:ticket_id>/transition/<str:name>/",
                self.admin_site.admin_view(self.transition_view),
                name="{}_{}_transition".format(*info),
            ),
        ] + super().get_urls()

    # -- the agent's actions ----------------------------------------------------------------------------------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        ticket = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if ticket is not None:
            available = services.available_transitions(ticket, request.user)
            extra_context["available_transitions"] = available
            extra_context["panel"] = admin_desk.panel(ticket, request.user, available)
            extra_context["desk_header"] = admin_desk.header(ticket)
            extra_context["timeline"] = admin_desk.timeline(ticket, request.user)
            extra_context["ticket"] = ticket
            extra_context["title"] = f"Ticket #{ticket.pk}"
            extra_context["subtitle"] = f"{ticket.get_kind_display()} — {ticket.account.name}"
            extra_context["show_save_and_add_another"] = False
            extra_context["rejection_codes"] = PORT_OUT_REJECTION_CODES if ticket.kind == Kind.PORT_OUT else {}
            extra_context["needs_card"] = (
                ticket.kind == Kind.ACCOUNT_CANCELLATION
                and ticket.account.plan.policy.verification_method == "card_last4"
                and not ticket.checks.get("card_last4")
            )
            extra_context["is_port_out"] = ticket.kind == Kind.PORT_OUT
            extra_context["confirmation_link_offered"] = verification_links.fallback_needed(ticket)  # K7
        return super().change_view(request, object_id, form_url, extra_context)

    def transition_view(self, request: HttpRequest, ticket_id: int, name: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        ticket = get_object_or_404(self.get_queryset(request), pk=ticket_id)
        evidence = {
            "card_last4": request.POST.get("card_last4", "").strip() or None,
            "reason": request.POST.get("reason", ""),
            "code": request.POST.get("code", ""),
        }
        foc = request.POST.get("foc_date", "").strip()
        try:
            if name == "verify" and request.POST.get("confirmation_link"):  # K7's fallback: no card on file
                verification_links.send_confirmation_link(ticket=ticket, actor=request.user, channel=LogChannel.ADMIN)
                self.message_user(request, f"A confirmation link was emailed to the owner of ticket #{ticket.pk}.")
                return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[ticket.pk]))
            if foc:
                evidence["foc_date"] = dt.date.fromisoformat(foc)
            services.transition_ticket(
                ticket=ticket,
                name=name,
                actor=request.user,
                channel=LogChannel.ADMIN,
                note=request.POST.get("note", "").strip(),
                **evidence,
            )
        except ValueError:
            self.message_user(request, "The FOC date must be a date (YYYY-MM-DD).", messages.ERROR)
        except Refusal as refusal:
            self.message_user(request, f"{refusal.detail} [{refusal.code}]", messages.ERROR)
        else:
            ticket.refresh_from_db()
            self.message_user(request, f"Ticket #{ticket.pk} is now {ticket.get_state_display().lower()}.")
        return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[ticket.pk]))

    def attachment_view(self, request: HttpRequest, ticket_id: int, attachment_id: int) -> FileResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        ticket = get_object_or_404(self.get_queryset(request), pk=ticket_id)
        return attachment_response(get_object_or_404(access.attachments_for(request.user, ticket), pk=attachment_id))

    def add_view(self, request, form_url="", extra_context=None):
        """Record a request: choose the account (step one), then the request, scoped to that account."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        chooser = None
        if request.method == "POST":
            form = RecordRequestForm(request.POST)
            if form.account is not None and form.is_valid():
                ticket = self._record(request, form)
                if ticket is not None:
                    self.message_user(request, f"Recorded ticket #{ticket.pk} ({ticket.get_state_display().lower()}).")
                    return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[ticket.pk]))
        else:
            chosen = as_id(request.GET.get("account", ""))
            account = (
                ChooseAccountForm.base_fields["account"].queryset.filter(pk=chosen).select_related("plan").first()
                if chosen
                else None
            )
            form = RecordRequestForm(account=account)
        if form.account is None:
            # Bound to an id only: the autocomplete widget queries what it is given (text there is a ValueError).
            chosen = as_id(request.GET.get("account", ""))
            chooser = ChooseAccountForm({"account": chosen} if chosen else None)
        context = {
            **self.admin_site.each_context(request),
            "title": "Record a request taken by phone or email",
            "form": form,
            "chooser": chooser,
            "account": form.account,
            "media": self.media + (chooser.media if chooser else form.media),
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/tickets/ticket/record.html", context)

    def _record(self, request, form: RecordRequestForm) -> Ticket | None:
        data = form.cleaned_data
        received_at = data.get("received_at")
        if received_at is not None and timezone.is_naive(received_at):
            received_at = timezone.make_aware(received_at)
        try:
            return services.submit_ticket(
                account=data["account"],
                kind=data["kind"],
                requester=data["requester"],
                request=form.request(),
                channel=data["channel"],
                actor=request.user,
                received_at=received_at,
            )
        except Refusal as refusal:
            target = refusal.field if refusal.field in form.fields else None
            form.add_error(target, refusal.detail)
            return None

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, Comment):
                services.add_comment(
                    ticket=instance.ticket, author=request.user, body=instance.body, public=instance.public
                )
            elif isinstance(instance, Attachment):
                try:
                    add_attachment(
                        ticket=instance.ticket,
                        upload=instance.file.file,
                        uploaded_by=request.user,
                        public=instance.public,
                    )
                except Refusal as refusal:  # another upload took the case's last place since the form's check
                    self.message_user(
                        request, f"{instance.file.name} was not attached: {refusal.detail}", messages.ERROR
                    )
        formset.save_m2m()


# Every email the desk sends has a subject template in templates/emails: the choices of the notice list's filter.
EMAIL_TEMPLATE_NAMES = sorted(
    path.name.removesuffix("-subject.txt")
    for path in (Path(settings.BASE_DIR) / "templates" / "emails").glob("*-subject.txt")
)


@admin.register(TransitionLog)
class TransitionLogAdmin(ValidInitialIdsMixin, admin.ModelAdmin):
    list_display = ["at", "ticket", "transition", "source", "target", "actor_label", "channel"]
    list_filter = [
        fixed_choices_filter("transition", [("submit", "submit"), *((name, name) for name in TRANSITIONS)]),
        fixed_choices_filter("target", State.choices),
        "channel",
    ]
    search_fields = ["=ticket__id", "actor_label"]
    list_select_related = ["ticket__account"]
    show_full_result_count = False
    paginator = CappedCountPaginator  # several rows a ticket: never count them all

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EmailNotice)
class EmailNoticeAdmin(TransitionLogAdmin):
    list_display = ["key", "template", "created_at", "sent_at", "attempts"]
    list_filter = [fixed_choices_filter("template", [(name, name) for name in EMAIL_TEMPLATE_NAMES])]
    search_fields = ["key"]
    list_select_related = []


@admin.register(RetentionOutcome)
class RetentionOutcomeAdmin(TransitionLogAdmin):
    list_display = ["created_at", "account", "plan", "reason", "outcome"]
    list_filter = ["outcome", "reason", "plan"]
    search_fields = ["account__account_id", "account__name"]
    list_select_related = ["account", "plan"]
