from django.apps import AppConfig
from django.core import checks


class TicketsConfig(AppConfig):
    name = "tickets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every kind is whole (a spec with every part) or the start-up says which is not (tickets/kinds/).
        from .kinds.checks import kinds_complete  # noqa: PLC0415 - the check reads models: not before ready()

        checks.register(kinds_complete)
