"""A kind is one module (issue 25): every kind of `Kind` has a spec with every part, the start-up check says when
one does not, and no code outside tickets/kinds/ lists kinds (a table keyed by kind, a ladder over kinds)."""

import ast
import dataclasses
import re
from pathlib import Path

from django.core import checks

from tickets.kinds import registry
from tickets.kinds.checks import kinds_complete
from tickets.models import Kind

ROOT = Path(__file__).resolve().parents[2]
# What the README's must-show runs: `git grep -n "Kind\.[A-Z_]*:" -- tickets accounts billing`.
LISTS_A_KIND = re.compile(r"Kind\.[A-Z_]*:")


def test_every_kind_has_a_spec_with_every_part():
    # issue 25: registered once, checked complete at start-up
    specs = registry.specs()
    assert list(specs) == Kind.values
    assert {kind: spec.missing() for kind, spec in specs.items()} == dict.fromkeys(Kind.values, [])
    assert kinds_complete() == []
    assert kinds_complete in checks.registry.registry.get_checks()


def test_the_start_up_check_names_a_kind_without_a_spec_and_a_spec_without_a_part(monkeypatch):
    # issue 25: a kind of the Kind enum with no spec, or a spec missing a part, is an error
    specs = registry.specs()
    broken = dataclasses.replace(specs[Kind.DOWNGRADE], form=None, summary=None)
    monkeypatch.setattr(registry, "_SPECS", {**specs, Kind.DOWNGRADE: broken})
    del registry._SPECS[Kind.PORT_OUT]
    messages = sorted((error.id, error.msg) for error in kinds_complete())
    assert messages == [
        ("kinds.E001", "The kind 'port_out' has no spec."),
        ("kinds.E003", "The spec of 'downgrade' lacks its form and template (or flow)."),
        ("kinds.E003", "The spec of 'downgrade' lacks its summary."),
    ]


def _code_files():
    for folder in ("tickets", "accounts", "billing"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if not relative.startswith("tickets/kinds/") and "/migrations/" not in relative:
                yield relative, path.read_text()


def _tables_keyed_by_kind(source: str) -> list[int]:
    """Lines of dict displays with a `Kind.X` key (what the regex misses when the key's line wraps)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict) and any(
            isinstance(key, ast.Attribute) and isinstance(key.value, ast.Name) and key.value.id == "Kind"
            for key in node.keys
        ):
            lines.append(node.lineno)
    return lines


def test_no_code_outside_tickets_kinds_lists_kinds():
    # issue 25: no dict keyed by kinds, no ladder `if kind == Kind.X:` outside tickets/kinds/ and migrations
    listed = [
        f"{name}:{number}: {line.strip()}"
        for name, source in _code_files()
        for number, line in enumerate(source.splitlines(), 1)
        if LISTS_A_KIND.search(line)
    ]
    keyed = [f"{name}:{number}" for name, source in _code_files() for number in _tables_keyed_by_kind(source)]
    assert len(list(_code_files())) > 100
    assert listed == []
    assert keyed == []
