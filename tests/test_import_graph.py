"""The house's import graph (issue 25): no module imports itself round a circle, imports inside functions included;
accounts, billing and numbers import nothing of tickets; and an import inside a function says why it is there.

grimp reads every import statement, the ones inside functions too (import-linter's contracts in `make lint` read the
same graph, so a lazy import is no way round a layer). The graph is built once for the module.
"""

import ast
import subprocess
from pathlib import Path

import pytest

from config.import_contracts import ROOT_PACKAGES, import_graph

ROOT = Path(__file__).resolve().parent.parent
LOW_APPS = ("accounts", "billing", "numbers")

# Circles Django demands, each with why. None today: django-fsm's permission hook is handed tickets.access.may_run at
# start-up (tickets/apps.py) and the completion of an account cancellation is handed the engine's settle step
# (tickets.effects.uses_settle_account, also in tickets/apps.py), so both arrows point down.
ALLOWED_CIRCLES: dict[frozenset[str], str] = {}


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def _app_modules(graph) -> list[str]:
    return sorted(m for m in graph.modules if ".migrations" not in m)


def circles(graph) -> list[list[str]]:
    """The graph's strongly connected parts with more than one module (Tarjan's algorithm, iterative)."""
    modules = _app_modules(graph)
    known = set(modules)
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i in known) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in modules:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            for offset, target in enumerate(edges[node][position:], start=position):
                if target not in index:
                    work.append((node, offset + 1))
                    work.append((target, 0))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                if low[node] == index[node]:
                    part = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        part.append(member)
                        if member == node:
                            break
                    if len(part) > 1:
                        found.append(sorted(part))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return found


def _lines(graph, part: list[str]) -> list[str]:
    members = set(part)
    return [
        f"{importer}:{detail['line_number']} {detail['line_contents']}"
        for importer in part
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & members)
        for detail in graph.get_import_details(importer=importer, imported=imported)
    ]


def test_no_module_imports_itself_round_a_circle(graph):  # issue 25, "no circle, imports inside functions included"
    assert "numbers.models" in graph.modules and "tickets.models" in graph.modules  # the whole project was read
    unexplained = [part for part in circles(graph) if frozenset(part) not in ALLOWED_CIRCLES]
    assert unexplained == [], "\n\n".join("\n".join(_lines(graph, part)) for part in unexplained)


def test_the_circle_finder_finds_a_circle(graph):  # issue 25: the test above can fail
    graph.add_import(importer="tickets.models", imported="tickets.services", line_number=1, line_contents="test")
    try:
        found = circles(graph)
    finally:
        graph.remove_import(importer="tickets.models", imported="tickets.services")
    assert any({"tickets.models", "tickets.services"} <= set(part) for part in found)


def test_accounts_billing_and_numbers_import_nothing_of_tickets(graph):  # issue 25, "import nothing of tickets"
    upward = [
        f"{importer}:{detail['line_number']} {detail['line_contents']}"
        for importer in _app_modules(graph)
        if importer.split(".")[0] in LOW_APPS
        for imported in sorted(graph.find_modules_directly_imported_by(importer))
        if imported.split(".")[0] == "tickets"
        for detail in graph.get_import_details(importer=importer, imported=imported)
    ]
    assert upward == []


def _function_imports(path: Path) -> list[tuple[int, bool]]:
    """Each import inside a function: its line, and whether a comment says why (on it, on the import lines and blank
    lines around it, or on the line above them)."""
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    first = inner.lineno - 1
                    while first > 0 and (
                        lines[first - 1].strip() == "" or lines[first - 1].strip().startswith(("import ", "from ", "#"))
                    ):
                        first -= 1
                    block = lines[first : inner.end_lineno]
                    above = lines[first - 1] if first > 0 else ""
                    found.append((inner.lineno, any("#" in line for line in block) or "#" in above))
    return found


def test_every_import_inside_a_function_says_why():  # issue 25, "each with a one-line why"
    files = subprocess.run(
        ["git", "ls-files", "--", *(f"{package}/*.py" for package in ROOT_PACKAGES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    silent = [
        f"{name}:{line}"
        for name in files
        if "/migrations/" not in name
        for line, explained in _function_imports(ROOT / name)
        if not explained
    ]
    assert files
    assert silent == []
