from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("config.api_urls")),
    path("queues/triage/", include("inbound.urls")),
    path("queues/", include("tickets.queue_urls")),
    path("", include("tickets.urls")),
]
