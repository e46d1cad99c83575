from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "tickets.ops"
    label = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from celery.signals import task_failure

        from .tasks import count_task_failure

        task_failure.connect(count_task_failure, dispatch_uid="exitdesk-task-failures")
