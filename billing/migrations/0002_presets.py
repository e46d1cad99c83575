"""The policy presets of the four source documents and their plans (SPEC §3).

Each value carries the rule ids it reproduces. `migrate` alone gives a fresh install these presets.
"""

import datetime as dt
from decimal import Decimal

from django.db import migrations

ALL_ROLES = ["owner", "super_admin", "billing_admin", "member"]
ADMINS = ["owner", "super_admin", "billing_admin"]
ALL_CHANNELS = ["web", "email", "phone", "api"]
DEFAULT_SLA = {
    "default": {"first_response": 4, "resolution": 16},
    "port_out": {"first_response": 2, "resolution": 8},  # a simple port takes one business day
}

# Kustomer's two plans leave the same way but for the route (U2 self-service, U3 through the CSM).
KUSTOMER_ESSENTIALS = {
    "preset": "kustomer",
    "name": "Kustomer Essentials",
    "source": "How to Cancel Kustomer (Essentials)",
    "request_roles": {
        kind: ADMINS
        for kind in [  # U1
            "account_cancellation",
            "license_cancellation",
            "number_cancellation",
            "addon_cancellation",
            "port_out",
            "downgrade",
            "reactivation",
        ]
    },
    "intake_channels": ALL_CHANNELS,
    "intake_hours_enforced": False,
    "intake_time_zone": "America/New_York",
    "intake_weekdays": [0, 1, 2, 3, 4],
    "intake_start": dt.time(9, 0),
    "intake_end": dt.time(18, 0),
    "verification_method": "none",
    "confirmation_word": "",
    "acknowledgements": ["access_removed", "data_deleted"],  # U4, U5, U6: confirmed before it happens
    "required_info": [],
    "exit_survey_required": True,  # U8
    "offer_downgrade": True,  # U9
    "offer_meeting": True,  # U9
    "route": "self_service",  # U2
    "kind_routes": {"reactivation": "support_case"},  # U7: contact billing
    "addon_routes": {},
    "retention_days": 60,  # U6
    "reactivation": "within_retention",  # U7
    "port_out_balance_rule": "ignore",
    "require_port_outs_complete": False,
    "license_minimums": {},
    "minimum_term_months": 0,
    "cancellation_fee": Decimal("0"),
    "refunds": "none",
    "holds_offered": False,
    "downgrade_proration": "none",
    "billing_cutoff_days": 0,
    "plans": [("Essentials", 1, Decimal("89.00"))],
    "product_line": "kustomer",
}
KUSTOMER_PREMIUM = {
    **KUSTOMER_ESSENTIALS,
    "preset": "kustomer_premium",
    "name": "Kustomer Premium",
    "source": "How to Cancel Kustomer (Premium)",
    "route": "account_manager",  # U3
    "plans": [("Premium", 2, Decimal("139.00"))],
}

PRESETS = [
    {
        "preset": "kixie",
        "name": "Kixie",
        "source": "Kixie: Account Holds, Refunds, and Cancellations",
        # K3: the whole account is cancelled through support; K11: port-outs notified to the provider.
        "request_roles": {
            kind: ADMINS
            for kind in [
                "account_cancellation",
                "license_cancellation",
                "number_cancellation",
                "addon_cancellation",
                "port_out",
                "downgrade",
                "reactivation",
            ]
        },
        "intake_channels": ["email", "phone"],  # K6
        "intake_hours_enforced": True,  # K6
        "intake_time_zone": "America/Los_Angeles",  # K6
        "intake_weekdays": [0, 1, 2, 3, 4],  # K6 Monday–Friday
        "intake_start": dt.time(6, 0),  # K6
        "intake_end": dt.time(17, 0),  # K6
        "verification_method": "card_last4",  # K7
        "confirmation_word": "",
        "acknowledgements": [],
        "required_info": [],
        "exit_survey_required": False,
        "offer_downgrade": True,  # K1: the alternative to a hold is the lowest plan
        "offer_meeting": False,
        "route": "support_case",  # K3
        "kind_routes": {
            "downgrade": "support_case",
            "port_out": "support_case",
            "reactivation": "support_case",
        },
        "addon_routes": {},
        # K8's erasure happens at the purge; the data is kept 30 days so that K9's reactivation is possible.
        "retention_days": 30,
        "reactivation": "before_purge",  # K9
        "port_out_balance_rule": "deny",  # K10 (the admin warns this may be unlawful in the US)
        "require_port_outs_complete": False,
        "license_minimums": {},
        "minimum_term_months": 0,
        "cancellation_fee": Decimal("0"),
        "refunds": "none",  # K4
        "holds_offered": False,  # K1
        "downgrade_proration": "none",  # K2
        "billing_cutoff_days": 0,  # K5: before the billing date
        "plans": [("Integrated", 1, Decimal("35.00")), ("Power Dialer", 2, Decimal("95.00"))],  # K1, K2
        "product_line": "kixie",
    },
    {
        "preset": "avoxi",
        "name": "AVOXI",
        "source": "AVOXI Cancellation and Upgrade Guide",
        "request_roles": {
            "account_cancellation": ["owner", "super_admin"],
            "license_cancellation": ["super_admin"],  # A5
            "number_cancellation": ADMINS,  # A2
            "addon_cancellation": ADMINS,
            "port_out": ADMINS,
            "downgrade": ["owner", "super_admin"],
            "reactivation": ["owner", "super_admin"],
        },
        "intake_channels": ALL_CHANNELS,
        "intake_hours_enforced": False,
        "intake_time_zone": "America/New_York",
        "intake_weekdays": [0, 1, 2, 3, 4],
        "intake_start": dt.time(8, 0),
        "intake_end": dt.time(18, 0),
        "verification_method": "none",
        "confirmation_word": "",
        "acknowledgements": [],
        "required_info": ["full_name", "company_or_account_id", "contact"],  # A4
        "exit_survey_required": False,
        "offer_downgrade": False,
        "offer_meeting": False,
        "route": "support_case",  # A2
        "kind_routes": {
            "license_cancellation": "support_case",
            "number_cancellation": "support_case",
        },  # A2, A10
        "addon_routes": {
            "sip_trunk": "self_service",  # A6
            "sip_trunk_initial_ucaas": "support_case",  # A6
            "call_insights": "self_service",  # A8
            "number_testing": "self_service",  # A9
            "jetpack": "account_manager",  # A11
            "inbound_recording": "self_service",  # A7, per number
            "outbound_recording": "self_service",  # A7, whole organisation
        },
        "retention_days": 30,
        "reactivation": "within_retention",
        "port_out_balance_rule": "ignore",
        "require_port_outs_complete": False,
        "license_minimums": {"contact_center": 3},  # A10
        "minimum_term_months": 0,  # A1
        "cancellation_fee": Decimal("0"),  # A1
        "refunds": "none",
        "holds_offered": False,
        "downgrade_proration": "none",
        "billing_cutoff_days": 0,
        "plans": [("AVOXI Cloud", 1, Decimal("29.99"))],
        "product_line": "avoxi",
    },
    KUSTOMER_ESSENTIALS,
    KUSTOMER_PREMIUM,
    {
        "preset": "smrtphone",
        "name": "smrtPhone",
        "source": "How to Cancel your smrtPhone Account",
        "request_roles": {
            "account_cancellation": ["owner"],  # S4
            "license_cancellation": ADMINS,
            "number_cancellation": ADMINS,
            "addon_cancellation": ADMINS,
            "port_out": ADMINS,
            "downgrade": ["owner"],
            "reactivation": ["owner"],
        },
        "intake_channels": ALL_CHANNELS,
        "intake_hours_enforced": False,
        "intake_time_zone": "America/New_York",
        "intake_weekdays": [0, 1, 2, 3, 4],
        "intake_start": dt.time(9, 0),
        "intake_end": dt.time(17, 0),
        "verification_method": "typed_confirmation",  # S3
        "confirmation_word": "CONFIRM",  # S3
        "acknowledgements": [
            "numbers_lost",
            "data_deleted",
            "credit_forfeited",
            "no_reactivation",
        ],  # S5 S6 S7 S11
        "required_info": [],
        "exit_survey_required": True,  # S2
        "offer_downgrade": False,
        "offer_meeting": True,  # S2
        "route": "self_service",  # S1
        "kind_routes": {},
        "addon_routes": {},
        "retention_days": 0,  # S6: permanently deleted on cancellation
        "reactivation": "never",  # S11
        "port_out_balance_rule": "ignore",
        "require_port_outs_complete": True,  # S10
        "license_minimums": {},
        "minimum_term_months": 0,
        "cancellation_fee": Decimal("0"),
        "refunds": "none",  # S7
        "holds_offered": False,
        "downgrade_proration": "none",
        "billing_cutoff_days": 0,
        "plans": [("smrtPhone Pro", 1, Decimal("40.00"))],
        "product_line": "smrtphone",
    },
]


def load_presets(apps, schema_editor):
    Policy = apps.get_model("billing", "Policy")
    Plan = apps.get_model("billing", "Plan")
    for preset in PRESETS:
        fields = {k: v for k, v in preset.items() if k not in {"plans", "product_line", "preset"}}
        fields["sla_targets"] = DEFAULT_SLA
        policy, _ = Policy.objects.update_or_create(preset=preset["preset"], defaults=fields)
        for name, rank, price in preset["plans"]:
            Plan.objects.update_or_create(
                product_line=preset["product_line"],
                name=name,
                defaults={"rank": rank, "price_per_seat": price, "policy": policy},
            )


def unload_presets(apps, schema_editor):
    Policy = apps.get_model("billing", "Policy")
    Plan = apps.get_model("billing", "Plan")
    keys = [p["preset"] for p in PRESETS]
    Plan.objects.filter(policy__preset__in=keys, accounts__isnull=True).delete()
    Policy.objects.filter(preset__in=keys, plans__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(load_presets, unload_presets)]
