"""Pieces of the agents' ticket list that keep it constant-time at 100,000 tickets (bench/queue_bench.py).

Django's defaults read the whole ticket table on every changelist: COUNT(*) for the paginator, SELECT DISTINCT
route for an AllValuesFieldListFilter, and the distinct assignees for a RelatedOnlyFieldListFilter. These
replacements ask only bounded questions: a count that stops at COUNT_CAP, the route choices, the staff list.
"""

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from billing.models import Route
from config.ids import as_id
from tickets import access

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows: past that the changelist offers the first COUNT_CAP / page-size pages."""

    @cached_property
    def count(self) -> int:
        objects = self.object_list
        if hasattr(objects, "order_by"):
            return objects.order_by()[:COUNT_CAP].count()
        return min(len(objects), COUNT_CAP)


class RouteListFilter(admin.SimpleListFilter):
    title = "route"
    parameter_name = "route"

    def lookups(self, request, model_admin):
        return Route.choices

    def queryset(self, request, queryset):
        return queryset.filter(route=self.value()) if self.value() else queryset


def fixed_choices_filter(field: str, choices) -> type[admin.SimpleListFilter]:
    """A list filter offering fixed choices for a plain CharField, where Django's default would run SELECT
    DISTINCT over every row of the table to find them."""

    class FixedChoicesFilter(admin.SimpleListFilter):
        title = field
        parameter_name = field

        def lookups(self, request, model_admin):
            return choices

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    return FixedChoicesFilter


class AssigneeListFilter(admin.SimpleListFilter):
    """Active staff and "unassigned": the staff list, not a DISTINCT over every ticket."""

    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        staff = access.assignable_staff().values_list("pk", "email")
        return [("none", "Unassigned")] + [(str(pk), email) for pk, email in staff]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value and as_id(value):
            return queryset.filter(assignee_id=as_id(value))
        return queryset
