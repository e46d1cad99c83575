"""Forms say what went wrong where the eye and the screen reader go (issue 28, WCAG 3.3.1, 3.3.2, 1.3.1): a refused
form opens with a summary (role="alert") linking each field; each field's error is tied to it by aria-describedby;
a required field says "required" in words."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def refused_port_out(client, cast) -> str:
    people = cast("avoxi")
    client.force_login(people.owner)
    url = reverse("portal:request", args=[people.account.account_id, "port_out"])
    return client.post(url, {"gaining_carrier": ""}).content.decode()


def test_a_refused_form_opens_with_a_summary_linking_each_field(client, cast):
    # SPEC §6 accessibility: the error summary, role="alert", one link per field in error
    page = refused_port_out(client, cast)
    summary = re.search(r'<div class="errors error-summary" role="alert">(.*?)</div>', page, re.DOTALL)
    assert summary and page.index("error-summary") < page.index('name="gaining_carrier"')
    for field in ("gaining_carrier", "authorized_name", "pin"):
        assert f'href="#id_{field}"' in summary.group(1)


def test_each_field_s_error_is_tied_to_it(client, cast):
    # SPEC §6 accessibility: aria-describedby points at the field's own error, and the field says it is invalid
    page = refused_port_out(client, cast)
    field = re.search(r'<input[^>]*name="gaining_carrier"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field
    assert re.search(r'aria-describedby="[^"]*id_gaining_carrier_error', field)
    assert 'id="id_gaining_carrier_error"' in page


def test_required_fields_say_so_in_words(client, cast):
    # SPEC §6 accessibility: required marked in words, not by an asterisk or colour alone
    page = refused_port_out(client, cast)
    label = re.search(r'<label for="id_gaining_carrier">(.*?)</label>', page, re.DOTALL)
    assert label and '<span class="required">(required)</span>' in label.group(1)
