"""Browser fixtures shared with tests/portal: Debian's Chromium for pytest-playwright and the data migrations' rows."""

from tests.portal.conftest import (  # noqa: F401  (pytest finds fixtures by name in this module)
    _tasks_in_process,
    browser_type_launch_args,
    presets,
)
