"""K5: a plan names the license its seats are, so a license cancellation lowers the next bill; A8, A9, A11: each
add-on product's tiers are policy data, and an add-on change moves only between them.

The sources say the seats billed are agents (Kixie, K5: "every active seat"; AVOXI's agent seats) but name no tiers:
AVOXI's article says Call Insights "plans" and number-testing "packages" can be upgraded and Jetpack needs a custom
quote. The tiers below are a sensible start a provider edits in the policy editor ("Routes and add-ons")."""

from django.db import migrations, models

import billing.models

SEAT_PRODUCTS = {"kixie": "agent_seat", "avoxi": "agent_seat"}  # Kustomer and smrtPhone bill seats, not licenses

ADDON_TIERS = {
    "avoxi": {
        "call_insights": ["Starter", "Pro", "Enterprise"],  # A8
        "number_testing": ["100 tests", "500 tests", "1,000 tests", "5,000 tests"],  # A9
        "jetpack": ["Jetpack Standard", "Jetpack Plus", "Jetpack Max"],  # A11, with the account manager's quote
    },
}


def load_seats_and_tiers(apps, schema_editor):
    Policy = apps.get_model("billing", "Policy")
    Plan = apps.get_model("billing", "Plan")
    for preset, product in SEAT_PRODUCTS.items():
        Plan.objects.filter(policy__preset=preset, seat_product="").update(seat_product=product)
    for policy in Policy.objects.filter(preset__in=ADDON_TIERS):
        if not policy.addon_tiers:  # idempotent: a provider's own tiers stay
            policy.addon_tiers = ADDON_TIERS[policy.preset]
            policy.save(update_fields=["addon_tiers"])


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0011_seed_statements_policy_fields"),
    ]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="seat_product",
            field=models.CharField(
                blank=True,
                choices=[("contact_center", "Contact Center license"), ("agent_seat", "Agent seat")],
                help_text="The license a seat is (its cancellation lowers the billed seats); empty: seats are not "
                "licenses.",
                max_length=30,
            ),
        ),
        migrations.AddField(
            model_name="policy",
            name="addon_tiers",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text='Add-on product → its tiers, lowest first, e.g. {"call_insights": ["Starter", "Pro"]}.',
                validators=[billing.models._valid_addon_tiers],
            ),
        ),
        migrations.RunPython(load_seats_and_tiers, migrations.RunPython.noop),
    ]
