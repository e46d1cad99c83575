"""The benchmark servers' settings: the project's own, plus the bare DRF endpoint (bench/urls.py) and plain
static storage (no collectstatic needed). Only the bench scripts point DJANGO_SETTINGS_MODULE here."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The benches sign staff in with a password or force_login; two-factor is not what they measure.
STAFF_OTP_REQUIRED = False
