"""The project's URLs plus `POST /bench/bare/`: a bare DRF create endpoint (a ModelSerializer saving one
trivial row, an auth Group), with the API's own authentication, permission and renderer, as the baseline the
ticket API is measured against. Mounted only by bench/settings.py."""

from django.contrib.auth.models import Group
from django.urls import path
from rest_framework import generics, serializers

from config.urls import urlpatterns as project_urlpatterns


class BareSerializer(serializers.ModelSerializer):
    class Meta:
        model = Group
        fields = ["id", "name"]


class BareCreate(generics.CreateAPIView):
    serializer_class = BareSerializer
    queryset = Group.objects.all()


urlpatterns = [path("bench/bare/", BareCreate.as_view(), name="bench_bare"), *project_urlpatterns]
