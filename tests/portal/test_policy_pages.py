"""The policy's portal-facing settings (issue 13): the holds page only where holds are refused (K1), offers that
follow the exit-survey answer (S2, U9), the provider's contact routes wherever a customer must email or phone (K6,
K9, U7), each preset's own acknowledgements (U6, S6), and the cancelled customer's sign-in."""

import re

import pytest
from django.urls import reverse

from billing.models import EXIT_REASONS, Plan, Policy
from tests.factories import PASSWORD
from tickets import services
from tickets.models import ExitReason, Kind, RetentionOutcome

pytestmark = pytest.mark.django_db


def text(response) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").replace("&amp;", "&")


def step_url(account, step=None):
    if step is None:
        return reverse("portal:cancel", args=[account.account_id])
    return reverse("portal:cancel_step", args=[account.account_id, step])


def pause_url(account):
    return reverse("portal:pause", args=[account.account_id])


# -- K1: the pause page ----------------------------------------------------------------------------------------


def test_kixie_refuses_holds_and_offers_the_alternatives(cast, signed_in):
    # rule K1
    people = cast("kixie", plan=Plan.objects.get(name="Power Dialer"))
    client = signed_in(people.owner)
    assert (
        f'href="{pause_url(people.account)}"'
        in client.get(reverse("portal:dashboard", args=[people.account.account_id])).content.decode()
    )
    page = text(client.get(pause_url(people.account)))
    assert "Accounts cannot be put on hold and billing cannot be paused." in page
    assert "Downgrade to Integrated" in page and "$35.00 USD per seat" in page
    assert "Cancel the account" in page


@pytest.mark.parametrize("preset", ["avoxi", "kustomer", "smrtphone"])
def test_no_pause_page_where_the_source_says_nothing_of_holds(cast, signed_in, preset):
    # rule K1: only Kixie's policy refuses holds with alternatives; elsewhere the page is neither there nor linked
    people = cast(preset)
    client = signed_in(people.owner)
    assert client.get(pause_url(people.account)).status_code == 404
    dashboard = client.get(reverse("portal:dashboard", args=[people.account.account_id])).content.decode()
    assert pause_url(people.account) not in dashboard and "Pause my account" not in dashboard


# -- S2, U9: offers that follow the survey answer ------------------------------------------------------------------


def offers_after(client, account, reason: str):
    client.post(step_url(account))
    response = client.post(step_url(account, "survey"), {"reason": reason})
    return response


def test_smrtphone_offers_a_meeting_for_a_quality_answer(cast, signed_in):
    # rule S2: "depending on your responses" the survey leads to a meeting with customer success
    people = cast("smrtphone")
    client = signed_in(people.owner)
    response = offers_after(client, people.account, "low_quality")
    assert response.url == step_url(people.account, "offers")
    page = text(client.get(response.url))
    assert "You told us: Quality was less than expected ." in page
    assert "Book a meeting" in page and "Keep my account" in page
    assert RetentionOutcome.objects.get(account=people.account).offers_shown == ["meeting"]


def test_smrtphone_goes_straight_on_to_confirm_for_a_customer_who_switched(cast, signed_in):
    # rule S2: an answer no meeting could answer goes on to the confirmation steps
    people = cast("smrtphone")
    client = signed_in(people.owner)
    response = offers_after(client, people.account, "switched_service")
    assert response.url == step_url(people.account, "preview")
    assert client.get(step_url(people.account, "offers")).status_code == 404


def test_kustomer_offers_depend_on_the_reason(cast, signed_in):
    # rule U9: alternatives "to address these issues": a price answer gets the downgrade too, a missing feature
    # only the meeting
    people = cast("kustomer_premium", plan=Plan.objects.get(policy__preset="kustomer_premium"))
    client = signed_in(people.owner)
    page = text(client.get(offers_after(client, people.account, "too_expensive").url))
    assert "Downgrade to Essentials" in page and "Book a meeting" in page
    page = text(client.get(offers_after(client, people.account, "missing_features").url))
    assert "Book a meeting" in page and "Downgrade to Essentials" not in page


def test_every_preset_maps_only_known_reasons_to_offers_it_enables(db):
    # rule S2 U9: the migration's mappings are valid data, and the model's list is Stripe's eight reasons
    assert sorted(EXIT_REASONS) == sorted(ExitReason.values)
    for policy in Policy.objects.all():
        policy.full_clean()
        for reason in EXIT_REASONS:
            for offer in policy.offers_for_reason(reason):
                assert getattr(policy, f"offer_{offer}"), (policy.preset, reason, offer)


def test_a_mapping_with_an_unknown_reason_is_refused(db):
    policy = Policy.objects.get(preset="smrtphone")
    policy.offers_by_reason = {"bored": ["meeting"]}
    with pytest.raises(Exception, match="Offers per reason"):
        policy.full_clean()


# -- K6, K9, U7: contact routes ------------------------------------------------------------------------------------


def test_k6_page_gives_the_email_and_phone_it_sends_customers_to(cast, signed_in):
    # rule K6: "handled by email or phone only", with the address, the number and the hours
    people = cast("kixie")
    people.policy.support_phone = "+1 888 555 0100"
    people.policy.save()
    page = signed_in(people.owner).get(step_url(people.account)).content.decode()
    assert "email or phone only" in page
    assert 'href="mailto:support@kixie.com"' in page
    assert 'href="tel:+18885550100"' in page
    assert "Monday–Friday 06:00–17:00 (America/Los_Angeles)" in page


# -- U6, S6: acknowledgements ----------------------------------------------------------------------------------------


def test_kustomer_acknowledges_its_60_day_window_not_smrtphones_words(cast, signed_in):
    # rule U4 U5 U6 U7 (and S6 stays smrtPhone's)
    people = cast("kustomer")
    client = signed_in(people.owner)
    client.post(step_url(people.account))
    client.post(step_url(people.account, "survey"), {"reason": "switched_service"})
    client.post(step_url(people.account, "preview"))
    page = text(client.get(step_url(people.account, "acknowledge")))
    assert "deleted 60 days after the cancellation" in page
    assert "restarted by contacting billing" in page
    assert "I have saved any information I need" in page
    assert "permanently deleted" not in page and "call flows" not in page
    smrtphone = Policy.objects.get(preset="smrtphone")
    assert "data_deleted" in smrtphone.acknowledgements  # rule S6
    assert "call flows" in smrtphone.acknowledgement_text("data_deleted")


# -- the cancelled customer's sign-in ----------------------------------------------------------------------------------


def cancel_kustomer(people):
    ticket = services.submit_ticket(
        account=people.account,
        kind=Kind.ACCOUNT_CANCELLATION,
        requester=people.owner,
        request=services.Request(reason="unused", acknowledgements=list(people.policy.acknowledgements)),
    )
    ticket.refresh_from_db()
    assert ticket.state == "completed"


def test_a_cancelled_customer_with_the_right_password_is_told_how_to_reactivate(cast, client):
    # rule U7 K9 (SPEC §5: a person whose account was cancelled asks for reactivation through the contact routes)
    people = cast("kustomer")
    people.policy.support_email = "billing@kustomer.test"
    people.policy.save()
    cancel_kustomer(people)
    response = client.post(reverse("login"), {"username": people.member.email, "password": PASSWORD}, follow=True)
    page = text(response)
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert f"{people.account.name} ({people.account.account_id})" in page and "Cancelled on" in page
    assert "A reactivation is asked for by the account's Owner" in page  # U1: a member asks an admin, or billing
    assert "billing@kustomer.test" in page
    assert "Please enter a correct email" not in page


def test_a_wrong_password_reveals_nothing_about_the_cancellation(cast, client):
    # rule U7: without the password the form says what it says to anyone
    people = cast("kustomer")
    cancel_kustomer(people)
    page = text(client.post(reverse("login"), {"username": people.member.email, "password": "wrong-password"}))
    assert "Please enter a correct email address and password" in page
    assert "cancelled" not in page and people.account.name not in page


def test_the_cancelled_answer_counts_one_failure_like_any_refused_sign_in(cast, client, settings):
    # django-axes counts the refused authentication once; the form's own password check adds nothing
    from axes.models import AccessAttempt

    settings.AXES_ENABLED = True
    people = cast("kustomer")
    cancel_kustomer(people)
    client.post(reverse("login"), {"username": people.member.email, "password": PASSWORD})
    assert AccessAttempt.objects.get().failures_since_start == 1
