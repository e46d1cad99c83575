"""The customer portal. Each view parses input, calls one service, and renders the result or the refusal."""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.exceptions import Code, Refusal
from accounts.models import Account, Membership
from billing.models import AddOn, Route
from billing.services import coming_bill
from config.ids import as_id
from tickets import access, retention
from tickets.attachments import attachment_response
from tickets.kinds import registry
from tickets.models import Channel, ExitReason, Kind, LogChannel, RetentionOutcome, State, Ticket
from tickets.portal import selectors
from tickets.portal.forms import (
    KIND_FORMS,
    AcknowledgementForm,
    AttachmentForm,
    CancellationVerificationForm,
    CommentForm,
    ExitSurveyForm,
    PortOutLockForm,
    add_refusal,
)
from tickets.services import (
    add_comment,
    available_transitions,
    port_out_lock_needs_password,
    set_port_out_lock,
    submit_ticket,
    transition_ticket,
    withdraw_with_link,
)
from tickets.withdraw_links import read_token

SUBMITTED_SESSION_KEY = "portal_submitted_cancellation"
SUBMITTED_NAME_SESSION_KEY = "portal_submitted_cancellation_account_name"


def _context(membership: Membership, **extra) -> dict:
    return {"membership": membership, "account": membership.account, "policy": membership.account.plan.policy, **extra}


def render_page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Render a portal page with its dates and times in the account's time zone (its policy's zone)."""
    policy = context.get("policy")
    if policy is None:
        return render(request, template, context, status=status)
    with timezone.override(policy.tz):
        return render(request, template, context, status=status)


def _a_kind(kind: str) -> str:
    """ "an account cancellation", "a port-out": the kind's label with its article."""
    label = Kind(kind).label.lower()
    return f"{'an' if label[0] in 'aeiou' else 'a'} {label}"


def _not_allowed(request: HttpRequest, membership: Membership, kind: str) -> HttpResponse:
    """S4, A5, U1: a kind the role may not request is refused with the roles that may."""
    allowed = access.requesting_roles(membership.account.plan.policy, kind)
    sentence = f"Your role ({membership.get_role_display()}) may not request {_a_kind(kind)}; allowed: {allowed}."
    return render_page(request, "portal/not_allowed.html", _context(membership, sentence=sentence), status=403)


# -- home and dashboard ------------------------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    memberships = list(selectors.memberships_of(request.user))
    # A person who also has a cancelled account finds its page (the way back, tickets.former) from here.
    has_former = access.is_former_member(request.user)
    if len(memberships) == 1 and not has_former:
        return redirect("portal:dashboard", account_id=memberships[0].account.account_id)
    return render_page(request, "portal/home.html", {"memberships": memberships, "has_former": has_former})


@login_required
def dashboard(request: HttpRequest, account_id: str) -> HttpResponse:
    membership = selectors.membership_or_404(request.user, account_id)
    account = membership.account
    policy = account.plan.policy
    closed = request.GET.get("cases") == "closed"
    kinds = selectors.requestable_kinds(account, membership.role)
    return render_page(
        request,
        "portal/dashboard.html",
        _context(
            membership,
            cases=[
                {"ticket": t, "summary": selectors.case_summary(t), "next_step": selectors.next_step(t)}
                for t in selectors.dashboard_cases(request.user, account, closed=closed)
            ],
            closed=closed,
            kinds=[
                (kind, selectors.kind_link_label(account, kind)) for kind in kinds if kind != Kind.ACCOUNT_CANCELLATION
            ],
            may_cancel_account=Kind.ACCOUNT_CANCELLATION in kinds,
            may_pause=policy.shows_hold_alternatives
            and account.status == Account.Status.ACTIVE
            and bool({Kind.ACCOUNT_CANCELLATION, Kind.DOWNGRADE} & set(kinds)),
            subscription=getattr(account, "subscription", None),
            port_out_lock_link=_port_out_lock_link(request.user, account),
        ),
    )


def _port_out_lock_link(user, account: Account) -> bool:
    """The dashboard links the port-out lock's page for whoever may switch it, where the policy offers the lock or
    it is on (SPEC §4)."""
    policy = account.plan.policy
    offered = policy.port_out_lock_offered or account.port_out_locked
    return bool(offered and account.status == Account.Status.ACTIVE and access.may_switch_port_out_lock(user, account))


@login_required
def products(request: HttpRequest, account_id: str) -> HttpResponse:
    """What the account pays for; self-service items (A6, A8, A9) cancel from here after a confirmation, and an add-on
    with tiers in the policy shows its tier and a Change link (A8, A9, A11)."""
    membership = selectors.membership_or_404(request.user, account_id)
    account = membership.account
    policy = account.plan.policy
    kinds = selectors.requestable_kinds(account, membership.role)

    def links(section: str, item, **facts) -> list[tuple[str, str, str]]:
        return registry.product_links(kinds, section, item, facts)  # each kind offers its own (tickets/kinds/)

    addons = [
        (addon, route, tiers, links("addons", addon, route=route, tiers=tiers))
        for addon in account.addons.filter(status=AddOn.Status.ACTIVE).select_related("number")
        for route, tiers in [
            (registry.route_for(policy, Kind.ADDON_CANCELLATION, addon.route_key), policy.tiers_for(addon.product))
        ]
    ]
    return render_page(
        request,
        "portal/products.html",
        _context(
            membership,
            licenses=[(license_, links("licenses", license_)) for license_ in account.licenses.all()],
            numbers=[(number, links("numbers", number)) for number in account.numbers.on_account()],
            addons=addons,
            kinds=kinds,
            routes=dict(Route.choices),
        ),
    )


@login_required
def pause(request: HttpRequest, account_id: str) -> HttpResponse:
    """K1: holds are not offered; the page shows the alternatives the policy and the role allow. Only where the
    policy says holds are refused with alternatives: elsewhere there is no such page."""
    membership = selectors.membership_or_404(request.user, account_id)
    account = membership.account
    if not account.plan.policy.shows_hold_alternatives:
        raise Http404("No such page.")
    kinds = selectors.requestable_kinds(account, membership.role)
    lowest = selectors.lower_plans(account).first()
    return render_page(
        request,
        "portal/pause.html",
        _context(
            membership,
            may_downgrade=Kind.DOWNGRADE in kinds,
            lowest=lowest,
            may_cancel_account=Kind.ACCOUNT_CANCELLATION in kinds,
            subscription=getattr(account, "subscription", None),
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def port_out_lock(request: HttpRequest, account_id: str) -> HttpResponse:
    """SPEC §4: the owner switches the port-out lock on or off with their password (where the policy offers it)."""
    membership = selectors.membership_or_404(request.user, account_id)
    account = membership.account
    if not access.may_switch_port_out_lock(request.user, account):
        sentence = "Only the account's owner can switch the port-out lock."
        return render_page(request, "portal/not_allowed.html", _context(membership, sentence=sentence), status=403)
    offered = account.plan.policy.port_out_lock_offered
    # Under a verification lockout the owner switches the lock on without a password (set_port_out_lock, 3.).
    urgent = not account.port_out_locked and not port_out_lock_needs_password(account, locked=True)
    form = PortOutLockForm(
        request.POST or None,
        initial={"locked": "off" if account.port_out_locked else "on"},
        password_asked=not urgent,
    )
    if request.method == "POST" and form.is_valid():
        try:
            set_port_out_lock(
                account=account,
                user=request.user,
                password=form.cleaned_data.get("password", ""),
                locked=form.cleaned_data["locked"],
            )
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            state = "on" if form.cleaned_data["locked"] else "off"
            messages.success(request, f"The port-out lock is {state}.")
            return redirect("portal:port_out_lock", account_id=account.account_id)
    status = 400 if form.errors else 200
    return render_page(
        request,
        "portal/port_out_lock.html",
        _context(membership, form=form, offered=offered, urgent=urgent),
        status=status,
    )


# -- a form per kind --------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def request_kind(request: HttpRequest, account_id: str, kind: str) -> HttpResponse:
    membership = selectors.membership_or_404(request.user, account_id)
    account = membership.account
    spec = registry.specs().get(kind)
    if spec is not None and spec.flow:  # a kind with its own pages (an account cancellation)
        return redirect(spec.flow, account_id=account_id)
    if kind not in KIND_FORMS:
        raise Http404("No such request.")
    policy = account.plan.policy
    if not access.may_request(policy, membership.role, kind):
        return _not_allowed(request, membership, kind)

    form_class = KIND_FORMS[kind]
    form_kwargs = {"account": account, "user": request.user, "kind": kind}
    if request.method == "POST":
        form = form_class(request.POST, **form_kwargs)
        if form.is_valid():
            try:
                ticket = submit_ticket(account=account, kind=kind, requester=request.user, request=form.to_request())
            except Refusal as refusal:
                add_refusal(form, refusal)
            else:
                ticket.refresh_from_db()
                messages.success(
                    request, f"Case #{ticket.pk}, {selectors.case_summary(ticket)}. {selectors.next_step(ticket)}"
                )
                return redirect("portal:ticket", pk=ticket.pk)
    else:
        initial = dict(form_class(**form_kwargs).initial)
        for name in ("license", "number", "addon", "plan"):
            if request.GET.get(name):
                initial[name] = request.GET[name]
        form = form_class(initial=initial, **form_kwargs)

    addon = None
    if "addon" in form.fields:  # a request about one add-on takes that add-on's route (A8, A9, A11)
        addon_pk = form.data.get("addon") if form.is_bound else form.initial.get("addon")
        addon = account.addons.filter(pk=as_id(addon_pk or "")).first()
    route = spec.route(policy, addon.route_key if addon else None)
    unavailable = "" if selectors.kind_applies(account, kind) else _unavailable_sentence(account, kind)
    return render_page(
        request,
        spec.template,
        _context(
            membership,
            form=form,
            kind=kind,
            kind_label=Kind(kind).label,
            addon=addon,
            route=route,
            route_text=selectors.route_explanation(policy, route),
            unavailable=unavailable,
            # The page links the lock's page when the lock is on, to whoever may switch it off.
            may_switch_port_out_lock=account.port_out_locked and access.may_switch_port_out_lock(request.user, account),
            outstanding_balance=account.invoices.outstanding().exists(),
            lowest=selectors.lower_plans(account).first(),
            back_up=list(selectors.plans_back_up(account)) if kind == Kind.DOWNGRADE else [],
        ),
    )


def _unavailable_sentence(account: Account, kind: str) -> str:
    """Why the kind is not available on this account now; a kind with its own sentence (a reactivation's is its
    rule's) says it."""
    unavailable = registry.spec(kind).unavailable
    if unavailable is not None:
        return unavailable(account)
    if account.status != Account.Status.ACTIVE:
        return "This account is not active."
    return f"There is nothing on this account {_a_kind(kind)} could be about."


# -- the account-cancellation flow ------------------------------------------------------------------------------


def _flow_key(account: Account) -> str:
    return f"cancel_flow_{account.pk}"


def _cancellation_gate(request: HttpRequest, membership: Membership) -> HttpResponse | None:
    """Who may start the flow at all: the role (S4, A5, U1) and the policy's channels and hours (K6)."""
    account = membership.account
    policy = account.plan.policy
    if not access.may_request(policy, membership.role, Kind.ACCOUNT_CANCELLATION):
        return _not_allowed(request, membership, Kind.ACCOUNT_CANCELLATION)
    web = selectors.takes_cancellations_on_the_web(policy)
    if not web or (policy.intake_hours_enforced and not policy.within_intake_hours()):
        return render_page(
            request,
            "portal/cancel_intake_hours.html",
            _context(
                membership,
                web=web,
                channels=[label for key, label in Channel.choices if key in policy.intake_channels],
                open_now=policy.within_intake_hours(),
                bill=coming_bill(account),  # K5: the admin says the same, from the same function
            ),
        )
    return None


@login_required
@require_http_methods(["GET", "POST"])
def cancel_start(request: HttpRequest, account_id: str) -> HttpResponse:
    membership = selectors.membership_or_404(request.user, account_id)
    account = membership.account
    gate = _cancellation_gate(request, membership)
    if gate is not None:
        return gate
    blockers = selectors.cancellation_blockers(account)
    steps = selectors.cancellation_steps(account, membership.role)
    if request.method == "POST" and not blockers:
        # One RetentionOutcome per run: it stays "abandoned" unless the customer reaches an outcome.
        run = retention.start_run(account=account, user=request.user)
        request.session[_flow_key(account)] = {"run": run.pk, "done": []}
        return redirect("portal:cancel_step", account_id=account_id, step=steps[0])
    return render_page(
        request,
        "portal/cancel_start.html",
        _context(membership, blockers=blockers, steps=[STEP_TITLES[s] for s in steps]),
    )


@login_required
@require_http_methods(["GET", "POST"])
def cancel_step(request: HttpRequest, account_id: str, step: str) -> HttpResponse:
    """One page of the flow. Steps must be taken in order; the state lives in the session, the outcomes in
    tickets.retention; each step's page is its entry in CANCEL_STEPS."""
    membership = selectors.membership_or_404(request.user, account_id)
    account = membership.account
    gate = _cancellation_gate(request, membership)
    if gate is not None:
        return gate
    flow = request.session.get(_flow_key(account))
    # S2, U9: the survey's answer decides the offers, so whether the offers page is a step at all.
    steps = selectors.cancellation_steps(account, membership.role, (flow or {}).get("reason") or None)
    if step not in steps:
        raise Http404("No such step.")
    run = retention.open_run(account=account, user=request.user, pk=(flow or {}).get("run"))
    if not flow or run is None:
        return redirect("portal:cancel", account_id=account_id)
    first_open = next((s for s in steps if s not in flow["done"]), steps[-1])
    if steps.index(step) > steps.index(first_open):
        return redirect("portal:cancel_step", account_id=account_id, step=first_open)
    page = CancelPage(request=request, membership=membership, step=step, steps=steps, flow=flow, run=run)
    return CANCEL_STEPS[step].show(page)


@dataclass
class CancelPage:
    """One request to one step of the flow: who, where in the flow, the session's answers so far and the run."""

    request: HttpRequest
    membership: Membership
    step: str
    steps: list[str]
    flow: dict
    run: RetentionOutcome

    @property
    def account(self) -> Account:
        return self.membership.account

    @property
    def posted(self) -> bool:
        return self.request.method == "POST"

    @property
    def data(self):
        return self.request.POST if self.posted else None

    def render(self, template: str, **extra) -> HttpResponse:
        index = self.steps.index(self.step)
        context = _context(
            self.membership,
            step=self.step,
            step_title=STEP_TITLES[self.step],
            step_number=index + 1,
            step_count=len(self.steps),
            previous=self.steps[index - 1] if index else None,
        )
        return render_page(self.request, template, {**context, **extra})

    def advance(self) -> HttpResponse:
        """This step is done: on to the next one (of the steps as the answers so far decide them)."""
        steps = self.steps
        self.flow["done"] = sorted(set(self.flow["done"]) | {self.step}, key=steps.index)
        self.request.session[_flow_key(self.account)] = self.flow
        return redirect(
            "portal:cancel_step", account_id=self.account.account_id, step=steps[steps.index(self.step) + 1]
        )

    def end(self) -> None:
        """The run reached an outcome: the flow is over."""
        self.request.session.pop(_flow_key(self.account), None)


def _survey_step(page: CancelPage) -> HttpResponse:
    """U8: why the customer leaves; the answer decides the offers (S2, U9)."""
    form = ExitSurveyForm(page.data, policy=page.account.plan.policy, initial=page.flow)
    if page.posted and form.is_valid():
        page.flow["reason"], page.flow["comment"] = form.cleaned_data["reason"], form.cleaned_data["comment"]
        retention.record_reason(page.run, page.flow["reason"])
        page.steps = selectors.cancellation_steps(page.account, page.membership.role, page.flow["reason"] or None)
        return page.advance()
    return page.render("portal/cancel_survey.html", form=form)


def _keep_offer(page: CancelPage, offers: list[str]) -> HttpResponse:
    retention.keep(page.run)
    page.end()
    messages.success(page.request, "Thank you for staying. Nothing has changed on your account.")
    return redirect("portal:dashboard", account_id=page.account.account_id)


def _meeting_offer(page: CancelPage, offers: list[str]) -> HttpResponse | None:
    if "meeting" not in offers:
        return None
    retention.ask_for_meeting(page.run)
    page.end()
    messages.success(
        page.request, "We have asked customer success to contact you to book a meeting. Your account stays as it is."
    )
    return redirect("portal:dashboard", account_id=page.account.account_id)


def _downgrade_offer(page: CancelPage, offers: list[str]) -> HttpResponse | str | None:
    """K1: the lower plan instead of leaving; a refusal is the page's error sentence."""
    if "downgrade" not in offers:
        return None
    lowest = selectors.lower_plans(page.account).first()
    try:
        ticket = retention.downgrade(page.run, account=page.account, user=page.request.user, plan=lowest)
    except Refusal as refusal:
        return refusal.detail
    page.end()
    ticket.refresh_from_db()
    messages.success(
        page.request, f"Case #{ticket.pk}: downgrade to {lowest.name} requested. " + selectors.next_step(ticket)
    )
    return redirect("portal:ticket", pk=ticket.pk)


def _continue_offer(page: CancelPage, offers: list[str]) -> HttpResponse:
    return page.advance()


# What each button of the offers page does; None: not an option here, a string: the sentence the page shows.
OFFER_ACTIONS = {
    "keep": _keep_offer,
    "meeting": _meeting_offer,
    "downgrade": _downgrade_offer,
    "continue": _continue_offer,
}


def _offers_step(page: CancelPage) -> HttpResponse:
    """S2, U9, K1: the offers the policy makes for the survey's answer; taking one ends the run there."""
    reason = page.flow.get("reason") or None
    offers = selectors.retention_offers(page.account, page.membership.role, reason)
    retention.record_offers_shown(page.run, offers)
    error = ""
    if page.posted:
        action = OFFER_ACTIONS.get(page.request.POST.get("action", ""))
        taken = action(page, offers) if action is not None else None
        if isinstance(taken, HttpResponse):
            return taken
        error = taken or "Choose one of the options."
    return page.render(
        "portal/cancel_offers.html",
        offers=offers,
        lowest=selectors.lower_plans(page.account).first(),
        error=error,
        reason_label=ExitReason(reason).label if reason else "",
    )


def _preview_step(page: CancelPage) -> HttpResponse:
    """K5, S7, S8, U6: what cancelling will do; a port-out in progress blocks going on (S10)."""
    account = page.account
    impact = selectors.cancellation_impact(account)
    if page.posted and not impact.port_outs_block:
        return page.advance()
    return page.render(
        "portal/cancel_preview.html",
        impact=impact,
        subscription=getattr(account, "subscription", None),
        port_out_cases=selectors.pending_port_outs(account) if impact.port_outs_block else [],
    )


def _acknowledge_step(page: CancelPage) -> HttpResponse:
    """The policy's acknowledgements, each ticked."""
    form = AcknowledgementForm(
        page.data,
        policy=page.account.plan.policy,
        initial={key: True for key in page.flow.get("acknowledgements", [])},
    )
    if page.posted and form.is_valid():
        page.flow["acknowledgements"] = form.acknowledged()
        return page.advance()
    return page.render("portal/cancel_acknowledge.html", form=form)


def _verify_step(page: CancelPage) -> HttpResponse:
    """The policy's verification, then the cancellation is submitted with the flow's answers."""
    account, user, flow = page.account, page.request.user, page.flow
    form = CancellationVerificationForm(page.data, account=account, user=user, kind=Kind.ACCOUNT_CANCELLATION)
    if page.posted and form.is_valid():
        try:
            ticket = retention.cancel(
                page.run,
                account=account,
                user=user,
                request=form.to_request(),
                reason=flow.get("reason", ""),
                comment=flow.get("comment", ""),
                acknowledgements=flow.get("acknowledgements", []),
            )
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            page.end()
            # A self-service cancellation removes the user's access at once (K8, U5): the page that follows
            # must not need a signed-in user, so it finds the case through the session.
            # The name too: a purge at completion (S6, retention 0) has already replaced it with the account id.
            page.request.session[SUBMITTED_SESSION_KEY] = ticket.pk
            page.request.session[SUBMITTED_NAME_SESSION_KEY] = account.name
            return redirect("portal:cancel_done")
    policy = account.plan.policy
    acknowledged = [policy.acknowledgement_text(k) for k in flow.get("acknowledgements", [])]
    return page.render("portal/cancel_verify.html", form=form, acknowledged=acknowledged)


@dataclass(frozen=True)
class CancelStep:
    """A step of the flow: its title (the start page lists them) and its page."""

    title: str
    show: Callable[[CancelPage], HttpResponse]


# The flow's steps; which of them a run takes, in which order, is tickets.portal.selectors.cancellation_steps.
CANCEL_STEPS: dict[str, CancelStep] = {
    "survey": CancelStep("Why are you leaving?", _survey_step),
    "offers": CancelStep("Before you go", _offers_step),
    "preview": CancelStep("What cancelling will do", _preview_step),
    "acknowledge": CancelStep("Please acknowledge", _acknowledge_step),
    "verify": CancelStep("Confirm the cancellation", _verify_step),
}
STEP_TITLES = {name: step.title for name, step in CANCEL_STEPS.items()}


def cancel_done(request: HttpRequest) -> HttpResponse:
    """The last page: the case, what happens next (the route explained), and whether access is already gone."""
    ticket = (
        Ticket.objects.select_related("account__plan__policy")
        .filter(pk=request.session.get(SUBMITTED_SESSION_KEY))
        .first()
    )
    if ticket is None:
        raise Http404("Nothing was submitted in this session.")
    policy = ticket.account.plan.policy
    still_member = access.role_in(request.user, ticket.account) is not None
    return render_page(
        request,
        "portal/cancel_done.html",
        {
            "ticket": ticket,
            "account": ticket.account,
            "account_name": request.session.get(SUBMITTED_NAME_SESSION_KEY) or ticket.account.name,
            "policy": policy,
            "next_step": selectors.next_step(ticket),
            "signed_in": still_member,
        },
    )


# -- the ticket page ----------------------------------------------------------------------------------------------


def _ticket_page(request: HttpRequest, ticket: Ticket, membership: Membership, **forms) -> HttpResponse:
    return render_page(
        request,
        "portal/ticket.html",
        _context(
            membership,
            ticket=ticket,
            timeline=selectors.timeline(request.user, ticket),
            attachments=access.attachments_for(request.user, ticket),
            may_withdraw="withdraw" in available_transitions(ticket, request.user),
            summary=selectors.case_summary(ticket),
            next_step=selectors.next_step(ticket),
            comment_form=forms.get("comment_form") or CommentForm(),
            attachment_form=forms.get("attachment_form") or AttachmentForm(),
        ),
        status=400 if forms else 200,
    )


@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket, membership = selectors.ticket_for_user_or_404(request.user, pk)
    return _ticket_page(request, ticket, membership)


@login_required
@require_POST
def ticket_comment(request: HttpRequest, pk: int) -> HttpResponse:
    ticket, membership = selectors.ticket_for_user_or_404(request.user, pk)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            add_comment(ticket=ticket, author=request.user, body=form.cleaned_data["body"])
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, "Your comment was added.")
            return redirect("portal:ticket", pk=ticket.pk)
    return _ticket_page(request, ticket, membership, comment_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def ticket_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation (a page, no JavaScript needed); POST withdraws."""
    ticket, membership = selectors.ticket_for_user_or_404(request.user, pk)
    if request.method == "GET":
        if "withdraw" not in available_transitions(ticket, request.user):
            messages.error(request, "This request cannot be withdrawn now.")
            return redirect("portal:ticket", pk=ticket.pk)
        context = _context(membership, ticket=ticket, summary=selectors.case_summary(ticket))
        return render_page(request, "portal/ticket_withdraw.html", context)
    try:
        transition_ticket(ticket=ticket, name="withdraw", actor=request.user, channel=LogChannel.WEB)
    except Refusal as refusal:
        messages.error(request, refusal.detail)
    else:
        messages.success(request, f"Case #{ticket.pk} was withdrawn.")
    return redirect("portal:ticket", pk=ticket.pk)


@login_required
@require_POST
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    ticket, membership = selectors.ticket_for_user_or_404(request.user, pk)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            attachment = form.save(ticket=ticket, user=request.user)
        except Refusal as refusal:
            add_refusal(form, refusal)
        else:
            messages.success(request, f"{attachment.name} was attached.")
            return redirect("portal:ticket", pk=ticket.pk)
    return _ticket_page(request, ticket, membership, attachment_form=form)


@login_required
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    """Attachments are served only through here, to those who may see the case; never from MEDIA_URL."""
    ticket, _ = selectors.ticket_for_user_or_404(request.user, pk)
    return attachment_response(get_object_or_404(access.attachments_for(request.user, ticket), pk=attachment_pk))


@never_cache
@require_http_methods(["GET", "POST"])
def port_out_withdraw(request: HttpRequest, token: str) -> HttpResponse:
    """The port-out alert's link (SPEC §4): a confirmation page, and a POST that withdraws, signed in or not."""
    try:
        ticket, _ = read_token(token)
    except Refusal as refusal:
        return render_page(request, "portal/port_out_withdraw.html", {"refusal": refusal}, status=400)
    numbers = [n.number for n in ticket.numbers.all()]
    context = {"ticket": ticket, "numbers": numbers}
    if ticket.state not in (State.SUBMITTED, State.VERIFIED):
        refusal = Refusal(Code.INVALID_STATE, "This request can no longer be withdrawn with this link.")
        return render_page(request, "portal/port_out_withdraw.html", {**context, "refusal": refusal}, status=409)
    if request.method == "POST":
        try:
            ticket = withdraw_with_link(token=token)
        except Refusal as refusal:
            ticket.refresh_from_db()
            return render_page(request, "portal/port_out_withdraw.html", {**context, "refusal": refusal}, status=409)
        return render_page(request, "portal/port_out_withdraw.html", {**context, "ticket": ticket, "done": True})
    return render_page(request, "portal/port_out_withdraw.html", context)
