"""The `numbers` app shares its name with Python's standard `numbers` module; both must keep working."""

import decimal
import fractions
import sys

import numbers
from numbers.models import PhoneNumber


def test_standard_numeric_abcs_and_the_phone_number_app_coexist():
    module = sys.modules["numbers"]
    assert module is numbers and hasattr(module, "__path__")  # a package: the app's modules are found in it
    assert isinstance(decimal.Decimal("1.5"), numbers.Number)
    assert isinstance(fractions.Fraction(1, 3), numbers.Rational)
    assert issubclass(int, numbers.Integral) and not issubclass(complex, numbers.Real)
    assert PhoneNumber._meta.app_label == "numbers"


def test_the_app_loads_even_when_the_standard_module_was_imported_first(tmp_path):
    # Started from elsewhere, Python imports its own `numbers` before the project is on sys.path.
    import os
    import subprocess
    from pathlib import Path

    project = Path(__file__).resolve().parent.parent
    script = (
        "import decimal, numbers, sys\n"
        "assert not hasattr(numbers, '__path__')\n"
        f"sys.path.insert(0, {str(project)!r})\n"
        "import django; django.setup()\n"
        "from numbers.models import PhoneNumber\n"
        "assert isinstance(decimal.Decimal(1), numbers.Number)\n"
        "print(PhoneNumber._meta.db_table)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true"}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "numbers_phonenumber"
