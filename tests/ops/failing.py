"""A view and a Celery task that fail while holding the desk's secrets, for tests/ops/test_error_reports.py: the
settings below serve the view beside the desk's own URLs (tests.ops.failing as ROOT_URLCONF)."""

import logging

from celery import shared_task
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def port_out_with_a_fault(request: HttpRequest) -> HttpResponse:
    email, pin, last4 = request.POST["email"], request.POST["pin"], request.POST["card_last4"]
    logging.getLogger("tickets").warning("Port-out asked by %s with PIN %s", email, pin)  # becomes a breadcrumb
    raise RuntimeError(f"Carrier refused the port-out of {email}: PIN {pin}, card ending {last4}")


@shared_task(name="tests.ops.failing.notify_with_a_fault")
def notify_with_a_fault(email: str, pin: str, last4: str) -> None:
    raise RuntimeError(f"Could not notify {email} about PIN {pin} and card {last4}")


urlpatterns = [
    path("ops-test/port-out-fault/", port_out_with_a_fault),
    path("", include("config.urls")),
]
