"""Row ids read from a query string or a form: only ASCII digits within the database's range are ids.

`str.isdigit()` also accepts digits such as "²", which `int()` refuses, and a number past 2**63 - 1 overflows
SQLite's INTEGER (an OverflowError, so a 500) though PostgreSQL just finds nothing: both are simply not ids.
"""

MAX_ID = 2**63 - 1  # the largest value of a bigint primary key


def as_id(value) -> int | None:
    """`value` as a row id (1 to MAX_ID), or None when it is not one."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def let_sqlite_compare_oversized_ints() -> None:
    """Bind an integer past SQLite's 64-bit range as text, so comparing it with an id finds nothing (as on
    PostgreSQL) instead of raising OverflowError: an admin filter such as `?account=99999999999999999999`, or a
    form's choice id, is then "no such row", never a 500. In-range integers are bound as before."""
    import sqlite3  # the SQLite driver: only when the database is SQLite (config/settings.py)

    low, high = -MAX_ID - 1, MAX_ID
    sqlite3.register_adapter(int, lambda value: value if low <= value <= high else str(value))
