from django.db import migrations, models
from django.db.models import Exists, OuterRef

# K7: Kixie verifies a cancellation by the card on file's last four digits; an account with no card on file could
# never be verified. Kixie's preset names the fallback: a signed, single-use link emailed to the account owner.
FALLBACK_PRESETS = {"kixie": "confirmation_link"}


def name_the_fallbacks(apps, schema_editor):
    Policy = apps.get_model("billing", "Policy")
    for preset, fallback in FALLBACK_PRESETS.items():
        Policy.objects.filter(preset=preset).update(verification_fallback=fallback)


def ensure_recording_addons(apps, schema_editor):
    """A7: a number already recording its inbound calls gets the add-on it was created without, so the recording can
    be cancelled on its own."""
    PhoneNumber = apps.get_model("numbers", "PhoneNumber")
    AddOn = apps.get_model("billing", "AddOn")
    has_addon = AddOn.objects.filter(number=OuterRef("pk"), product="inbound_recording", status="active")
    recorded = PhoneNumber.objects.filter(inbound_recording=True, status__in=["active", "porting_out"]).exclude(
        Exists(has_addon)
    )
    for number in recorded.iterator(chunk_size=1000):
        AddOn.objects.create(account_id=number.account_id, product="inbound_recording", number=number)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_refuse_cancellation_near_term_end"),
        ("numbers", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="policy",
            name="verification_fallback",
            field=models.CharField(
                choices=[
                    ("none", "None"),
                    ("confirmation_link", "A signed, single-use link emailed to the account owner"),
                ],
                default="none",
                help_text="When the card on file cannot verify (no card), the agent emails the owner a confirmation link.",
                max_length=20,
            ),
        ),
        migrations.RunPython(name_the_fallbacks, migrations.RunPython.noop),
        migrations.RunPython(ensure_recording_addons, migrations.RunPython.noop),
    ]
