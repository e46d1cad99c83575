"""The two staff groups of SPEC §2 with their permissions."""

from django.db import migrations

AGENT_PERMISSIONS = [
    ("tickets", "view_ticket"),
    ("tickets", "change_ticket"),
    ("tickets", "add_ticket"),
    ("tickets", "verify_ticket"),
    ("tickets", "complete_ticket"),
    ("tickets", "reject_ticket"),
    ("tickets", "view_transitionlog"),
    ("tickets", "view_comment"),
    ("tickets", "add_comment"),
    ("tickets", "view_attachment"),
    ("tickets", "add_attachment"),
    ("accounts", "view_account"),
    ("accounts", "view_membership"),
    ("accounts", "view_user"),
    ("billing", "view_plan"),
    ("billing", "view_policy"),
    ("billing", "view_subscription"),
    ("billing", "view_license"),
    ("billing", "view_addon"),
    ("billing", "view_invoice"),
    ("billing", "view_creditentry"),
    ("billing", "view_cardonfile"),
    ("numbers", "view_phonenumber"),
]
MANAGER_PERMISSIONS = AGENT_PERMISSIONS + [
    ("tickets", "approve_ticket"),
    ("tickets", "view_queues"),
    ("tickets", "view_retentionoutcome"),
    ("accounts", "change_account"),
    ("accounts", "view_tombstone"),
    ("billing", "change_policy"),
]


def create_groups(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in global_apps.get_app_configs():
        # create_permissions skips an app whose models_module is None; put the real value back afterwards
        # (leaving None behind breaks the test runner's serialized rollback and post_migrate handlers).
        models_module = app_config.models_module
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in (("Support agents", AGENT_PERMISSIONS), ("Support managers", MANAGER_PERMISSIONS)):
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in perms:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Support agents", "Support managers"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_initial"),
        ("billing", "0001_initial"),
        ("numbers", "0001_initial"),
        ("tickets", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
