"""The accessibility statement (issue 28, SPEC §6 "Accessibility"): open to anyone, it says what the service meets,
how it was checked, its known gaps, and where to report a barrier (the provider's contact routes from the policy);
every portal page and the agent desk link to it from the footer."""

import pytest
from django.urls import reverse

from billing.models import Policy

pytestmark = pytest.mark.django_db


def test_the_statement_is_open_without_signing_in_and_names_the_standard(client, cast):
    # SPEC §6 accessibility: the statement the European Accessibility Act asks a service provider to publish
    cast("smrtphone")
    page = client.get(reverse("portal:accessibility")).content.decode()
    for heading in ("What this service meets", "How it was checked", "Known gaps", "Report a barrier"):
        assert f"<h2>{heading}</h2>" in page
    assert "WCAG 2.1 level AA (EN 301 549)" in page and "axe-core 4.12.1" in page


def test_a_signed_in_customer_reports_a_barrier_to_their_own_provider(client, cast):
    # SPEC §6 accessibility: the barrier goes to the provider whose customer you are, by the policy's routes
    people = cast("smrtphone")
    other = Policy.objects.exclude(name=people.policy.name).exclude(support_email="").first()
    people.policy.support_email, people.policy.support_phone = "access@smrtphone.example", "+1 555 0100"
    people.policy.save(update_fields=["support_email", "support_phone"])
    client.force_login(people.member)
    page = client.get(reverse("portal:accessibility")).content.decode()
    assert 'href="mailto:access@smrtphone.example"' in page and 'href="tel:+15550100"' in page
    assert other is None or f"<h3>{other.name}</h3>" not in page


def test_anybody_else_is_shown_every_providers_routes(client, cast):
    # SPEC §6 accessibility: a barrier may be the sign-in itself, so the page lists every provider signed out
    cast("smrtphone")
    names = set(Policy.objects.values_list("name", flat=True))
    page = client.get(reverse("portal:accessibility")).content.decode()
    assert names and all(f"<h3>{name}</h3>" in page for name in names)


def test_every_portal_footer_links_to_the_statement(client, cast):
    # SPEC §6 accessibility: linked from every portal footer (base.html), the staff queues included
    people = cast("kixie")
    link = f'<a href="{reverse("portal:accessibility")}">Accessibility statement</a>'
    assert link in client.get(reverse("login")).content.decode()
    client.force_login(people.owner)
    assert link in client.get(reverse("portal:dashboard", args=[people.account.account_id])).content.decode()
    client.force_login(people.agent)
    assert link in client.get(reverse("queues:overview")).content.decode()
