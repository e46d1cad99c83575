"""The accessibility statement (issue 28): the page the European Accessibility Act asks a service to publish.

It says what the service meets, how that was checked, what is known not to meet it, and how to report a barrier:
to the provider whose customer you are, through the contact routes of that provider's policy. A signed-in customer
sees their own providers' routes; anybody else sees every provider's, because a barrier may be the sign-in itself.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.models import Policy
from tickets.portal import selectors

STANDARD = "WCAG 2.1 level AA (EN 301 549)"
CHECKED_WITH = "axe-core 4.12.1"  # the copy axe-playwright-python 0.1.8 ships (tests/browser/test_crawler.py)


def providers_to_report_to(request: HttpRequest) -> list[Policy]:
    """The policies whose contact routes the statement lists, one per provider name."""
    policies = Policy.objects.order_by("name", "pk")
    if request.user.is_authenticated:
        memberships = selectors.memberships_of(request.user).select_related("account__plan")
        mine = [membership.account.plan.policy_id for membership in memberships]
        if mine:
            policies = policies.filter(pk__in=mine)
    by_name: dict[str, Policy] = {}
    for policy in policies:
        if policy.name not in by_name or (policy.has_contact_routes and not by_name[policy.name].has_contact_routes):
            by_name[policy.name] = policy
    return list(by_name.values())


def statement(request: HttpRequest) -> HttpResponse:
    """Open to everyone, signed in or not: a barrier may keep someone from signing in."""
    context = {"providers": providers_to_report_to(request), "standard": STANDARD, "checked_with": CHECKED_WITH}
    return render(request, "portal/accessibility.html", context)
