from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported at start-up: models, then access (which reads them), are loaded by now.
        from . import access, effects, models, services

        # django-fsm's permission hook on each transition asks tickets.access, which reads the models: handed in.
        models.answer_transition_permissions(access.may_run)
        # Completing an account cancellation closes its other cases through the engine, which sits above effects.
        effects.uses_settle_account(services.settle_account)
        # Django's admin autodiscover imports only `tickets.admin`; the desk is a package (tickets/desk/), so its
        # registrations (accounts', billing's and tickets' models) are imported here, after the stock ones they adjust.
        # Celery's autodiscover reads only `tickets.tasks`; the purge's tasks (moved from accounts) register here.
        from . import purge_tasks  # noqa: F401
        from .desk import accounts, billing, tickets  # noqa: F401
