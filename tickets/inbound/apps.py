from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "tickets.inbound"
    label = "inbound"  # its tables, migrations and permissions keep the name "inbound"
    verbose_name = "Email in"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Receivers and tasks are wired once the apps are loaded (Django's ready()).
        from anymail.signals import inbound

        from . import imap  # noqa: F401 - registers the fetch_mail task (Celery's autodiscover reads only tasks.py)
        from .webhooks import handle_inbound

        inbound.connect(handle_inbound, dispatch_uid="exitdesk-inbound")
