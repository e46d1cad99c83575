"""What every ModelAdmin of the project shares."""

from config.ids import as_id


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

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        for name in self.get_autocomplete_fields(request):
            value = initial.get(name)
            if value is None:
                continue
            values = value if isinstance(value, list) else [value]
            if any(as_id(v) is None for v in values):
                del initial[name]
        return initial
