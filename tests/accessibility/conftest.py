"""Accessibility tests share the portal's browser fixtures: Debian's Chromium, the data migrations' rows, tasks
in-process, and signing in through the login form."""

from tests.portal.conftest import (  # noqa: F401  (pytest finds fixtures by name in this module)
    _private_media,
    _tasks_in_process,
    browser_login,
    browser_type_launch_args,
    presets,
)
