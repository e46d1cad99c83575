"""The TOTP device's set-up page in the admin (issue 28): it fits a 390 px phone and shows its QR code, which
django-otp draws only with the qrcode package installed (pinned in pyproject.toml); without it the image was a 503."""

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_totp_set_up_page_fits_a_phone_and_shows_its_qr_code(presets, live_server, page):
    # SPEC §6 security, two-factor sign-in for staff: staff enrol an authenticator by scanning
    admin = UserFactory(is_staff=True, is_superuser=True)
    device = TOTPDevice.objects.create(user=admin, name="Kim's phone", confirmed=False)
    client = Client()
    client.force_login(admin)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    page.set_viewport_size({"width": 390, "height": 844})
    response = page.goto(f"{live_server.url}/admin/otp_totp/totpdevice/{device.pk}/config/")
    assert response.status == 200
    qr = page.context.request.get(f"{live_server.url}/admin/otp_totp/totpdevice/{device.pk}/qrcode/")
    assert (qr.status, qr.headers["content-type"]) == (200, "image/svg+xml")
    image = page.get_by_role("img", name="QR code of this authenticator's secret")
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
