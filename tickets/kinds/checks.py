"""The start-up check that every kind is whole: each kind of `Kind` has a spec, and no spec lacks a part (its
template included). Registered by tickets.apps; `manage.py check` and every server start run it."""

from django.core.checks import Error
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from ..models import TRANSITIONS, Kind
from . import registry


def kinds_complete(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    specs = registry.specs()
    for kind in Kind.values:
        if kind not in specs:
            hint = f"Add tickets/kinds/{kind}.py."
            errors.append(Error(f"The kind {kind!r} has no spec.", hint=hint, id="kinds.E001"))
    for kind, spec in specs.items():
        errors.extend(_spec_errors(kind, spec))
    return errors


def _spec_errors(kind: str, spec) -> list[Error]:
    kind = str(kind)  # the value, not the enum member's name
    errors = []
    if kind not in Kind.values:
        errors.append(Error(f"The spec of {kind!r} names no kind of Kind.", id="kinds.E002"))
    for part in spec.missing():
        errors.append(Error(f"The spec of {kind!r} lacks its {part}.", id="kinds.E003"))
    if spec.rules is not None and set(spec.rules.guards) != set(TRANSITIONS):
        errors.append(Error(f"The spec of {kind!r} lacks guards for some transitions.", id="kinds.E004"))
    if spec.template:
        try:
            get_template(spec.template)
        except TemplateDoesNotExist:
            errors.append(Error(f"The template {spec.template} of {kind!r} does not exist.", id="kinds.E005"))
    return errors
