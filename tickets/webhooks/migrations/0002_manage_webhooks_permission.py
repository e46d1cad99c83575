"""SPEC §6a: the support managers' group manages webhook endpoints (superusers hold every permission anyway)."""

from django.db import migrations

MANAGER_PERMISSIONS = ["manage_webhooks", "view_webhookendpoint", "view_delivery", "view_deliveryattempt"]


def grant(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; the group needs them now (as accounts 0003 does).
    app_config = global_apps.get_app_config("webhooks")
    models_module = app_config.models_module
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    managers, _ = Group.objects.get_or_create(name="Support managers")
    managers.permissions.add(
        *Permission.objects.filter(content_type__app_label="webhooks", codename__in=MANAGER_PERMISSIONS)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_webhook_endpoints_and_deliveries"),
        ("accounts", "0003_staff_groups"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
