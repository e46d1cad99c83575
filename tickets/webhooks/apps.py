from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "tickets.webhooks"
    label = "webhooks"
    verbose_name = "Events out"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Here, not at the top: models and tasks load once the apps are ready.
        from accounts.outbox import event_recorded

        from . import services, tasks
        from .receivers import queue_fan_out

        services.queue_delivery = tasks.deliver.delay

        # After the commit of the change: the request path has paid for the event row only.
        event_recorded.connect(queue_fan_out, dispatch_uid="exitdesk-webhooks-fan-out")
