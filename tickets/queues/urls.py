"""Manager queues, included from config/urls.py at queues/ (namespace "queues")."""

from django.urls import path

from tickets.queues import views as queues

app_name = "queues"

urlpatterns = [
    path("", queues.overview, name="overview"),
    path("list/", queues.queue_list, name="list"),
    path("list.csv", queues.export_csv, name="export"),
    path("insights/", queues.insights, name="insights"),
    path("assign/", queues.assign, name="assign"),
    path("<int:pk>/<str:action>/", queues.customer_clock, name="clock"),
]
