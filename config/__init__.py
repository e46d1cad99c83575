import sys
from pathlib import Path


def adopt_stdlib_numbers() -> None:
    """Make `numbers.models` importable even when Python's standard `numbers` module was loaded first.

    Our phone-number app is called `numbers` (the SPEC fixes the layout). When a tool imported the standard
    module before the project was on sys.path, that module is given our package's path, so its ABCs stay
    the ones every library registered with and our submodules (models, admin, ...) are found beside them.
    """
    module = sys.modules.get("numbers")
    app_dir = str(Path(__file__).resolve().parent.parent / "numbers")
    if module is not None and not hasattr(module, "__path__"):
        module.__path__ = [app_dir]


adopt_stdlib_numbers()

from .celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
