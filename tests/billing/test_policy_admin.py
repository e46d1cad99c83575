"""Bad policy data typed into the admin shows an error on its field and saves nothing; it is never a 500."""

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from billing.models import Policy
from tests.admin_forms import changeform_post_data
from tickets.models import Kind, Ticket

pytestmark = pytest.mark.django_db

DEEP = "[" * 5000
# Parses within Python's recursion limit but is far deeper than any policy.
DEEP_BUT_PARSEABLE = "[" * 900 + "]" * 900

BAD_VALUES = [
    # element types checked before membership (unhashable values raised TypeError)
    ("intake_channels", "[[1]]"),
    ("acknowledgements", '[{"a": 1}]'),
    ("required_info", "[[1]]"),
    ("kind_routes", '{"a": [1]}'),
    ("addon_routes", '{"a": {"b": 1}}'),
    # a directory of the tz database (IsADirectoryError)
    ("intake_time_zone", "Europe"),
    # JSON null (NOT NULL IntegrityError) and the wrong container, which Django's validators skip when empty
    ("sla_targets", "null"),
    ("acknowledgements", "null"),
    ("required_info", "null"),
    ("kind_routes", "null"),
    ("addon_routes", "null"),
    ("license_minimums", "null"),
    ("request_roles", "null"),
    ("intake_channels", "null"),
    ("intake_weekdays", "null"),
    ("kind_routes", "[]"),
    ("addon_routes", "[]"),
    ("license_minimums", "[]"),
    ("acknowledgements", "{}"),
    ("required_info", "{}"),
    ("sla_targets", "[]"),
    ("sla_targets", '""'),
    # nesting deep enough for RecursionError, or for re-rendering the page to hit it
    ("sla_targets", DEEP),
    ("license_minimums", DEEP),
    ("request_roles", DEEP_BUT_PARSEABLE),
    # SLA targets of the wrong shape (they crashed the manager queues)
    ("sla_targets", '"x"'),
    ("sla_targets", "[1]"),
    ("sla_targets", '{"default": "x"}'),
    ("sla_targets", '{"default": {"resolution": "abc"}}'),
    ("sla_targets", '{"default": {"first_response": null}}'),
    ("sla_targets", '{"default": {"first_response": true}}'),
    ("sla_targets", '{"default": {"first_response": 0}}'),
    ("sla_targets", '{"default": {"first_response": -4}}'),
    ("sla_targets", '{"default": {"first_response": NaN}}'),
    ("sla_targets", '{"port_out": {"resolution": 1e20}}'),
    ("sla_targets", '{"port_out": {"resolution": 10001}}'),
    ("sla_targets", '{"port_out": {"resolve": 8}}'),
    ("sla_targets", '{"refund": {"resolution": 8}}'),
    # A8, A9, A11: add-on tiers map a known product to distinct, named tiers
    ("addon_tiers", "null"),
    ("addon_tiers", "[]"),
    ("addon_tiers", '{"banana": ["Split"]}'),
    ("addon_tiers", '{"jetpack": "Jetpack Plus"}'),
    ("addon_tiers", '{"jetpack": ["", "Jetpack Plus"]}'),
    ("addon_tiers", '{"jetpack": ["Jetpack Plus", "Jetpack Plus"]}'),
    ("addon_tiers", '{"jetpack": [1]}'),
    # numbers that overflow date arithmetic
    ("billing_cutoff_days", "800000"),
    ("retention_days", "800000"),
    ("minimum_term_months", "800000"),
    ("port_out_deadline_hours", "800000"),
]


def change_form(admin_client, policy: Policy) -> tuple[str, dict]:
    url = reverse("admin:billing_policy_change", args=[policy.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    return url, changeform_post_data(response)


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=lambda v: v[:40])
def test_a_bad_value_is_an_error_on_its_field_and_nothing_is_saved(admin_client, field, value):
    policy = Policy.objects.get(preset="avoxi")
    before = model_to_dict(policy)
    url, data = change_form(admin_client, policy)
    data[field] = value
    response = admin_client.post(url, data)
    assert response.status_code == 200  # the form again, not a redirect or a 500
    assert response.context["adminform"].form.errors.keys() == {field}
    assert f'id="id_{field}_error"' in response.content.decode()
    policy.refresh_from_db()
    assert model_to_dict(policy) == before


@pytest.mark.parametrize(
    ("field", "value", "saved"),
    [
        ("sla_targets", '{"default": {"first_response": 2.5, "resolution": 10000}}', None),
        ("sla_targets", '{"port_out": {"resolution": 8}, "downgrade": {}}', None),
        ("sla_targets", "{}", {}),
        ("kind_routes", "{}", {}),
        ("acknowledgements", "[]", []),
        ("intake_time_zone", "Europe/Berlin", None),
        ("billing_cutoff_days", "30", 30),
        ("retention_days", "3650", 3650),
        ("minimum_term_months", "12", 12),
        ("port_out_deadline_hours", "720", 720),
    ],
)
def test_sensible_values_still_save(admin_client, field, value, saved):
    policy = Policy.objects.get(preset="avoxi")
    url, data = change_form(admin_client, policy)
    data[field] = value
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy.refresh_from_db()
    if saved is not None:
        assert getattr(policy, field) == saved


def test_every_shipped_preset_resubmits_unchanged(admin_client):
    for policy in Policy.objects.all():
        url, data = change_form(admin_client, policy)
        assert admin_client.post(url, data).status_code == 302, policy.preset


def test_every_policy_of_the_data_migration_passes_full_clean():
    policies = list(Policy.objects.all())
    assert len(policies) >= 5
    for policy in policies:
        policy.full_clean()


@pytest.mark.parametrize(
    "stored",
    ["x", [1], {"default": "x"}, {"default": {"resolution": "abc"}}, {"port_out": {"resolution": 1e20}}],
    ids=str,
)
def test_queues_fall_back_to_default_targets_for_a_bad_row_saved_before_validation(client, cast, stored):
    people = cast("kixie")
    Ticket.objects.create(account=people.account, kind=Kind.PORT_OUT)
    Policy.objects.filter(pk=people.policy.pk).update(sla_targets=stored)
    client.force_login(people.manager)
    response = client.get(reverse("queues:list"), {"state": "all"})
    assert response.status_code == 200
    [row] = response.context["page"].rows
    assert row.sla.target_hours == 4.0  # the default first-response target


def test_an_admin_edits_each_addons_tiers_in_the_policy_editor(admin_client, cast):
    # rule A8: the tiers are data a provider edits, one a line per add-on; a change may then move to a new one
    from accounts import services as provisioning
    from tickets.services import Request, submit_ticket

    policy = Policy.objects.get(preset="avoxi")
    url, data = change_form(admin_client, policy)
    page = admin_client.get(url).content.decode()
    assert "Tiers or packages each add-on comes in" in page and "1,000 tests" in page
    data["addon_tiers__edit_0"] = "Starter\n  Pro  \n\nUltra"  # Call Insights, the first row
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy.refresh_from_db()
    assert policy.addon_tiers["call_insights"] == ["Starter", "Pro", "Ultra"]
    assert policy.addon_tiers["jetpack"] == ["Jetpack Standard", "Jetpack Plus", "Jetpack Max"]  # left as it was
    people = cast("avoxi")
    insights = provisioning.add_addon(account=people.account, product="call_insights", tier="Pro")
    info = {"full_name": "Ava Owner", "company": "Acme", "contact": "ava@acme.test"}
    submit_ticket(
        account=people.account,
        kind="addon_change",
        requester=people.owner,
        request=Request(addon=insights, tier="Ultra", **info),
    )
    insights.refresh_from_db()
    assert insights.tier == "Ultra"
