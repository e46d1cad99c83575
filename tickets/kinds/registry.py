"""The registry of request kinds: each kind's module (tickets/kinds/<kind>.py) registers one `KindSpec`, and
every surface asks here instead of keeping its own table keyed by kind.

This module imports nothing of the project's but the vocabulary, so any layer may ask it (the access module
which kinds still write once their account closed, the purge which fields to blank). The kind modules import
the rules, effects and form bases they name; they are loaded once, on the first question (`load`), and the
app's system check (tickets.kinds.checks) says at start-up when a kind of `Kind` has no spec or a spec lacks a
part.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from accounts.vocabulary import Kind

# Modules of this package that are helpers, not kinds.
HELPERS = frozenset({"registry", "spec", "forms", "formats", "serializers", "checks"})

_SPECS: dict[str, Any] = {}
_loaded = False


def register(spec: Any) -> Any:
    """Called once by each kind's module; a second spec for the same kind is a mistake, said at once."""
    if spec.kind in _SPECS and _SPECS[spec.kind] is not spec:
        raise ValueError(f"The kind {spec.kind!r} is registered twice.")
    _SPECS[spec.kind] = spec
    return spec


def load() -> None:
    """Import every kind module of this package (each registers itself), once."""
    global _loaded
    if _loaded:
        return
    _loaded = True  # before the imports: a kind module asking the registry while it loads does not loop
    package = __name__.rpartition(".")[0]
    try:
        for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
            if module.name not in HELPERS and not module.name.startswith("_"):
                importlib.import_module(f"{package}.{module.name}")
    except BaseException:
        _loaded = False  # a kind that fails to import fails every question, never leaves a registry short of it
        raise


def specs() -> dict[str, Any]:
    """Every registered spec by its kind, in the order of `Kind` where the kind is one of its choices."""
    load()
    order = {kind: i for i, kind in enumerate(Kind.values)}
    return {kind: _SPECS[kind] for kind in sorted(_SPECS, key=lambda kind: order.get(kind, len(order)))}


def spec(kind: str) -> Any:
    """The spec of `kind`; KeyError for a kind nobody registered."""
    load()
    return _SPECS[kind]


def kinds_where(test: Callable[[Any], bool]) -> list[str]:
    """The kinds whose spec passes `test` (e.g. those whose open request holds the purge)."""
    return [kind for kind, one in specs().items() if test(one)]


def route_for(policy: Any, kind: str, addon_key: str | None = None) -> str:
    """The route a request of `kind` takes under `policy` (self-service, support case, account manager): the
    kind's spec says which of the policy's settings decides."""
    return spec(kind).route(policy, addon_key)


def product_links(kinds: list[str], section: str, item: Any, facts: Mapping) -> list[tuple[str, str, str]]:
    """The links the products page shows beside one item (a license, a number, an add-on): (kind, label, query)
    for each of `kinds` (those the member may ask for now) whose spec offers one there."""
    links = []
    for kind in kinds:
        offer = spec(kind).product_link
        link = offer(section, item, facts) if offer else None
        if link is not None:
            links.append((kind, *link))
    return links


class View(Mapping):
    """A read-only table keyed by kind, read from the registry when asked (never copied at import, so a module
    imported before the kinds are loaded still sees all of them). Kinds whose part is None are left out."""

    def __init__(self, part: Callable[[Any], Any]) -> None:
        self._part = part

    def _table(self) -> dict[str, Any]:
        return {kind: value for kind, one in specs().items() if (value := self._part(one)) is not None}

    def __getitem__(self, kind: str) -> Any:
        return self._table()[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())
