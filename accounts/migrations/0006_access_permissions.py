"""SPEC §5: managers assign and reassign (tickets.assign_ticket) and provision accounts, members, numbers, licenses,
add-ons, invoices and the card (the models' add or change permissions); agents keep viewing them only."""

from django.db import migrations

MANAGER_PERMISSIONS = [
    ("tickets", "assign_ticket"),
    ("accounts", "add_account"),
    ("accounts", "add_membership"),
    ("numbers", "add_phonenumber"),
    ("billing", "add_license"),
    ("billing", "add_addon"),
    ("billing", "add_invoice"),
    ("billing", "add_cardonfile"),
    ("billing", "change_cardonfile"),
]


def grant(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    # As in 0003: permissions are normally created after all migrations; the groups need them now.
    for app_config in global_apps.get_app_configs():
        models_module = app_config.models_module
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    managers, _ = Group.objects.get_or_create(name="Support managers")
    for app_label, codename in MANAGER_PERMISSIONS:
        managers.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    managers = Group.objects.filter(name="Support managers").first()
    if managers is None:
        return
    for app_label, codename in MANAGER_PERMISSIONS:
        managers.permissions.remove(*Permission.objects.filter(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_account_events_and_port_out_lock"),
        ("tickets", "0004_assign_permission"),
        ("billing", "0003_policy_bounds_and_sla_validation"),
        ("numbers", "0001_initial"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
