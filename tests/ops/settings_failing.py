"""The project's settings with tests.ops.failing's view served (tests/ops/test_error_reports.py)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.ops.failing"
