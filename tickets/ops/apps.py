from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "tickets.ops"
    label = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Receivers are connected once the apps are loaded (Django's ready()).
        from celery.signals import beat_init, task_failure

        from .tasks import count_task_failure, first_heartbeat

        task_failure.connect(count_task_failure, dispatch_uid="exitdesk-task-failures")
        beat_init.connect(first_heartbeat, dispatch_uid="exitdesk-first-heartbeat")
