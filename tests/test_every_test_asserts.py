"""A test that asserts nothing cannot fail: every test in the suite asserts, expects a raise, or calls a function of
the suite's that does (issue 29: a debugging test that printed and asserted nothing reached main).

A helper counts when called by its name (`sign_in(...)`), not as a method (`thing.sign_in(...)`), so a common method
name (`append`, `create`) that some helper happens to share does not pass for an assertion."""

import ast
from pathlib import Path

TESTS = Path(__file__).parent
# Calls that assert on the test's behalf, from the libraries the suite uses: Django's TestCase assertions,
# Playwright's expect(), schemathesis' validation, and pytest's own.
ASSERTING_CALLS = {"expect", "call_and_validate", "raises", "warns", "fail", "validate_response"}


def _called_names(node: ast.AST, *, methods: bool = True) -> set[str]:
    """The names the code calls: `helper(...)`, and with `methods` also `thing.helper(...)`."""
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            func = call.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute) and methods:
                names.add(func.attr)
    return names


def _asserts_itself(node: ast.AST) -> bool:
    return any(isinstance(child, ast.Assert) for child in ast.walk(node)) or any(
        name in ASSERTING_CALLS or name.startswith("assert") for name in _called_names(node)
    )


def _functions() -> dict[Path, list[ast.FunctionDef]]:
    found = {}
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        found[path] = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return found


def _asserting_helpers(functions: dict[Path, list[ast.FunctionDef]]) -> set[str]:
    """Names of the suite's functions that assert, directly or through another such function (a fixed point)."""
    every = [fn for fns in functions.values() for fn in fns]
    asserting = {fn.name for fn in every if _asserts_itself(fn)}
    while True:
        more = {fn.name for fn in every if fn.name not in asserting and _called_names(fn, methods=False) & asserting}
        if not more:
            return asserting
        asserting |= more


def _silent(functions: dict[Path, list[ast.FunctionDef]]) -> list[str]:
    helpers = _asserting_helpers(functions)
    return [
        f"{path.name}::{fn.name}"
        for path, fns in functions.items()
        if path.name.startswith("test_")
        for fn in fns
        if fn.name.startswith("test_") and not (_asserts_itself(fn) or _called_names(fn, methods=False) & helpers)
    ]


def test_every_test_asserts_something():
    assert _silent(_functions()) == []


def test_the_check_finds_a_silent_test(tmp_path):
    # The check can fail: a test that prints and asserts nothing is found, one calling an asserting helper is not.
    tree = ast.parse(
        "def helper(x):\n    assert x\n\n"
        "def test_silent():\n    print('hello')\n\n"
        "def test_through_helper():\n    helper(1)\n\n"
        "def test_method_named_like_a_helper(items):\n    items.helper(1)\n"
    )
    functions = {tmp_path / "test_x.py": [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]}
    assert _silent(functions) == ["test_x.py::test_silent", "test_x.py::test_method_named_like_a_helper"]
