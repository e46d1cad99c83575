"""Bulk loading for the benchmarks: PostgreSQL COPY of unsaved model instances, a chunk at a time.

Django-only (no Exitdesk import), so the django-helpdesk side of bench/helpdesk_compare.py uses it too. Field
defaults apply as on save() (each field's pre_save and get_db_prep_save), except that a date an auto_now or
auto_now_add field already holds is kept (a loaded history has its own dates); an instance whose pk is set
keeps it with `with_pk` (call reset_sequence afterwards).
"""

from __future__ import annotations

from collections.abc import Iterable


def copy_instances(model, instances: Iterable, *, with_pk: bool = False) -> int:
    """COPY the instances into the model's table in one statement; returns the number of rows."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for obj in instances:
                copy.write_row([f.get_db_prep_save(_value(f, obj), connection) for f in fields])
                count += 1
    return count


def _value(field, obj):
    value = getattr(obj, field.attname)
    kept = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    return value if kept and value is not None else field.pre_save(obj, True)


def next_id(model) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def reset_sequence(model) -> None:
    """After rows were copied with their own ids: the next save() gets the next free id."""
    from django.db import connection

    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        top = f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}"  # noqa: S608 - names from the model
        cursor.execute(f"SELECT setval(pg_get_serial_sequence(%s, %s), ({top}), false)", [table, column])
