"""What every ModelAdmin of the project shares."""

import datetime as dt

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.utils import timezone

from config.ids import as_id


class UntamperedFormSetMixin:
    """An inline formset whose management form was edited (INITIAL_FORMS raised or lowered) is a form error: a row
    posted as new with the id of an existing row would be inserted a second time (an IntegrityError on a unique
    constraint such as one license line per product, so a 500), and a row posted as existing without one is
    not a row of this page."""

    def clean(self) -> None:
        super().clean()
        pk_name = self.model._meta.pk.name
        posted_as_new_with_id = any(
            (getattr(form, "cleaned_data", None) or {}).get(pk_name) is not None for form in self.extra_forms
        )
        posted_as_existing_without_id = any(
            form.instance.pk is None and form.has_changed() for form in self.initial_forms
        )
        if posted_as_new_with_id or posted_as_existing_without_id:
            raise ValidationError(
                "These rows changed since the page was shown (or the form was altered): reload the page and try again."
            )


class ValidInitialIdsMixin:
    """Django's autocomplete widget queries the values it is given as ids, so `?account=abc` on an add form, or
    `assignee=abc` posted to a change form, would fail with a 500 while rendering. An add form prefilled from its
    query string keeps only ids; a posted value that is not an id becomes 0, an id no row has, so the form
    answers "Select a valid choice" on that field and saves nothing. Other fields already refuse such a value."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST":
            bad = [
                name
                for name in self.get_autocomplete_fields(request)
                if any(value and as_id(value) is None for value in request.POST.getlist(name))
            ]
            if bad:
                request.POST = request.POST.copy()
                for name in bad:
                    request.POST.setlist(name, [v if as_id(v) else "0" for v in request.POST.getlist(name) if v])
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_formsets_with_inlines(self, request, obj=None):
        for formset, inline in super().get_formsets_with_inlines(request, obj):
            yield type(formset.__name__, (UntamperedFormSetMixin, formset), {}), inline

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        # A date or time prefilled from the query string is text: parsed, or dropped when it is not one (rendered
        # as given, `?cancelled_at=x` was a 500).
        for name in list(initial):
            try:
                field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if isinstance(field, models.DateField | models.TimeField) and isinstance(initial[name], str):
                try:
                    value = field.to_python(initial[name])
                except (ValidationError, ValueError, OverflowError):
                    value = None
                if isinstance(value, dt.datetime) and timezone.is_naive(value):
                    value = timezone.make_aware(value)
                if value is None:
                    del initial[name]
                else:
                    initial[name] = value
        for name in self.get_autocomplete_fields(request):
            value = initial.get(name)
            if value is None:
                continue
            values = value if isinstance(value, list) else [value]
            if any(as_id(v) is None for v in values):
                del initial[name]
        return initial
