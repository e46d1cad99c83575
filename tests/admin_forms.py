"""Posting Django admin change forms in tests: start from what the page rendered, then change what matters."""

from django import forms


def _put(data: dict, form: forms.BaseForm) -> None:
    for name, field in form.fields.items():
        key = form.add_prefix(name)
        value = form[name].value()
        if isinstance(field.widget, forms.MultiWidget):
            parts = field.widget.decompress(value) if value else [None] * len(field.widget.widgets)
            for i, part in enumerate(parts):
                if isinstance(part, list):  # a cell holding a list is a textarea, one item a line (add-on tiers)
                    data[f"{key}_{i}"] = "\n".join(str(item) for item in part)
                else:
                    data[f"{key}_{i}"] = "" if part is None else str(part)
        elif isinstance(field, forms.BooleanField):
            if value:
                data[key] = "on"
        elif value is None:
            data[key] = ""
        elif isinstance(value, (list, tuple)):
            data[key] = [str(v) for v in value]
        else:
            data[key] = str(value)  # BoundField.value() is already prepared for the widget (JSON as text)


def changeform_post_data(response) -> dict:
    """The POST data that re-submits an admin add/change page unchanged, inlines included."""
    data: dict = {}
    _put(data, response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        _put(data, formset.management_form)
        for form in formset.initial_forms:
            _put(data, form)
        data[f"{formset.prefix}-TOTAL_FORMS"] = str(len(formset.initial_forms))
    return data


def add_inline_row(data: dict, prefix: str, **fields) -> None:
    """Append one new row to the inline formset `prefix` (e.g. "memberships")."""
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    for name, value in fields.items():
        data[f"{prefix}-{index}-{name}"] = value
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)


def errors_of(response) -> str:
    """Every error the admin page shows, as one string (form, inline forms and inline formsets)."""
    context = response.context
    messages = [str(context["adminform"].form.errors)]
    for inline in context.get("inline_admin_formsets", []):
        messages.append(str(inline.formset.non_form_errors()))
        messages.extend(str(form.errors) for form in inline.formset.forms)
    return " ".join(m for m in messages if m)
