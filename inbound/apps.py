from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "inbound"
    verbose_name = "Email in"
    default_auto_field = "django.db.models.BigAutoField"
