"""tickets/access_table.py, run against every interface: for each rule and each person, the portal, the API, the
admin and the queues must all answer what the table says (SPEC §5), so they agree with one another.

The portal is the customers' interface and the admin the staff's; the API and the queues answer both. A probe
returns True (done or shown), False (refused or hidden), or None where the interface does not offer the action
(staff set a priority in the admin, not through the API). Each probe runs in a savepoint rolled back after it.
"""

from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services as provisioning
from billing.models import CardOnFile
from tests.factories import PASSWORD, PIN, AttachmentFactory, StaffFactory, TicketFactory, move_account, preset_plan
from tickets import services
from tickets.access_table import ROLES, TABLE, Rule, as_markdown
from tickets.models import Comment, Kind, Ticket

# "sign-in" is the former-member page, reached through the sign-in form (or the portal's home) by anyone who tries.
CUSTOMER_SIDE = ("portal", "api", "queues", "sign-in")
STAFF_SIDE = ("api", "admin", "queues", "sign-in")
STAFF_ROLES = {"agent", "account_manager", "manager", "no_group"}


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def scene(cast, settings, tmp_path):
    """The cast of tickets/access_table.py on a Kixie account, with one of every object the table names."""
    people = cast("kixie")
    account = people.account
    people.no_group = StaffFactory(email="no-group@exitdesk.test", groups=["no such group"])
    colleague = StaffFactory(email="colleague-agent@exitdesk.test")
    numbers = [provisioning.add_number(account=account, number=f"+1415555013{i}") for i in range(4)]
    provisioning.add_invoice(account=account, amount="20.00", due_date="2030-01-01", status="paid")
    card = provisioning.set_card(account=account, brand="Visa", last4="4242")

    def port_out(number):
        return services.submit_ticket(
            account=account,
            kind="port_out",
            requester=people.owner,
            request=services.Request(
                numbers=[number], gaining_carrier="Telnyx", authorized_name=people.owner.full_name, pin=PIN
            ),
        )

    owners_case = port_out(numbers[0])
    settings.MEDIA_ROOT = tmp_path
    attachment = AttachmentFactory(ticket=owners_case, uploaded_by=people.owner)
    private_attachment = AttachmentFactory(ticket=owners_case, name="from-a-stranger.pdf", public=False)
    Comment.objects.create(ticket=owners_case, author=colleague, body="private-probe-7731", public=False)
    Comment.objects.create(ticket=owners_case, author=colleague, body="We are on it", public=True)
    verified_case = port_out(numbers[1])
    services.transition_ticket(ticket=verified_case, name="verify", actor=colleague, note="staff-note-7731")
    members_case = TicketFactory(
        kind="number_cancellation", account=account, requester=people.member, assignee=colleague
    )

    gone = provisioning.create_account(name="Gone customer", plan=people.plan)
    provisioning.add_member(account=gone, email=people.owner.email, full_name="", role="owner")
    people.former_member = provisioning.add_member(
        account=gone, email="former@kixie.test", full_name="Fay Former", role="super_admin", password=PASSWORD
    ).user
    move_account(gone, "cancel")
    people.former_member.is_active = False  # K8, U5: the cancellation removed their access (their only account)
    people.former_member.save(update_fields=["is_active"])

    # U3, A11: another account's Jetpack cancellation, routed to its account manager (an agent) and verified.
    people.account_manager = StaffFactory(email="csm@exitdesk.test", full_name="Casey Success")
    routed = provisioning.create_account(name="Routed customer", plan=preset_plan("avoxi"), port_out_pin=PIN)
    routed.account_manager = people.account_manager
    routed.save(update_fields=["account_manager"])
    routed_owner = provisioning.add_member(account=routed, email="owner@routed.test", full_name="Rae", role="owner")
    routed_case = services.submit_ticket(
        account=routed,
        kind=Kind.ADDON_CANCELLATION,
        requester=routed_owner.user,
        request=services.Request(
            addon=provisioning.add_addon(account=routed, product="jetpack"),
            full_name="Rae",
            company="Routed",
            contact="owner@routed.test",
        ),
    )
    assert routed_case.route == "account_manager"
    routed_case = services.transition_ticket(ticket=routed_case, name="verify", actor=colleague)
    return SimpleNamespace(
        people=people,
        account=account,
        gone=gone,
        colleague=colleague,
        numbers=numbers,
        card=card,
        owners_case=owners_case,
        attachment=attachment,
        private_attachment=private_attachment,
        verified_case=verified_case,
        members_case=members_case,
        routed_case=routed_case,
    )


def _clients(user) -> SimpleNamespace:
    web = Client()
    api = APIClient()
    if user.is_active:
        web.force_login(user)
        api.force_authenticate(user)
    else:
        # A former member has what they really get: the sign-in form's former-member session, and no API (the
        # cancellation revoked their tokens; an inactive user's token is refused).
        assert web.post(reverse("login"), {"username": user.email, "password": PASSWORD}).status_code == 302
    return SimpleNamespace(web=web, api=api, user=user)


def _former_page(s, c) -> bool:
    response = c.web.get(reverse("former_member"))
    return response.status_code == 200 and s.gone.account_id in response.content.decode()


def _ask_reactivation(s, c) -> bool:
    c.web.post(reverse("former_member"), {"account": s.gone.account_id})
    return Ticket.objects.filter(account=s.gone, kind=Kind.REACTIVATION, requester=c.user).exists()


# -- the probes: (object, action) → interface → probe(scene, clients) ------------------------------------------


def _ok(response, code: int = 200) -> bool:
    return response.status_code == code


def _state(ticket: Ticket) -> str:
    return Ticket.objects.values_list("state", flat=True).get(pk=ticket.pk)


def _admin_change(c, ticket: Ticket, **changes):
    data = {"priority": ticket.priority, "assignee": ticket.assignee_id or ""}
    for prefix in ("log", "comments", "attachments"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update(changes)
    return c.web.post(reverse("admin:tickets_ticket_change", args=[ticket.pk]), data)


def _admin_transition(c, ticket: Ticket, name: str, target: str, **data) -> bool:
    c.web.post(reverse("admin:tickets_ticket_transition", args=[ticket.pk, name]), data)
    return _state(ticket) == target


def _api_transition(c, ticket: Ticket, name: str, **data) -> bool:
    return _ok(c.api.post(f"/api/v1/tickets/{ticket.pk}/transitions/", {"name": name, **data}, format="json"))


def _text(response) -> str:
    return response.content.decode() if response.status_code == 200 else ""


def _portal_page(s, c, ticket):
    return _text(c.web.get(reverse("portal:ticket", args=[ticket.pk])))


def _api_ticket(s, c, ticket):
    return _text(c.api.get(f"/api/v1/tickets/{ticket.pk}/"))


def _admin_page(s, c, ticket):
    return _text(c.web.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])))


def _reads_ticket(attr: str) -> dict:
    return {
        "portal": lambda s, c: _ok(c.web.get(reverse("portal:ticket", args=[getattr(s, attr).pk]))),
        "api": lambda s, c: _ok(c.api.get(f"/api/v1/tickets/{getattr(s, attr).pk}/")),
        "admin": lambda s, c: _ok(c.web.get(reverse("admin:tickets_ticket_change", args=[getattr(s, attr).pk]))),
    }


def _reads_account(attr: str) -> dict:
    return {
        "portal": lambda s, c: _ok(c.web.get(reverse("portal:dashboard", args=[getattr(s, attr).account_id]))),
        "api": lambda s, c: _ok(c.api.get(f"/api/v1/accounts/{getattr(s, attr).pk}/")),
        "admin": lambda s, c: _ok(c.web.get(reverse("admin:accounts_account_change", args=[getattr(s, attr).pk]))),
    }


def _portal_comment(s, c) -> bool:
    c.web.post(reverse("portal:ticket_comment", args=[s.owners_case.pk]), {"body": "probe comment"})
    return Comment.objects.filter(ticket=s.owners_case, body="probe comment").exists()


def _admin_comment(s, c) -> bool:
    _admin_change(
        c,
        s.owners_case,
        **{"comments-TOTAL_FORMS": "1", "comments-0-body": "probe comment", "comments-0-public": "on"},
    )
    return Comment.objects.filter(ticket=s.owners_case, body="probe comment").exists()


def _api_priority(s, c) -> bool | None:
    if c.user.is_staff:
        return None  # staff set the priority in the admin
    body = {
        "kind": "port_out",
        "account": s.account.pk,
        "numbers": [s.numbers[2].pk],
        "gaining_carrier": "Telnyx",
        "authorized_name": s.people.owner.full_name,
        "pin": PIN,
        "priority": "urgent",
    }
    response = c.api.post("/api/v1/tickets/", body, format="json")
    return response.status_code == 201 and Ticket.objects.get(pk=response.json()["id"]).priority == "urgent"


def _assignee(ticket: Ticket) -> int | None:
    return Ticket.objects.values_list("assignee_id", flat=True).get(pk=ticket.pk)


def _admin_action(c, ticket: Ticket, action: str) -> None:
    url = reverse("admin:tickets_ticket_changelist")
    c.web.post(url, {"action": action, "_selected_action": [ticket.pk], "index": "0"})


PROBES: dict[tuple[str, str], dict] = {
    ("account", "read"): _reads_account("account"),
    ("cancelled account", "read"): _reads_account("gone"),
    ("member's case", "read"): _reads_ticket("members_case"),
    ("owner's case", "read"): _reads_ticket("owners_case"),
    ("owner's case", "comment"): {
        "portal": _portal_comment,
        "api": lambda s, c: _ok(
            c.api.post(f"/api/v1/tickets/{s.owners_case.pk}/comments/", {"body": "probe"}, format="json"), 201
        ),
        "admin": _admin_comment,
    },
    ("owner's case", "withdraw"): {
        "portal": lambda s, c: (
            c.web.post(reverse("portal:ticket_withdraw", args=[s.owners_case.pk])) and _state(s.owners_case)
        )
        == "withdrawn",
        "api": lambda s, c: _api_transition(c, s.owners_case, "withdraw"),
        "admin": lambda s, c: _admin_transition(c, s.owners_case, "withdraw", "withdrawn"),
    },
    ("owner's case", "verify"): {
        "api": lambda s, c: _api_transition(c, s.owners_case, "verify"),
        "admin": lambda s, c: _admin_transition(c, s.owners_case, "verify", "verified"),
    },
    ("owner's case", "reject"): {
        "api": lambda s, c: _api_transition(c, s.owners_case, "reject", reason="No match", code="invalid_pin"),
        "admin": lambda s, c: _admin_transition(
            c, s.owners_case, "reject", "rejected", reason="No match", code="invalid_pin"
        ),
    },
    ("verified case", "approve"): {
        "api": lambda s, c: _api_transition(c, s.verified_case, "approve"),
        "admin": lambda s, c: _admin_transition(c, s.verified_case, "approve", "approved"),
    },
    ("routed case", "approve"): {
        "api": lambda s, c: _api_transition(c, s.routed_case, "approve"),
        "admin": lambda s, c: _admin_transition(c, s.routed_case, "approve", "approved"),
    },
    ("former-member page", "read"): {"sign-in": _former_page},
    ("cancelled account", "ask reactivation"): {"sign-in": _ask_reactivation},
    ("owner's case attachment", "download"): {
        "portal": lambda s, c: _ok(c.web.get(reverse("portal:attachment", args=[s.owners_case.pk, s.attachment.pk]))),
        "api": lambda s, c: _ok(c.api.get(f"/api/v1/tickets/{s.owners_case.pk}/attachments/{s.attachment.pk}/")),
        "admin": lambda s, c: _ok(
            c.web.get(reverse("admin:tickets_ticket_attachment", args=[s.owners_case.pk, s.attachment.pk]))
        ),
    },
    ("staff-only attachment", "download"): {
        "portal": lambda s, c: _ok(
            c.web.get(reverse("portal:attachment", args=[s.owners_case.pk, s.private_attachment.pk]))
        ),
        "api": lambda s, c: _ok(
            c.api.get(f"/api/v1/tickets/{s.owners_case.pk}/attachments/{s.private_attachment.pk}/")
        ),
        "admin": lambda s, c: _ok(
            c.web.get(reverse("admin:tickets_ticket_attachment", args=[s.owners_case.pk, s.private_attachment.pk]))
        ),
    },
    ("account", "provision"): {
        "api": lambda s, c: _ok(
            c.api.post("/api/v1/accounts/", {"name": "Probe customer", "plan": s.people.plan.pk}, format="json"), 201
        ),
        "admin": lambda s, c: _ok(c.web.get(reverse("admin:accounts_account_add"))),
    },
    ("private comment", "read"): {
        "portal": lambda s, c: "private-probe-7731" in _portal_page(s, c, s.owners_case),
        "api": lambda s, c: "private-probe-7731" in _text(c.api.get(f"/api/v1/tickets/{s.owners_case.pk}/comments/")),
        "admin": lambda s, c: "private-probe-7731" in _admin_page(s, c, s.owners_case),
    },
    ("check results", "read"): {
        "api": lambda s, c: (
            _ok(response := c.api.get(f"/api/v1/tickets/{s.owners_case.pk}/"))
            and response.json()["checks"] == {"pin": True, "name": True, "numbers_on_account": True}
        ),
        "admin": lambda s, c: "Port-out PIN: passed" in _admin_page(s, c, s.owners_case),  # in words (issue 17)
    },
    ("staff note", "read"): {
        "portal": lambda s, c: "staff-note-7731" in _portal_page(s, c, s.verified_case),
        "api": lambda s, c: "staff-note-7731" in _api_ticket(s, c, s.verified_case),
        "admin": lambda s, c: "staff-note-7731" in _admin_page(s, c, s.verified_case),
    },
    ("staff email", "read"): {
        "portal": lambda s, c: s.colleague.email
        in _portal_page(s, c, s.verified_case) + _portal_page(s, c, s.owners_case),
        "api": lambda s, c: s.colleague.email
        in _api_ticket(s, c, s.verified_case) + _text(c.api.get(f"/api/v1/tickets/{s.owners_case.pk}/comments/")),
        "admin": lambda s, c: s.colleague.email in _admin_page(s, c, s.verified_case),
    },
    ("case priority", "write"): {
        "api": _api_priority,
        "admin": lambda s, c: (_admin_change(c, s.owners_case, priority="urgent") is not None)
        and Ticket.objects.get(pk=s.owners_case.pk).priority == "urgent",
    },
    ("unassigned case", "claim"): {
        "queues": lambda s, c: (c.web.post(reverse("queues:assign"), {"claim": s.owners_case.pk}) is not None)
        and _assignee(s.owners_case) == c.user.pk,
        "admin": lambda s, c: (_admin_action(c, s.owners_case, "claim_selected") is None)
        and _assignee(s.owners_case) == c.user.pk,
    },
    ("agent's case", "reassign"): {
        "queues": lambda s, c: (
            c.web.post(reverse("queues:assign"), {"tickets": [s.members_case.pk], "assignee": "me"}) is not None
        )
        and _assignee(s.members_case) == c.user.pk,
        "admin": lambda s, c: (_admin_change(c, s.members_case, assignee=c.user.pk) is not None)
        and _assignee(s.members_case) == c.user.pk,
    },
    ("numbers", "read"): {
        "portal": lambda s, c: s.numbers[3].number
        in _text(c.web.get(reverse("portal:products", args=[s.account.account_id]))),
        "api": lambda s, c: _ok(c.api.get(f"/api/v1/accounts/{s.account.pk}/numbers/")),
        "admin": lambda s, c: _ok(c.web.get(reverse("admin:numbers_phonenumber_change", args=[s.numbers[3].pk]))),
    },
    ("numbers", "provision"): {
        "api": lambda s, c: _ok(
            c.api.post(f"/api/v1/accounts/{s.account.pk}/numbers/", {"number": "+14155550199"}, format="json"), 201
        ),
        "admin": lambda s, c: _ok(c.web.get(reverse("admin:numbers_phonenumber_add"))),
    },
    ("members", "provision"): {
        "api": lambda s, c: _ok(
            c.api.post(
                f"/api/v1/accounts/{s.account.pk}/members/",
                {"email": "probe-member@kixie.test", "full_name": "Probe", "role": "billing_admin", "password": ""},
                format="json",
            ),
            201,
        )
        or _ok(
            c.api.post(
                f"/api/v1/accounts/{s.account.pk}/members/",
                {"email": "probe-member@kixie.test", "full_name": "Probe", "role": "billing_admin"},
                format="json",
            ),
            201,
        ),
        "admin": lambda s, c: _ok(c.web.get(reverse("admin:accounts_membership_add"))),
    },
    ("invoices", "read"): {
        "api": lambda s, c: _ok(c.api.get(f"/api/v1/accounts/{s.account.pk}/invoices/")),
        "admin": lambda s, c: _ok(c.web.get(reverse("admin:billing_invoice_changelist"))),
    },
    ("card", "read"): {
        "api": lambda s, c: _ok(c.api.get(f"/api/v1/accounts/{s.account.pk}/card/")),
        "admin": lambda s, c: _ok(c.web.get(reverse("admin:billing_cardonfile_change", args=[s.card.pk]))),
    },
    ("card", "write"): {
        "api": lambda s, c: _ok(
            c.api.put(f"/api/v1/accounts/{s.account.pk}/card/", {"brand": "Amex", "last4": "9999"}, format="json")
        ),
        "admin": lambda s, c: (
            c.web.post(
                reverse("admin:billing_cardonfile_change", args=[s.card.pk]),
                {"account": s.account.pk, "brand": "Amex", "last4": "9999"},
            )
            is not None
        )
        and CardOnFile.objects.get(pk=s.card.pk).last4 == "9999",
    },
    ("queue", "export"): {
        "queues": lambda s, c: _ok(c.web.get(reverse("queues:export"))),
    },
    ("account data", "export"): {
        "portal": lambda s, c: _ok(c.web.get(reverse("portal:account_export", args=[s.account.account_id]))),
        "api": lambda s, c: _ok(c.api.get(f"/api/v1/accounts/{s.account.pk}/export/")),
    },
}


def test_the_readme_shows_the_table():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert as_markdown().strip() in "\n".join(line.strip() for line in readme.splitlines())


def test_every_rule_has_probes_and_every_probe_a_rule():
    assert {(rule.object, rule.action) for rule in TABLE} == set(PROBES)


def _run(probe, scene, clients) -> bool | None:
    with transaction.atomic():
        answer = probe(scene, clients)
        transaction.set_rollback(True)
    return answer


@pytest.mark.parametrize("rule", TABLE, ids=lambda rule: f"{rule.object} {rule.action}")
def test_every_interface_answers_as_the_table_says(scene, rule: Rule):
    """SPEC §5: the portal, the API, the admin and the queues give each person the table's answer."""
    clients = {role: _clients(getattr(scene.people, role)) for role in ROLES}
    answers: dict[str, dict[str, bool]] = {}
    for role in ROLES:
        side = STAFF_SIDE if role in STAFF_ROLES else CUSTOMER_SIDE
        for interface, probe in PROBES[(rule.object, rule.action)].items():
            if interface not in side:
                continue
            answer = _run(probe, scene, clients[role])
            if answer is not None:
                answers.setdefault(role, {})[interface] = bool(answer)
    wrong = {
        role: {interface: got for interface, got in by_interface.items() if got != rule.expects(role)}
        for role, by_interface in answers.items()
    }
    wrong = {role: got for role, got in wrong.items() if got}
    assert not wrong, (
        f"{rule.object} / {rule.action}: expected {sorted(rule.allowed)}, these answered otherwise: {wrong}"
    )
    # Every person was asked through at least one interface.
    assert set(answers) == set(ROLES)
