"""What every ModelAdmin of the project shares."""

from config.ids import as_id


class ValidInitialIdsMixin:
    """An add form prefilled from its query string (`?account=12`, the admin's own "add another" links) keeps
    only values that are ids for its autocomplete fields: Django's autocomplete widget would otherwise query
    with `?account=abc` and fail with a 500. Other fields ignore a value that matches no choice."""

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
