"""The staff groups' rights on the email channel: agents read the messages, managers also set up mailboxes."""

from django.db import migrations

AGENT_PERMISSIONS = ["view_inboundmessage"]
MANAGER_PERMISSIONS = AGENT_PERMISSIONS + ["view_mailbox", "add_mailbox", "change_mailbox", "delete_mailbox"]


def grant(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; the groups need them now (as accounts 0003 does).
    app_config = global_apps.get_app_config("inbound")
    models_module = app_config.models_module
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in (("Support agents", AGENT_PERMISSIONS), ("Support managers", MANAGER_PERMISSIONS)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="inbound", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("inbound", "0001_email_in"),
        ("accounts", "0003_staff_groups"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
