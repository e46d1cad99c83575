"""Who may see and do what (SPEC §5): the one place the portal, the API, the admin, the queues, the CSV export and
the emails ask. No interface decides access again; tickets/access_table.py is this module's table, the README
shows it, and tests/access/test_matrix.py runs it against every interface.

Customers: what their memberships of *active* accounts give them. The owner, super admins and billing admins see
every case of the account, a plain member only the cases they asked for; invoices and the card need a billing role
(U1); a cancelled account is gone from the customer side (K8, U5), whatever other account the person keeps.
Staff: Django permissions, the ones the admin checks (groups Support agents and Support managers,
accounts/migrations/0003_staff_groups.py and 0006_access_permissions.py). Staff with no group hold none and so
see and do nothing. Another account's object is a 404, never a 403: the querysets here simply do not hold it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Permission
from django.db.models import OuterRef, Q, QuerySet, Subquery

from accounts.models import Account, Membership, User
from billing.models import Policy, Route

from .kinds import registry
from .models import OPEN_STATES, Comment, Ticket, TransitionLog

# Roles that see every case of their account and hold "access billing & account info" (U1).
ACCOUNT_WIDE_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.SUPER_ADMIN, Membership.Role.BILLING_ADMIN})
BILLING_ROLES = ACCOUNT_WIDE_ROLES
# SPEC §4: who hears of every port-out request, and may withdraw it from the email's link.
PORT_OUT_ALERT_ROLES = (Membership.Role.OWNER, Membership.Role.BILLING_ADMIN)

# The Django permission each staff transition needs; `withdraw` is the customer's (requester or owner).
TRANSITION_PERMISSIONS = {
    "verify": "tickets.verify_ticket",
    "approve": "tickets.approve_ticket",
    "complete": "tickets.complete_ticket",
    "reject": "tickets.reject_ticket",
}
ASSIGN_PERMISSION = "tickets.assign_ticket"  # managers: assign and reassign (agents claim with change_ticket)
MANAGER_PERMISSION = "tickets.view_queues"  # what makes a support manager: the queues, K10's review

# What an account holds, as the API and the portal list it: the relation, the staff permission to read it, the
# permission to provision it, and whether customers need a billing role to read it.
ACCOUNT_PARTS: dict[str, tuple[str, str, str, bool]] = {
    "members": ("memberships", "accounts.view_membership", "accounts.add_membership", False),
    "numbers": ("numbers", "numbers.view_phonenumber", "numbers.add_phonenumber", False),
    "licenses": ("licenses", "billing.view_license", "billing.add_license", False),
    "addons": ("addons", "billing.view_addon", "billing.add_addon", False),
    "invoices": ("invoices", "billing.view_invoice", "billing.add_invoice", True),
    "card": ("card", "billing.view_cardonfile", "billing.change_cardonfile", True),
}

# Fields of a ticket customers never see (the PIN is never stored: only whether it matched, in `checks`), and the
# fields only staff write (`state` nobody writes: transitions do).
CUSTOMER_HIDDEN_TICKET_FIELDS = frozenset({"checks"})
STAFF_WRITTEN_TICKET_FIELDS = frozenset({"priority", "assignee", "state"})
STAFF_NAME_FOR_CUSTOMERS = "Support"
# SPEC §4 "Account lifecycle": the accounts whose members are *former members* (cancelled, not purged).
FORMER_ACCOUNT_STATUSES = (Account.Status.CANCELLED,)
# Log rows customers do not read: assignments, and K7's confirmation link sent (the owner reads the email).
STAFF_ONLY_LOG_ROWS = frozenset({"assign", "confirmation_link"})


# -- who is who --------------------------------------------------------------------------------------------------


def is_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def is_customer(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and not user.is_staff)


def staff_may(user, perm: str) -> bool:
    """A member of staff holding this Django permission (a superuser holds them all)."""
    return is_staff(user) and user.has_perm(perm)


def is_manager(user) -> bool:
    return staff_may(user, MANAGER_PERMISSION)


def is_agent(user) -> bool:
    return staff_may(user, "tickets.view_ticket")


def _memberships(user, roles=None) -> QuerySet[Membership]:
    memberships = Membership.objects.filter(user=user, account__status=Account.Status.ACTIVE)
    return memberships.filter(role__in=roles) if roles is not None else memberships


def role_in(user, account: Account | int) -> str | None:
    """The customer's role in an active account, None if they have none (staff have none)."""
    if not is_customer(user):
        return None
    account_id = account.pk if isinstance(account, Account) else account
    return _memberships(user).filter(account_id=account_id).values_list("role", flat=True).first()


# -- what a person sees ------------------------------------------------------------------------------------------


def accounts_for(user) -> QuerySet[Account]:
    if staff_may(user, "accounts.view_account"):
        return Account.objects.all()
    if not is_customer(user):
        return Account.objects.none()
    return Account.objects.filter(status=Account.Status.ACTIVE, pk__in=_memberships(user).values("account_id"))


def former_memberships(user) -> QuerySet[Membership]:
    """SPEC §4 "Account lifecycle": the person's memberships of cancelled, not yet purged, accounts, the ones they
    may ask to have back (K9, U7) or read the rule of (S11). Staff are never former members. What a former member
    sees of such an account is this membership, its dates and its rule: no case, page or API of it."""
    if user is None or not getattr(user, "pk", None) or user.is_staff:
        return Membership.objects.none()
    return (
        Membership.objects.filter(user=user, account__status__in=FORMER_ACCOUNT_STATUSES)
        .select_related("account__plan__policy")
        .order_by("-account__cancelled_at", "account__name")
    )


def is_former_member(user) -> bool:
    return former_memberships(user).exists()


def former_member_by_email(email: str):
    """The former member (a customer of a cancelled, not purged, account) with this address, or None: the email
    channel's sender and the password reset's addressee once their access was removed."""
    if not email:
        return None
    former = Membership.objects.filter(account__status__in=FORMER_ACCOUNT_STATUSES).values("user_id")
    return User.objects.filter(email__iexact=email.strip(), is_staff=False, pk__in=former).first()


def former_requesters(account: Account):
    """Who may be recorded as asking for this cancelled account's reactivation: its former members (their access
    was removed, K8, U5); nobody for an account that is not cancelled."""
    if account.status not in FORMER_ACCOUNT_STATUSES:
        return User.objects.none()
    return User.objects.filter(memberships__account=account, is_staff=False).distinct()


def requester_choices(account: Account | int) -> QuerySet[User]:
    """Who may be recorded as asking for a request on this account, the one answer the API's `requester` and the
    admin's "Record a request" both take: an active account's active customers among its members; a cancelled
    account's former members (their access was removed, K8, U5: they ask for its reactivation); nobody of any other
    account (purged). Staff are never requesters. Whether their role may ask for the kind is may_request's."""
    return User.objects.filter(
        Q(memberships__account__status=Account.Status.ACTIVE, is_active=True)
        | Q(memberships__account__status__in=FORMER_ACCOUNT_STATUSES),
        memberships__account=account,
        is_staff=False,
    ).distinct()


def only_former(memberships) -> bool:
    """Of a person's memberships (read with their accounts): they belong to no active account and to a cancelled,
    not purged, one at least: a *known former customer* (the triage queue's label)."""
    statuses = {m.account.status for m in memberships}
    return Account.Status.ACTIVE not in statuses and bool(statuses & set(FORMER_ACCOUNT_STATUSES))


def memberships_for(user) -> QuerySet[Membership]:
    """The customer's memberships of active accounts: the portal's list of accounts."""
    if not is_customer(user):
        return Membership.objects.none()
    return _memberships(user).select_related("account__plan__policy").order_by("account__name")


def visible_tickets(user) -> QuerySet[Ticket]:
    if staff_may(user, "tickets.view_ticket"):
        return Ticket.objects.all()
    if not is_customer(user):
        return Ticket.objects.none()
    account_wide = _memberships(user, ACCOUNT_WIDE_ROLES).values("account_id")
    own = _memberships(user).values("account_id")
    # The viewer's role comes along, so a list's available transitions (withdraw) cost no query per ticket.
    role = _memberships(user).filter(account_id=OuterRef("account_id")).values("role")[:1]
    return Ticket.objects.filter(Q(account_id__in=account_wide) | Q(requester=user, account_id__in=own)).annotate(
        viewer_role=Subquery(role)
    )


def queue_for(user) -> QuerySet[Ticket]:
    """The manager queues' rows: a manager (the queues' permission) works the whole desk; an agent their own
    tickets and the open, unassigned pool they claim from (they still open any ticket in the admin)."""
    if is_manager(user):
        return Ticket.objects.all()
    tickets = visible_tickets(user)
    if is_agent(user):
        return tickets.filter(Q(assignee=user) | Q(assignee__isnull=True, state__in=OPEN_STATES))
    return tickets.none()


def may_see_ticket(user, ticket: Ticket) -> bool:
    return visible_tickets(user).filter(pk=ticket.pk).exists()


def comments_for(user, ticket: Ticket) -> QuerySet[Comment]:
    """Staff read every comment; customers the public ones (private comments are the desk's own)."""
    return comments_readable(user, ticket.comments.select_related("author").order_by("created_at", "pk"))


def comments_readable(user, comments: QuerySet[Comment]) -> QuerySet[Comment]:
    """Of these comments (of tickets the person sees), the ones they may read: comments_for over many tickets."""
    if staff_may(user, "tickets.view_comment"):
        return comments
    if is_staff(user):
        return comments.none()
    return comments.filter(public=True)


def attachments_for(user, ticket: Ticket):
    """The files of a ticket the person already sees (callers find the ticket through visible_tickets first): staff
    with view_attachment every one; customers the public ones (a staff-only file came from an unverified sender's
    email or an internal note: tickets.attachments)."""
    attachments = ticket.attachments.order_by("created_at", "pk")
    if is_staff(user):
        return attachments if user.has_perm("tickets.view_attachment") else attachments.none()
    return attachments.filter(public=True)


def history_for(user, ticket: Ticket) -> list[TransitionLog]:
    """The ticket's log as this person may read it: customers see no assignment rows (who works a case is the
    desk's business), "Support" for a member of staff and no staff notes (the reject reason is the customer's)."""
    prefetched = "log" in getattr(ticket, "_prefetched_objects_cache", {})
    rows = list(ticket.log.all() if prefetched else ticket.log.select_related("actor"))
    if is_staff(user):
        return rows
    policy = ticket.account.plan.policy
    shown = []
    for row in rows:
        if row.transition in STAFF_ONLY_LOG_ROWS:
            continue
        row.shown_actor = actor_name(user, row.actor, row.actor_label, policy)
        row.shown_note = ticket.rejection_reason if row.transition == "reject" else ""
        shown.append(row)
    return shown


def actor_name(viewer, actor, label: str, policy=None) -> str:
    """How someone who acted is named to the viewer: staff read emails; customers read "Support" for a member of
    staff, or their first name where the provider's policy turns that on (`staff_first_names`), never an email."""
    if is_staff(viewer):
        return label
    if actor is not None and actor.is_staff:
        first = (actor.full_name or "").split()
        if policy is not None and policy.staff_first_names and first:
            return first[0]
        return STAFF_NAME_FOR_CUSTOMERS
    return label


def comments_shown(user, ticket: Ticket) -> list[Comment]:
    """comments_for, each with `shown_author`: the name this person reads for its author."""
    policy = ticket.account.plan.policy
    comments = list(comments_for(user, ticket))
    for comment in comments:
        author = comment.author
        comment.shown_author = actor_name(user, author, author.email, policy) if author else "system"
    return comments


def may_see_part(user, account: Account, part: str) -> bool:
    """Whether the person may read this part of an account they see (members, numbers, ..., invoices, card)."""
    _relation, view_perm, _add_perm, billing = ACCOUNT_PARTS[part]
    if is_staff(user):
        return user.has_perm(view_perm)
    role = role_in(user, account)
    return role is not None and (not billing or role in BILLING_ROLES)


def hidden_ticket_fields(user) -> frozenset[str]:
    return frozenset() if is_staff(user) else CUSTOMER_HIDDEN_TICKET_FIELDS


# SPEC §6a: what names or reaches a person on a ticket, or is free text someone wrote. Customers read these of their
# own cases; an event does not carry them, because it outlives the purge that erases them (tickets.purge).
PERSONAL_TICKET_FIELDS = frozenset(
    {
        "requester",
        "assignee",
        "full_name",
        "company",
        "contact",
        "comment",
        "authorized_name",
        "gaining_carrier",
        "rejection_reason",
    }
)


def event_ticket_fields(fields: Iterable[str]) -> list[str]:
    """Of these ticket fields, the ones an event tells the provider's systems (SPEC §6a): what a customer may read
    (never the verification's check results), less what is personal."""
    withheld = hidden_ticket_fields(None) | PERSONAL_TICKET_FIELDS
    return [name for name in fields if name not in withheld]


def writable_ticket_fields(user, ticket: Ticket | None = None) -> frozenset[str]:
    """What the person may set on a ticket outside its transitions: customers nothing of STAFF_WRITTEN_TICKET_FIELDS;
    staff the priority with change_ticket, the assignee through assignment (managers)."""
    if not is_staff(user):
        return frozenset()
    fields = set()
    if user.has_perm("tickets.change_ticket"):
        fields.add("priority")
    if user.has_perm(ASSIGN_PERMISSION):
        fields.add("assignee")
    return frozenset(fields)


# -- what a person does ------------------------------------------------------------------------------------------


def may_ask(user, name: str, ticket: Ticket) -> bool:
    """Whether the person may ask for this transition at all: the staff permission, (approve) the account manager of
    a ticket routed to them, or (withdraw) the requester or the account's owner who still sees the case. Asked before
    the policy's guards, so nobody without the role can probe a verification or learn why the policy would refuse."""
    if name == "withdraw":
        if not is_customer(user):
            return False
        role = _role_read_with(ticket, user)
        if role is None:
            return False
        return ticket.requester_id == user.pk or role == Membership.Role.OWNER
    if name == "approve" and is_routes_account_manager(user, ticket):
        return True
    perm = TRANSITION_PERMISSIONS.get(name)
    return perm is not None and staff_may(user, perm)


def is_routes_account_manager(user, ticket: Ticket) -> bool:
    """U3, A11: the person is the account manager of a ticket routed to the account manager (a member of staff,
    who may be an agent without the approve permission: the route makes them its approver)."""
    return (
        ticket.route == Route.ACCOUNT_MANAGER
        and is_staff(user)
        and ticket.account.account_manager_id is not None
        and ticket.account.account_manager_id == user.pk
    )


def may_approve_on_route(user, ticket: Ticket) -> bool:
    """U3, A11: who approves on the ticket's route. A ticket routed to the account's manager is approved by that
    account manager or a support manager; any other ticket (or an account with no manager) by whoever may ask.
    may_run (the buttons, available_transitions) and the approve guard (tickets.rules.guards) both ask this."""
    if ticket.route != Route.ACCOUNT_MANAGER or ticket.account.account_manager_id is None:
        return True
    return is_routes_account_manager(user, ticket) or is_manager(user)


def _role_read_with(ticket: Ticket, user) -> str | None:
    """The person's role in the ticket's account: read with the ticket (visible_tickets), or under the submission's
    lock when they just asked for it (tickets.services annotates the account with `requester_role`), otherwise
    from their memberships."""
    if "viewer_role" in ticket.__dict__:  # read with the ticket by visible_tickets
        return ticket.viewer_role
    account = ticket._state.fields_cache.get("account")
    if (
        account is not None
        and hasattr(account, "requester_role")
        and ticket.requester_id == user.pk
        and account.status == Account.Status.ACTIVE
    ):
        return account.requester_role
    return role_in(user, ticket.account_id)


def may_run(user, name: str, ticket: Ticket) -> bool:
    """may_ask, and this ticket's own conditions: a port-out under K10's manager review is approved by a manager;
    where the policy says so, the verifier does not approve the same ticket."""
    if not may_ask(user, name, ticket):
        return False
    if name == "approve":
        if ticket.needs_manager_review and not is_manager(user):
            return False
        if not may_approve_on_route(user, ticket):
            return False
        policy = ticket.account.plan.policy
        return policy.verifier_may_approve or ticket.verified_by_id != user.pk
    return True


def why_not(user, name: str) -> str:
    if not (user is not None and user.is_authenticated and user.is_active):
        return "Sign in to do this."
    if name == "withdraw":
        return "Only the requester or the account owner may withdraw this request."
    return f"You do not have permission to {name} tickets."


def may_comment(user, ticket: Ticket, *, public: bool = True) -> bool:
    """Staff with add_comment comment publicly or privately; customers who see the case comment publicly."""
    if is_staff(user):
        return user.has_perm("tickets.add_comment")
    return public and is_customer(user) and may_see_ticket(user, ticket)


def may_attach(user, ticket: Ticket) -> bool:
    if is_staff(user):
        return user.has_perm("tickets.add_attachment")
    return is_customer(user) and may_see_ticket(user, ticket)


def may_claim(user, ticket: Ticket) -> bool:
    """An agent (change_ticket) takes an unassigned ticket for themselves (claiming their own changes nothing)."""
    return staff_may(user, "tickets.change_ticket") and ticket.assignee_id in (None, user.pk)


def may_assign(user, ticket: Ticket, assignee) -> bool:
    """Managers assign to anyone on staff, reassign and unassign; anyone else may only claim."""
    if staff_may(user, ASSIGN_PERMISSION):
        return True
    return assignee is not None and assignee.pk == getattr(user, "pk", None) and may_claim(user, ticket)


def _holders_of(perm: str) -> Q:
    """The users holding this Django permission: superusers, and through their groups or their own permissions."""
    app_label, codename = perm.split(".")
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    through_group = User.groups.through.objects.filter(group__permissions__in=permission).values("user_id")
    own = User.user_permissions.through.objects.filter(permission__in=permission).values("user_id")
    return Q(is_superuser=True) | Q(pk__in=through_group) | Q(pk__in=own)


def assignable_staff() -> QuerySet[User]:
    """Whom a ticket may be given to, in every list and check of assignees (the queues, their bulk assignment, the
    admin's form and filter, tickets.services.assign_ticket): active staff who work tickets (view_ticket). Staff in
    no group hold no permission and see nothing (this module's rule), so nobody gives them a ticket."""
    staff = User.objects.filter(is_staff=True, is_active=True)
    return staff.filter(_holders_of("tickets.view_ticket")).order_by("email")


def may_be_assigned(user) -> bool:
    return user is not None and assignable_staff().filter(pk=user.pk).exists()


def may_assign_anyone(user) -> bool:
    return staff_may(user, ASSIGN_PERMISSION)


def may_provision(user, part: str) -> bool:
    """Provisioning (accounts and what they hold) needs the model's add or change permission: staff only."""
    if part == "accounts":
        return staff_may(user, "accounts.add_account")
    return staff_may(user, ACCOUNT_PARTS[part][2])


def may_request(policy: Policy, role: str | None, kind: str) -> bool:
    """S4, A5, U1: whether a member in this role may request this kind, on an account of this policy (its
    request_roles): the portal's links and pages, its offers (K1's downgrade), the submission and the way back ask."""
    return policy.allows_role(kind, role)


def requesting_roles(policy: Policy, kind: str) -> str:
    """The roles that may request this kind, as a refusal names them ("Owner, Super admin"; "nobody")."""
    return ", ".join(Membership.Role(role).label for role in policy.roles_for(kind)) or "nobody"


def may_submit_for_others(user) -> bool:
    """Staff recording a request on a customer's behalf (phone, email)."""
    return staff_may(user, "tickets.add_ticket")


def may_switch_port_out_lock(user, account: Account | int) -> bool:
    """SPEC §4: the account's owner alone switches its port-out lock (staff and other members do not)."""
    return role_in(user, account) == Membership.Role.OWNER


def may_export_account_data(user, account: Account | int) -> bool:
    """SPEC §6: before cancelling, the account-wide roles download the account's data (cases, invoices, numbers,
    licenses, members) as one archive; a plain member does not, and staff read the account in the admin."""
    return role_in(user, account) in ACCOUNT_WIDE_ROLES


def may_read_email(user) -> bool:
    """The email channel's messages (the triage queue, its API and admin): staff holding its view permission."""
    return staff_may(user, "inbound.view_inboundmessage")


def may_manage_webhooks(user) -> bool:
    """Webhook endpoints, their secrets and deliveries (SPEC §6a): staff holding manage_webhooks (managers'
    group by default; superusers hold every permission)."""
    return staff_may(user, "webhooks.manage_webhooks")


def may_use_queues(user) -> bool:
    return is_manager(user) or is_agent(user)


def may_see_insights(user) -> bool:
    return is_manager(user)


def may_export_queue(user) -> bool:
    """The CSV export holds the rows of the queue the person sees, no more."""
    return may_use_queues(user)


def may_change_ticket(user, ticket: Ticket) -> bool:
    """The desk's own bookkeeping on a ticket (priority, the customer clock)."""
    return staff_may(user, "tickets.change_ticket")


def api_allows(user, perms_by_method: dict[str, str], method: str) -> bool:
    """The staff side of the API: the Django permission the endpoint names for this method. Customers pass here;
    what they see and do is decided object by object by the functions above."""
    if user is None or not user.is_authenticated:
        return False
    if not user.is_staff:
        return True
    perm = perms_by_method.get(method) or perms_by_method.get("GET" if method in ("HEAD", "OPTIONS") else "")
    return perm is not None and staff_may(user, perm)


# -- who is told ------------------------------------------------------------------------------------------------

# The account's members an email about the account goes to, by event: SPEC §4 (every port-out request, and the
# port-out lock switched off, to the owner and billing admins), the verification lockout to the owner.
ACCOUNT_NOTICE_ROLES: dict[str, tuple[str, ...]] = {
    "port_out_alert": PORT_OUT_ALERT_ROLES,
    "port_out_lock_off": PORT_OUT_ALERT_ROLES,
    "verification_locked": (Membership.Role.OWNER,),
}


def account_notice_members(account: Account, event: str) -> list[Membership]:
    """The active members told of this event on the account (ACCOUNT_NOTICE_ROLES), owner first, each once."""
    order = {role: n for n, role in enumerate(Membership.Role.values)}
    members = account.memberships.filter(role__in=ACCOUNT_NOTICE_ROLES[event], user__is_active=True)
    return sorted(members.select_related("user"), key=lambda m: (order[m.role], m.user.email))


def notice_recipients(ticket: Ticket, event: str) -> list[str]:
    """Who an email about the ticket goes to: the requester while they are still a member of the account, the
    contact address given on the request, and for a completed account cancellation the owner too (U10: the
    cancellation has just removed their access, the confirmation still reaches them). Never staff: their words
    reach customers through public comments. Once the account is not active, nobody hears about its other cases:
    its cancellation (U10's confirmation lists the cases it closed) and a reactivation alone still write (SPEC §4,
    "Account lifecycle")."""
    kind = registry.spec(ticket.kind)  # which kinds still write, and which reach the owner: their specs say
    if ticket.account.status != Account.Status.ACTIVE and not kind.writes_once_closed:
        return []
    emails: list[str] = []
    members = dict(ticket.account.memberships.values_list("user_id", "user__email"))
    if ticket.requester_id in members and members[ticket.requester_id]:
        emails.append(members[ticket.requester_id])
    if "@" in ticket.contact and ticket.contact not in emails:
        emails.append(ticket.contact)
    if event == "completed" and kind.closes_account:
        owner = ticket.account.owner
        if owner and owner.email not in emails:
            emails.append(owner.email)
    return emails
