import pytest
from django.urls import reverse

from billing.models import Policy
from tests.admin_forms import changeform_post_data

pytestmark = pytest.mark.django_db


def test_dbg(admin_client):
    policy = Policy.objects.get(preset="kixie")
    url = reverse("admin:billing_policy_change", args=[policy.pk])
    r = admin_client.get(url)
    data = changeform_post_data(r)
    print({k: v for k, v in data.items() if "channels" in k or "roles" in k})
    data["intake_channels__edit"] = []
    r = admin_client.post(url, data)
    print(r.status_code)
    form = admin_client.get(url).context["adminform"].form
    print(type(form).__mro__[:3], "intake_channels__edit" in form.fields)
