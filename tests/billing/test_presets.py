"""Each shipped preset reproduces the rules of its source document (SPEC §1); one test per rule."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from billing.models import Plan, Policy
from tickets.kinds.registry import route_for

pytestmark = pytest.mark.django_db

KINDS = [
    "account_cancellation",
    "license_cancellation",
    "number_cancellation",
    "addon_cancellation",
    "addon_change",
    "port_out",
    "downgrade",
    "reactivation",
]
PACIFIC_TUESDAY = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)  # a Tuesday


def policy(preset: str) -> Policy:
    return Policy.objects.get(preset=preset)


def at_pacific(hour: int, minute: int = 0, day: dt.datetime = PACIFIC_TUESDAY) -> dt.datetime:
    local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zoneinfo.ZoneInfo("America/Los_Angeles"))
    return local.astimezone(dt.UTC)


def test_a_fresh_install_has_the_five_presets_and_their_plans():
    assert set(Policy.objects.values_list("preset", flat=True)) >= {
        "kixie",
        "avoxi",
        "kustomer",
        "kustomer_premium",
        "smrtphone",
    }
    for preset in ["kixie", "avoxi", "kustomer", "kustomer_premium", "smrtphone"]:
        assert policy(preset).plans.exists()
        policy(preset).full_clean()  # every preset passes the admin's own validation


def test_every_preset_says_who_may_request_every_kind():
    for p in Policy.objects.all():
        assert set(p.request_roles) == set(KINDS), p.preset


def test_no_preset_refunds_prorates_or_offers_holds():
    for p in Policy.objects.all():
        assert p.refunds == "none" and p.downgrade_proration == "none" and not p.holds_offered


# -- Kixie ------------------------------------------------------------------------------------------------
def test_kixie_offers_no_hold_but_the_lowest_plan():
    # rule K1
    p = policy("kixie")
    assert not p.holds_offered
    assert p.offer_downgrade


def test_kixie_has_a_lowest_plan_and_a_higher_one():
    # rule K1, K2: the downgrade goes to Integrated, the lowest plan
    integrated = Plan.objects.get(policy__preset="kixie", name="Integrated")
    power = Plan.objects.get(policy__preset="kixie", name="Power Dialer")
    assert integrated.is_lowest and not power.is_lowest
    assert power.lowest_in_line() == integrated
    assert power.price_per_seat > integrated.price_per_seat


def test_kixie_downgrade_is_not_prorated():
    # rule K2
    assert policy("kixie").downgrade_proration == "none"


def test_kixie_account_cancels_through_support():
    # rule K3
    p = policy("kixie")
    assert p.route == "support_case"
    assert p.allows_role("account_cancellation", "owner")


def test_kixie_has_no_setup_fee_and_no_refunds():
    # rule K4
    p = policy("kixie")
    assert p.refunds == "none"
    assert p.cancellation_fee == Decimal("0")


def test_kixie_requests_must_come_before_the_billing_date():
    # rule K5: the cut-off is the billing date itself
    assert policy("kixie").billing_cutoff_days == 0


def test_kixie_takes_cancellations_by_email_or_phone_weekdays_6_to_17_pacific():
    # rule K6
    p = policy("kixie")
    assert sorted(p.intake_channels) == ["email", "phone"]
    assert p.intake_hours_enforced
    assert p.intake_time_zone == "America/Los_Angeles"
    assert p.within_intake_hours(at_pacific(6, 0))
    assert p.within_intake_hours(at_pacific(16, 59))
    assert not p.within_intake_hours(at_pacific(5, 59))
    assert not p.within_intake_hours(at_pacific(17, 0))
    saturday = PACIFIC_TUESDAY + dt.timedelta(days=4)
    assert not p.within_intake_hours(at_pacific(10, 0, day=saturday))
    assert p.intake_hours_text == "Monday–Friday 06:00–17:00 (America/Los_Angeles)"


def test_kixie_verifies_the_card_on_file():
    # rule K7
    assert policy("kixie").verification_method == "card_last4"


def test_kixie_erases_users_and_settings_at_completion():
    # rule K8: at completion, not after a retention period
    assert policy("kixie").erase_users_at_completion is True


def test_kixie_reactivates_on_request_without_a_deadline():
    # rule K9: open until a purge, and no purge is scheduled: the account and its history stay
    p = policy("kixie")
    assert p.reactivation == "before_purge" and p.purge_scheduled is False


@pytest.mark.parametrize("preset", ["avoxi", "kustomer", "kustomer_premium", "smrtphone"])
def test_other_presets_keep_users_until_the_purge(preset):
    # rule U6, S6: erased by the purge (at once for smrtPhone, retention 0)
    p = policy(preset)
    assert p.erase_users_at_completion is False and p.purge_scheduled is True


@pytest.mark.parametrize("preset", ["kixie", "avoxi", "kustomer", "kustomer_premium", "smrtphone"])
def test_every_preset_closes_on_us_public_holidays(preset):
    # rule K6: one calendar per policy for intake hours and the SLA clock; every source works in US time
    p = policy(preset)
    assert (p.holiday_country, p.holiday_subdivision, p.closed_dates) == ("US", "", [])
    assert p.is_closed_day(dt.date(2026, 11, 26))  # Thanksgiving
    assert not p.is_closed_day(dt.date(2026, 11, 25))


def test_kixie_port_out_balance_rule_is_deny():
    # rule K10: never denied unless payments are outstanding
    assert policy("kixie").port_out_balance_rule == "deny"


def test_kixie_port_outs_are_approved_by_the_provider():
    # rule K11
    p = policy("kixie")
    assert route_for(p, "port_out") == "support_case"
    assert p.allows_role("port_out", "owner")


# -- AVOXI ------------------------------------------------------------------------------------------------
def test_avoxi_has_no_minimum_contract_or_fee():
    # rule A1
    p = policy("avoxi")
    assert p.minimum_term_months == 0
    assert p.cancellation_fee == Decimal("0")


def test_avoxi_numbers_and_licenses_cancel_through_a_case():
    # rule A2
    p = policy("avoxi")
    assert route_for(p, "number_cancellation") == "support_case"
    assert route_for(p, "license_cancellation") == "support_case"


def test_avoxi_requests_carry_name_company_and_contact():
    # rule A4
    assert policy("avoxi").required_info == ["full_name", "company_or_account_id", "contact"]


def test_avoxi_only_super_admins_cancel_licenses():
    # rule A5
    p = policy("avoxi")
    assert p.roles_for("license_cancellation") == ["super_admin"]
    for role in ["owner", "billing_admin", "member"]:
        assert not p.allows_role("license_cancellation", role)


def test_avoxi_sip_trunks_are_self_service_except_initial_ucaas():
    # rule A6
    p = policy("avoxi")
    assert route_for(p, "addon_cancellation", "sip_trunk") == "self_service"
    assert route_for(p, "addon_cancellation", "sip_trunk_initial_ucaas") == "support_case"


def test_avoxi_recordings_are_cancelled_per_number_or_organisation():
    # rule A7
    p = policy("avoxi")
    assert route_for(p, "addon_cancellation", "inbound_recording") == "self_service"
    assert route_for(p, "addon_cancellation", "outbound_recording") == "self_service"


def test_avoxi_call_insights_is_self_service():
    # rule A8
    assert route_for(policy("avoxi"), "addon_cancellation", "call_insights") == "self_service"


def test_avoxi_number_testing_is_self_service():
    # rule A9
    assert route_for(policy("avoxi"), "addon_cancellation", "number_testing") == "self_service"


def test_avoxi_keeps_three_contact_center_licenses():
    # rule A10
    p = policy("avoxi")
    assert p.license_minimum("contact_center") == 3
    assert p.license_minimum("agent_seat") == 0
    assert route_for(p, "license_cancellation") == "support_case"


def test_avoxi_jetpack_goes_through_the_account_manager():
    # rule A11
    assert route_for(policy("avoxi"), "addon_cancellation", "jetpack") == "account_manager"


# -- Kustomer ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["kustomer", "kustomer_premium"])
def test_kustomer_only_admins_and_billing_permission_cancel(preset):
    # rule U1
    p = policy(preset)
    assert set(p.roles_for("account_cancellation")) == {"owner", "super_admin", "billing_admin"}
    assert not p.allows_role("account_cancellation", "member")


def test_kustomer_essentials_cancels_self_service():
    # rule U2
    p = policy("kustomer")
    assert p.route == "self_service"
    assert Plan.objects.get(policy=p).name == "Essentials"


def test_kustomer_premium_cancels_through_customer_success():
    # rule U3
    p = policy("kustomer_premium")
    assert p.route == "account_manager"
    assert Plan.objects.get(policy=p).name == "Premium"


@pytest.mark.parametrize("preset", ["kustomer", "kustomer_premium"])
def test_kustomer_cancellation_is_confirmed_first(preset):
    # rule U4, U5: the customer confirms, knowing access is removed at once
    assert {"access_removed", "data_deleted_after_retention"} <= set(policy(preset).acknowledgements)
    assert "data_deleted" not in policy(preset).acknowledgements  # smrtPhone's words (S6), not Kustomer's (U6)


@pytest.mark.parametrize("preset", ["kustomer", "kustomer_premium"])
def test_kustomer_deletes_data_after_60_days(preset):
    # rule U6
    assert policy(preset).retention_days == 60


@pytest.mark.parametrize("preset", ["kustomer", "kustomer_premium"])
def test_kustomer_restarts_within_60_days_through_billing(preset):
    # rule U7
    p = policy(preset)
    assert p.reactivation == "within_retention"
    assert route_for(p, "reactivation") == "support_case"


@pytest.mark.parametrize("preset", ["kustomer", "kustomer_premium"])
def test_kustomer_asks_why(preset):
    # rule U8
    assert policy(preset).exit_survey_required


@pytest.mark.parametrize("preset", ["kustomer", "kustomer_premium"])
def test_kustomer_offers_alternatives(preset):
    # rule U9
    p = policy(preset)
    assert p.offer_downgrade or p.offer_meeting


def test_kustomer_plans_share_a_line_so_premium_can_go_down_to_essentials():
    essentials = Plan.objects.get(policy__preset="kustomer")
    premium = Plan.objects.get(policy__preset="kustomer_premium")
    assert premium.lowest_in_line() == essentials


# -- smrtPhone --------------------------------------------------------------------------------------------
def test_smrtphone_cancels_self_service():
    # rule S1
    assert policy("smrtphone").route == "self_service"


def test_smrtphone_survey_can_end_in_a_meeting():
    # rule S2
    p = policy("smrtphone")
    assert p.exit_survey_required and p.offer_meeting


def test_smrtphone_confirmation_is_typing_confirm():
    # rule S3
    p = policy("smrtphone")
    assert p.verification_method == "typed_confirmation"
    assert p.confirmation_word == "CONFIRM"


def test_smrtphone_only_the_owner_cancels():
    # rule S4
    assert policy("smrtphone").roles_for("account_cancellation") == ["owner"]


def test_smrtphone_numbers_not_ported_out_are_acknowledged_lost():
    # rule S5, S8
    assert "numbers_lost" in policy("smrtphone").acknowledgements


def test_smrtphone_deletes_everything_at_once():
    # rule S6
    p = policy("smrtphone")
    assert p.retention_days == 0
    assert "data_deleted" in p.acknowledgements


def test_smrtphone_forfeits_credit():
    # rule S7
    p = policy("smrtphone")
    assert p.refunds == "none" and p.credit_at_cancellation == "forfeit"
    assert "credit_forfeited" in p.acknowledgements


@pytest.mark.parametrize("preset", ["kixie", "avoxi", "kustomer", "kustomer_premium"])
def test_other_presets_keep_credit_until_the_purge(preset):
    # rule U7: kept on the ledger, there again on reactivation
    assert policy(preset).credit_at_cancellation == "keep"


def test_smrtphone_port_outs_must_be_complete_first():
    # rule S10
    assert policy("smrtphone").require_port_outs_complete


def test_smrtphone_cannot_be_reactivated():
    # rule S11
    p = policy("smrtphone")
    assert p.reactivation == "never"
    assert "no_reactivation" in p.acknowledgements


def test_every_preset_offers_the_port_out_lock():
    # SPEC §3, §4 (fraud protection): the lock is offered unless a provider switches it off for a policy
    for preset in ["kixie", "avoxi", "kustomer", "kustomer_premium", "smrtphone"]:
        assert policy(preset).port_out_lock_offered is True
