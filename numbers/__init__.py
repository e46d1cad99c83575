"""The `numbers` app (phone numbers) shares its name with Python's standard `numbers` module.

The project's layout is fixed, so this package stands in for the standard module: it runs the standard
module's code in its own namespace, giving every importer the one set of numeric ABCs (Number, Real, ...).
If the standard module was imported before the project was on sys.path, config/__init__.py turns that
module into this package instead (see `adopt_stdlib_numbers`).
"""

import os
import sysconfig

_STDLIB_NUMBERS = os.path.join(sysconfig.get_paths()["stdlib"], "numbers.py")
with open(_STDLIB_NUMBERS, encoding="utf-8") as _source:
    exec(compile(_source.read(), _STDLIB_NUMBERS, "exec"))  # noqa: S102 - the standard library's own source
del _source
