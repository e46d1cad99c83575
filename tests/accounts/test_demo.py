import io

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Account, Membership, Tombstone, User
from billing.models import AddOn, CardOnFile, CreditEntry, Invoice, License
from numbers.models import PhoneNumber
from tickets import access
from tickets.management.commands.demo import ACCOUNTS, DEMO_PASSWORD

pytestmark = pytest.mark.django_db
OUR_APPS = ["accounts", "billing", "numbers", "tickets"]


def counts() -> dict[str, int]:
    models = [m for label in OUR_APPS for m in apps.get_app_config(label).get_models()]
    return {m._meta.label: m.objects.count() for m in models}


def demo_account_name(preset: str) -> str:
    return next(spec.name for spec in ACCOUNTS if spec.preset == preset)


def load_demo() -> str:
    out = io.StringIO()
    call_command("demo", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_demo_twice_leaves_the_same_data():
    load_demo()
    first = counts()
    load_demo()
    assert counts() == first


def test_demo_loads_an_account_per_preset_with_every_role():
    load_demo()
    preset_accounts = Account.objects.filter(name__in=[spec.name for spec in ACCOUNTS])
    presets = sorted(preset_accounts.values_list("plan__policy__preset", flat=True))
    assert presets == ["avoxi", "kixie", "kustomer", "kustomer_premium", "smrtphone"]
    for account in preset_accounts:
        assert set(account.memberships.values_list("role", flat=True)) == set(Membership.Role.values)
        assert account.numbers.exists()
        assert account.subscription


def test_demo_kixie_is_on_the_higher_plan_with_an_overdue_invoice_and_a_card():
    load_demo()
    kixie = Account.objects.get(name=demo_account_name("kixie"))
    assert not kixie.plan.is_lowest  # rule K2: a downgrade has somewhere to go
    assert Invoice.objects.outstanding().filter(account=kixie).exists()  # rule K10
    assert CardOnFile.objects.get(account=kixie).last4 == "4242"  # rule K7


def test_demo_avoxi_has_licenses_and_every_addon():
    load_demo()
    avoxi = Account.objects.get(name=demo_account_name("avoxi"))
    contact_center = License.objects.get(account=avoxi, product="contact_center")
    assert (contact_center.quantity, contact_center.minimum) == (5, 3)  # rule A10
    products = set(AddOn.objects.filter(account=avoxi).values_list("product", flat=True))
    assert products == set(AddOn.Product.values)
    assert AddOn.objects.filter(account=avoxi, initial_ucaas=True).count() == 1  # rule A6
    assert avoxi.account_manager.is_staff  # rule A11


def test_demo_smrtphone_has_credit_and_a_port_out_in_progress():
    load_demo()
    smrtphone = Account.objects.get(name=demo_account_name("smrtphone"))
    assert CreditEntry.balance_of(smrtphone) > 0  # rule S7
    assert smrtphone.numbers.filter(status=PhoneNumber.Status.PORTING_OUT).exists()  # rule S10


def test_demo_prints_logins_that_work():
    output = load_demo()
    for email in ["agent@exitdesk.demo", "manager@exitdesk.demo", "admin@exitdesk.demo", "owner@kixie.demo"]:
        assert email in output
        assert authenticate(email=email, password=DEMO_PASSWORD) is not None, email
    assert DEMO_PASSWORD in output
    assert authenticate(email="admin@exitdesk.demo", password=DEMO_PASSWORD).is_superuser
    assert access.is_manager(authenticate(email="manager@exitdesk.demo", password=DEMO_PASSWORD))


def test_demo_has_a_former_member_who_signs_in_and_a_purged_account(client):
    # SPEC §4 "Account lifecycle" (K9, U6, U7): the printed former member reaches the former-member page; one
    # account went through the purge (its tombstone stays, its owner is gone)
    output = load_demo()
    assert "owner@former.demo" in output
    signed_in = client.post(reverse("login"), {"username": "owner@former.demo", "password": DEMO_PASSWORD})
    assert signed_in.url == reverse("former_member")
    page = client.get(reverse("former_member")).content.decode()
    assert "Kustomer Demo Former Customer" in page and "You asked to reactivate it on" in page
    purged = Account.objects.get(status=Account.Status.PURGED)
    assert purged.name == purged.account_id  # the purge keeps the row, named by its ID
    assert Tombstone.objects.get(account=purged).finished_at is not None
    assert not Membership.objects.filter(account=purged).exists()
    assert not User.objects.filter(email="owner@purged.demo").exists()


# The demo's emails are sent when its transaction commits: these two tests commit for real.
@pytest.mark.django_db(transaction=True)
def test_demo_is_quiet_by_default_and_ends_with_the_login_table(settings, tasks_in_process, tmp_path, capsys):
    # issue 17: emails went to the console (about 480 lines) before the logins; now they are files
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    out = io.StringIO()
    call_command("demo", stdout=out, stderr=io.StringIO(), emails_to=str(tmp_path))
    printed = out.getvalue() + capsys.readouterr().out
    assert "Subject:" not in printed and "Hello " not in printed  # no email body anywhere
    assert any(path.read_text().count("Subject:") for path in tmp_path.iterdir())  # they are in the folder
    assert len(printed.splitlines()) < 60
    assert "Port-out PIN of each preset's demo account: 2468" in printed
    table = printed.split("Logins (every one uses the password demo-pass-2026):")[1].strip().splitlines()
    assert table[0].split() == ["role", "email", "password", "account", "preset"]
    rows = [line.split("  ") for line in table[2:]]
    # every staff login, every role of every preset, then the former member: the table ends the output
    assert len(rows) == 4 + 5 * 4 + 1
    assert table[-1].split()[:4] == ["former", "member", "(owner)", "owner@former.demo"]
    assert "owner@kixie.demo" in table[6] and table[6].split()[-1] == "kixie"
    assert "billing admin" in table[8] and "Kixie Demo Dialers" in table[8]
    assert "agent@exitdesk.demo" in table[2] and DEMO_PASSWORD in table[2]


@pytest.mark.django_db(transaction=True)
def test_demo_verbose_prints_the_emails(settings, tasks_in_process, tmp_path, capsys):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    call_command("demo", "--verbose", stdout=io.StringIO(), stderr=io.StringIO(), emails_to=str(tmp_path))
    assert "Subject:" in capsys.readouterr().out
    assert not any(tmp_path.iterdir())
