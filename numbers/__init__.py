"""The `numbers` app (phone numbers) shares its name with Python's standard `numbers` module.

One mechanism, whichever is imported first: the module known as `numbers` is always the standard library's own
module object (so every library shares one set of numeric ABCs: Number, Real, ...), given this folder as its
`__path__` so our submodules (models, admin, migrations, ...) are found in it.
- This package imported first (the project is on sys.path before anything imports `numbers`): this file loads the
  standard module from its source file, gives it this folder's path and puts it in sys.modules in its own place;
  the import system hands importers the module found there.
- The standard module imported first (a tool started before the project was on sys.path): this file never runs;
  config/__init__.py gives the loaded module the same path (`adopt_stdlib_numbers`).
Only standard-library modules that do not import `numbers` are used here: the package is half-built while this runs.
"""

import importlib.util
import os
import sys
import sysconfig

_STDLIB_NUMBERS = os.path.join(sysconfig.get_paths()["stdlib"], "numbers.py")
_spec = importlib.util.spec_from_file_location("numbers", _STDLIB_NUMBERS)
_stdlib = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_stdlib)
_stdlib.__path__ = list(__path__)  # noqa: F821 - this package's own path, set by the import system
_stdlib.__spec__.submodule_search_locations = list(__path__)  # noqa: F821
sys.modules["numbers"] = _stdlib
