import sys
from pathlib import Path


def adopt_stdlib_numbers() -> None:
    """Make `numbers.models` importable when Python's standard `numbers` module was loaded first.

    The one mechanism of numbers/__init__.py (read it): the standard module object is `numbers`, given the app's
    folder as its path. When the standard module was imported before the project was on sys.path, our package
    never runs, so the path is given here.
    """
    module = sys.modules.get("numbers")
    app_dir = str(Path(__file__).resolve().parent.parent / "numbers")
    if module is not None and not hasattr(module, "__path__"):
        module.__path__ = [app_dir]
        module.__spec__.submodule_search_locations = [app_dir]


adopt_stdlib_numbers()

from .celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
