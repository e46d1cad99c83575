from django.urls import include, path

from . import views

portal_patterns = [
    path("", views.home, name="home"),
]

urlpatterns = [
    path("", include((portal_patterns, "portal"))),
]
