"""The triage queue, included from config/urls.py at queues/triage/ (namespace "inbound")."""

from django.urls import path

from tickets.queues import triage as views

app_name = "inbound"

urlpatterns = [
    path("", views.triage, name="triage"),
    path("<int:pk>/convert/", views.convert, name="convert"),
    path("<int:pk>/dismiss/", views.dismiss, name="dismiss"),
]
