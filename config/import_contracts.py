"""The house's import contracts (`make lint`: pyproject.toml's [tool.importlinter]) and tests/test_import_graph.py's
graph, built with the `numbers` app found where it lives.

grimp asks importlib where each root package is. Our `numbers` app shares its name with Python's own module
(numbers/__init__.py), and once anything has loaded that one (rich, decimal, ...) importlib answers with the standard
library's file, which is no package, and grimp stops. While the graph is built the loaded module steps aside, so
importlib finds the app's folder on sys.path (the project's root comes first); it is put back afterwards.
"""

import contextlib
import sys
from collections.abc import Iterator

ROOT_PACKAGES = ("accounts", "billing", "numbers", "tickets", "config")


@contextlib.contextmanager
def numbers_app_findable() -> Iterator[None]:
    loaded = sys.modules.pop("numbers", None)
    try:
        yield
    finally:
        if loaded is not None:
            sys.modules["numbers"] = loaded


def import_graph():
    """Every import between the project's modules, imports inside functions included."""
    import grimp  # a development tool: imported by the lint and the test only

    with numbers_app_findable():
        return grimp.build_graph(*ROOT_PACKAGES, cache_dir=None)


def main() -> int:
    from importlinter.cli import lint_imports  # a development tool: imported by the lint only

    with numbers_app_findable():
        return lint_imports(no_logo=True, no_cache=True)


if __name__ == "__main__":
    sys.exit(main())
