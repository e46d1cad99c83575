from django.apps import AppConfig


class NumbersConfig(AppConfig):
    name = "numbers"
    default_auto_field = "django.db.models.BigAutoField"
