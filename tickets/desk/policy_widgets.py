"""The policy editor's widgets (SPEC §3: a provider configures how customers leave, in the admin, without code):
checkbox grids, checkbox lists and small tables, each writing the same JSON the model stores and validated by the
model's own validators. The raw JSON stays editable under the form's collapsed "Advanced" section.

Each friendly field posts under its own name (`<json field>__edit`); the JSON field posts under the model field's
name. Whichever of the two the person changed is saved; if both changed, the JSON does (it is the explicit one).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


def _rows(value) -> dict:
    return value if isinstance(value, dict) else {}


class GridCheckboxWidget(forms.Widget):
    """Rows × columns of checkboxes, posted as "row:column" tokens under one name."""

    template_name = "billing/widgets/grid.html"

    def __init__(self, rows, columns, corner: str = "", attrs=None):
        super().__init__(attrs)
        self.rows, self.columns, self.corner = list(rows), list(columns), corner

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name)

    def value_omitted_from_data(self, data, files, name):
        return False  # an unticked grid posts nothing: that is an answer (no roles), not an omission

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        chosen = {str(token) for token in (value or []) if isinstance(token, (str, int))}
        base = context["widget"]["attrs"].get("id") or f"id_{name}"
        context["widget"]["corner"] = self.corner
        context["widget"]["column_labels"] = [label for _, label in self.columns]
        context["widget"]["table"] = [
            {
                "label": row_label,
                "cells": [
                    {
                        "value": f"{row}:{column}",
                        "id": f"{base}_{row}_{column}",
                        "label": column_label,
                        "checked": f"{row}:{column}" in chosen,
                    }
                    for column, column_label in self.columns
                ],
            }
            for row, row_label in self.rows
        ]
        return context


class GridField(forms.Field):
    """{row: [columns]} edited as a grid of checkboxes. `every_row`: write each row, even with nothing ticked (where a
    row left out means something else, e.g. offers per reason: left out = every offer). `missing_row`: what a row
    absent from the stored value shows (None: nothing ticked)."""

    def __init__(self, rows, columns, *, corner="", every_row=False, missing_row=None, **kwargs):
        self.row_keys = [key for key, _ in rows]
        self.column_keys = [key for key, _ in columns]
        self.every_row, self.missing_row = every_row, missing_row
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", GridCheckboxWidget(rows, columns, corner))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return [str(token) for token in value]
        tokens = []
        stored = _rows(value)
        for row in self.row_keys:
            columns = stored.get(row, self.missing_row) if self.missing_row is not None else stored.get(row, [])
            if isinstance(columns, list):
                tokens += [f"{row}:{column}" for column in columns if isinstance(column, str)]
        return tokens

    def to_python(self, value):
        tokens = value if isinstance(value, (list, tuple)) else ([] if value in (None, "") else [value])
        chosen: dict[str, set[str]] = {}
        for token in tokens:
            row, _, column = str(token).partition(":")
            if row not in self.row_keys or column not in self.column_keys:
                raise ValidationError("Tick only the boxes shown.", code="invalid_choice")
            chosen.setdefault(row, set()).add(column)
        return {
            row: [column for column in self.column_keys if column in chosen.get(row, ())]
            for row in self.row_keys
            if self.every_row or chosen.get(row)
        }

    def has_changed(self, initial, data):
        return sorted(self.prepare_value(initial)) != sorted(self.prepare_value(data or []))


class OrderedChoicesField(forms.TypedMultipleChoiceField):
    """Checkboxes whose ticked values are saved in the order of the choices, whatever order the browser posts."""

    def clean(self, value):
        chosen = super().clean(value)
        order = [self.coerce(key) for key, _ in self.choices]
        return sorted(chosen, key=order.index)


class TableWidget(forms.MultiWidget):
    """Rows × columns of small inputs (numbers or selects), one subwidget per cell, row by row."""

    template_name = "billing/widgets/table.html"

    def __init__(self, rows, columns, cell: forms.Widget, corner: str = "", attrs=None):
        self.rows, self.columns, self.corner = list(rows), list(columns), corner
        super().__init__([cell for _ in range(len(self.rows) * len(self.columns))], attrs)

    def decompress(self, value):
        stored = _rows(value)
        cells = []
        for row, _ in self.rows:
            entry = stored.get(row)
            for column, _ in self.columns:
                if column is None:  # a one-column table of plain values: {row: value}
                    cells.append(entry if not isinstance(entry, (dict, list)) else None)
                else:
                    cells.append(entry.get(column) if isinstance(entry, dict) else None)
        return cells

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        cells = context["widget"]["subwidgets"]
        width = len(self.columns)
        for index, cell in enumerate(cells):
            row_label = self.rows[index // width][1]
            column_label = self.columns[index % width][1]
            cell["attrs"]["aria-label"] = f"{row_label}: {column_label}" if column_label else row_label
        context["widget"]["corner"] = self.corner
        context["widget"]["column_labels"] = [label for _, label in self.columns]
        context["widget"]["table"] = [
            {"label": label, "cells": cells[i * width : (i + 1) * width]} for i, (_, label) in enumerate(self.rows)
        ]
        return context


class TableField(forms.MultiValueField):
    """{row: {column: value}} (or {row: value} for one column keyed None); empty cells are left out."""

    def __init__(self, rows, columns, cell_field, cell_widget, *, corner="", **kwargs):
        self.rows, self.columns = list(rows), list(columns)
        fields = [cell_field() for _ in range(len(self.rows) * len(self.columns))]
        kwargs.setdefault("widget", TableWidget(self.rows, self.columns, cell_widget, corner))
        super().__init__(fields, require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list):
        width = len(self.columns)
        result: dict = {}
        for index, value in enumerate(data_list or []):
            if value in (None, ""):
                continue
            row = self.rows[index // width][0]
            column = self.columns[index % width][0]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if column is None:
                result[row] = value
            else:
                result.setdefault(row, {})[column] = value
        return result

    def has_changed(self, initial, data):
        widget = self.widget
        before = initial if isinstance(initial, list) else widget.decompress(initial)
        after = data if isinstance(data, list) else widget.decompress(data)
        for field, old, new in zip(self.fields, before, after, strict=False):
            try:
                old = field.to_python(field.prepare_value(old))
            except ValidationError:
                return True
            try:
                new = field.to_python(new)
            except ValidationError:
                return True
            if old != new:
                return True
        return False


class LinesTextarea(forms.Textarea):
    """A list of names, one a line."""

    def format_value(self, value):
        if isinstance(value, (list, tuple)):
            return "\n".join(str(item) for item in value)
        return super().format_value(value)


class LinesField(forms.Field):
    """A list of distinct names typed one a line (blank lines and spaces around a name dropped); none: None."""

    widget = LinesTextarea

    def prepare_value(self, value):
        return "\n".join(str(item) for item in value) if isinstance(value, (list, tuple)) else value

    def to_python(self, value):
        if isinstance(value, (list, tuple)):
            lines = [str(item) for item in value]
        else:
            lines = str(value or "").splitlines()
        names = list(dict.fromkeys(line.strip() for line in lines if line.strip()))
        return names or None


class ListCellsTableWidget(TableWidget):
    """A one-column table whose cells hold lists ({row: [names]}), e.g. each add-on's tiers."""

    def decompress(self, value):
        stored = _rows(value)
        return [stored.get(row) if isinstance(stored.get(row), list) else None for row, _ in self.rows]
