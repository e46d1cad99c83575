"""The project's URLs plus two bare DRF create endpoints, the baselines the ticket API is measured against, with
the API's own authentication, permission and renderer. Mounted only by bench/settings.py.

- `POST /bench/bare/`: the smallest create there is, a ModelSerializer saving one auth Group (one column).
- `POST /bench/bare-ticket/`: the same ticket the API creates, done the bare DRF way: a ModelSerializer over
  Ticket with the request's fields and its number, saved as given, with none of the service's work (no role,
  policy or account checks, no transaction or lock, no history row, no email).
"""

from django.contrib.auth.models import Group
from django.urls import path
from rest_framework import generics, serializers

from config.urls import urlpatterns as project_urlpatterns
from tickets.models import Ticket


class BareSerializer(serializers.ModelSerializer):
    class Meta:
        model = Group
        fields = ["id", "name"]


class BareCreate(generics.CreateAPIView):
    serializer_class = BareSerializer
    queryset = Group.objects.all()


class BareTicketSerializer(serializers.ModelSerializer):
    class Meta:
        model = Ticket
        fields = ["id", "kind", "state", "account", "full_name", "company", "contact", "channel", "numbers"]
        read_only_fields = ["state", "channel"]


class BareTicketCreate(generics.CreateAPIView):
    serializer_class = BareTicketSerializer
    queryset = Ticket.objects.all()

    def perform_create(self, serializer):
        serializer.save(requester=self.request.user, channel="api")


urlpatterns = [
    path("bench/bare/", BareCreate.as_view(), name="bench_bare"),
    path("bench/bare-ticket/", BareTicketCreate.as_view(), name="bench_bare_ticket"),
    *project_urlpatterns,
]
