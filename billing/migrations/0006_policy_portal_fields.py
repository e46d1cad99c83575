"""The portal-facing policy fields (issue 13, issue 17) and the presets' values for them.

Each preset's values come from its source document (shared/sources), and the choices are explained here:

- holds_refused_with_alternatives (K1): only Kixie's article says holds are refused and names the alternatives
  (downgrade every agent to the lowest plan, or cancel). The others say nothing of holds, so they show no
  "pause my account" page at all.
- offers_by_reason (S2, U9; Stripe's eight reasons): which enabled offer each exit-survey answer leads to.
  - Kixie offers the downgrade to customers "limiting your usage" of the service: `unused` and `too_expensive`
    lead to it; the others lead to no offer (Kixie's alternatives are about pausing, not about complaints).
  - Kustomer "may offer alternative solutions or assistance to address these issues" (U9): an answer naming an
    issue (service, quality, features, ease of use, other) leads to a meeting with customer success; a price or
    usage answer also to the downgrade (Premium → Essentials); `switched_service` names no issue to address,
    so it leads to none.
  - smrtPhone "depending on your responses" ends in keeping the account, a meeting with customer success "to
    find better solutions", or confirming (S2): every answer that a better solution could answer leads to the
    meeting; `unused` and `switched_service` go straight on to confirm.
  - AVOXI enables no offer; its mapping is empty.
- Contact routes: only AVOXI's article prints an address (service@avoxi.com). Kixie's prints "email us at"
  with its address (support@kixie.com in Kixie's help centre) lost from the copy; it is filled in because K6
  sends every cancellation there. The others' articles name a team but no address or number: left empty for
  the provider to fill in the admin, and the portal then names the team only. No phone number is given in
  any source, so none is invented.
- acknowledgements: Kustomer's presets listed smrtPhone's "data_deleted" (everything permanently deleted),
  which contradicts U6/U7's 60-day window. Kustomer's customer now acknowledges what its article says: access
  removed and messages stopped at once (U5), data saved before cancelling (its "ensure you have saved any
  necessary information"), data deleted after the retention window with a restart possible until then (U6, U7).
"""

import django.core.validators
from django.db import migrations, models

import billing.models

KUSTOMER_OFFERS = {
    "customer_service": ["meeting"],
    "low_quality": ["meeting"],
    "missing_features": ["meeting"],
    "other": ["meeting"],
    "switched_service": [],
    "too_complex": ["meeting"],
    "too_expensive": ["downgrade", "meeting"],
    "unused": ["downgrade"],
}
KUSTOMER = {
    "offers_by_reason": KUSTOMER_OFFERS,
    "acknowledgements": ["access_removed", "data_saved", "data_deleted_after_retention"],  # U4 U5 U6 U7
}

PORTAL_FIELDS = {
    "kixie": {
        "holds_refused_with_alternatives": True,  # K1
        "offers_by_reason": {
            "customer_service": [],
            "low_quality": [],
            "missing_features": [],
            "other": [],
            "switched_service": [],
            "too_complex": [],
            "too_expensive": ["downgrade"],
            "unused": ["downgrade"],
        },
        "support_email": "support@kixie.com",  # K6, K9
    },
    "avoxi": {"support_email": "service@avoxi.com"},  # A11
    "kustomer": KUSTOMER,
    "kustomer_premium": KUSTOMER,
    "smrtphone": {
        "offers_by_reason": {  # S2
            "customer_service": ["meeting"],
            "low_quality": ["meeting"],
            "missing_features": ["meeting"],
            "other": ["meeting"],
            "switched_service": [],
            "too_complex": ["meeting"],
            "too_expensive": ["meeting"],
            "unused": [],
        },
    },
}


def load_portal_fields(apps, schema_editor):
    """Idempotent: the test suite runs it again after a transactional test has flushed the tables."""
    Policy = apps.get_model("billing", "Policy")
    for preset, fields in PORTAL_FIELDS.items():
        Policy.objects.filter(preset=preset).update(**fields)


def unload_portal_fields(apps, schema_editor):
    Policy = apps.get_model("billing", "Policy")
    Policy.objects.filter(preset__in=["kustomer", "kustomer_premium"]).update(
        acknowledgements=["access_removed", "data_deleted"]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_policy_staff_first_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="policy",
            name="currency",
            field=models.CharField(
                default="USD",
                help_text="The currency the plan's customers are billed in (ISO 4217).",
                max_length=3,
                validators=[
                    django.core.validators.RegexValidator("^[A-Z]{3}$", "An ISO 4217 code in capitals, e.g. USD.")
                ],
            ),
        ),
        migrations.AddField(
            model_name="policy",
            name="holds_refused_with_alternatives",
            field=models.BooleanField(
                default=False,
                help_text="K1: customers find a “pause my account” page: holds refused, alternatives offered.",
            ),
        ),
        migrations.AddField(
            model_name="policy",
            name="offers_by_reason",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text='Exit-survey reason → offers, e.g. {"too_expensive": ["downgrade", "meeting"], "unused": []}.',
                validators=[billing.models._valid_offers_by_reason],
            ),
        ),
        migrations.AddField(
            model_name="policy",
            name="support_email",
            field=models.EmailField(blank=True, max_length=254),
        ),
        migrations.AddField(
            model_name="policy",
            name="support_hours",
            field=models.CharField(
                blank=True, help_text="When the phone is answered; empty: the intake hours.", max_length=120
            ),
        ),
        migrations.AddField(
            model_name="policy",
            name="support_phone",
            field=models.CharField(blank=True, help_text="As customers dial it, e.g. +1 888 555 0100.", max_length=30),
        ),
        migrations.RunPython(load_portal_fields, unload_portal_fields),
    ]
