"""Backup and restore of the database and the attachments (`manage.py backup DIR`, `manage.py restore DIR`).

A backup folder holds:
- `database.dump` (PostgreSQL, `pg_dump --format=custom`) or `database.sqlite3` (SQLite, through sqlite3's backup
  API, consistent while the desk writes);
- `media/`, a copy of MEDIA_ROOT (the attachments);
- `manifest.json`: the engine, when, every table's row count in the backed-up database, and the sha256 of every
  file above. A restore checks every checksum before it writes anything.

The database is copied before the files: an attachment's file is saved before its row, so every row in the copy
finds its file (a file newer than the copy is an orphan, harmless). On PostgreSQL the row counts and the dump read
one snapshot (pg_dump --snapshot), so the manifest's counts are exactly the dump's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

MANIFEST = "manifest.json"
MEDIA = "media"
DATABASE_FILES = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
FORMAT_VERSION = 1


class BackupError(Exception):
    """A backup or restore that cannot go on; its message says why and what to do, for the operator."""


@dataclass
class Result:
    folder: Path
    tables: dict[str, int]
    files: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def engine() -> str:
    vendor = connection.vendor
    if vendor not in DATABASE_FILES:
        raise BackupError(f"Backups cover PostgreSQL and SQLite; this database is {vendor}.")
    return vendor


def table_row_counts() -> dict[str, int]:
    """Every table of the current database (Django's and the apps') with its number of rows."""
    with connection.cursor() as cursor:
        names = sorted(connection.introspection.table_names(cursor))
        counts = {}
        for name in names:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(name)}")  # noqa: S608 # nosec B608 - introspected table names
            counts[name] = cursor.fetchone()[0]
    return counts


def media_files(root: Path) -> list[Path]:
    if not root.exists():
        return []
    return sorted(path for path in root.rglob("*") if path.is_file())


# -- backup --------------------------------------------------------------------------------------------------------
def backup(folder: Path) -> Result:
    """1. Refuse a folder that already holds a backup (nothing is overwritten).
    2. Copy the database (and count its tables' rows in the same snapshot).
    3. Copy MEDIA_ROOT into media/.
    4. Write the manifest with every file's sha256, last: a folder without a manifest is an unfinished backup."""
    vendor = engine()
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty: give a new folder for each backup (nothing is overwritten).")
    database_file = folder / DATABASE_FILES[vendor]
    tables = _dump_postgresql(database_file) if vendor == "postgresql" else _copy_sqlite(database_file)

    media_root = Path(settings.MEDIA_ROOT)
    files = {}
    for source in media_files(media_root):
        relative = source.relative_to(media_root).as_posix()
        target = folder / MEDIA / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        files[f"{MEDIA}/{relative}"] = sha256_of(target)
    files[database_file.name] = sha256_of(database_file)

    manifest = {
        "format": FORMAT_VERSION,
        "engine": vendor,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "database": database_file.name,
        "tables": tables,
        "files": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return Result(folder=folder, tables=tables, files=len(files) - 1)


def _copy_sqlite(target: Path) -> dict[str, int]:
    # One backup step (all pages) reads one consistent state of the database; the counts are read from the copy.
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    try:
        connection.connection.backup(copy, pages=-1)
        names = [row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            name: copy.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]  # noqa: S608 # nosec B608 - the copy's own tables
            for name in sorted(names)
            if not name.startswith("sqlite_")
        }
    finally:
        copy.close()


def _postgres_env() -> tuple[list[str], dict[str, str]]:
    """Connection arguments for pg_dump/pg_restore from the settings (the password in the environment)."""
    db = settings.DATABASES["default"]
    args = []
    if db.get("HOST"):
        args += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args, env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError as exc:
        raise BackupError(f"{command[0]} is not installed: install PostgreSQL's client tools to {what}.") from exc
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed to {what}: {done.stderr.strip()[-2000:]}")


def _dump_postgresql(target: Path) -> dict[str, int]:
    args, env = _postgres_env()
    # A repeatable-read transaction held open while pg_dump reads the snapshot it exports: the counts and the dump
    # see the same rows whatever the desk writes meanwhile.
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        tables = table_row_counts()
        _run(
            [
                "pg_dump",
                *args,
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                "--file",
                str(target),
                settings.DATABASES["default"]["NAME"],
            ],
            env,
            "copy the database",
        )
    return tables


# -- restore -------------------------------------------------------------------------------------------------------
def read_manifest(folder: Path) -> dict:
    """The backup's manifest, once every file it lists is there with its checksum."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{folder} holds no {MANIFEST}: it is not a backup, or its backup did not finish.") from None
    except (ValueError, OSError) as exc:
        raise BackupError(f"{folder / MANIFEST} cannot be read: {exc}") from exc
    if manifest.get("format") != FORMAT_VERSION or manifest.get("engine") not in DATABASE_FILES:
        raise BackupError(f"{folder / MANIFEST} is not a manifest this version of the desk wrote.")
    for name, checksum in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"The backup is incomplete: {name} is missing.")
        if sha256_of(path) != checksum:
            raise BackupError(f"The backup is damaged: {name} does not match its checksum in the manifest.")
    return manifest


def restore(folder: Path) -> Result:
    """1. Check the backup (manifest, every checksum) and that it was taken from this engine.
    2. Refuse a database that holds any table, and a media folder that holds any file: a restore never mixes.
    3. Restore the database, then the files; check the restored tables' row counts against the manifest."""
    manifest = read_manifest(folder)
    vendor = engine()
    if manifest["engine"] != vendor:
        raise BackupError(
            f"This backup is of a {manifest['engine']} database and DATABASE_URL names a {vendor} one: "
            f"restore it into {manifest['engine']}."
        )
    with connection.cursor() as cursor:
        existing = connection.introspection.table_names(cursor)
    if existing:
        raise BackupError(
            f"The database is not empty ({len(existing)} tables): restore only into a new, empty database."
        )
    media_root = Path(settings.MEDIA_ROOT)
    if media_files(media_root):
        raise BackupError(f"The media folder {media_root} is not empty: restore only into an empty one.")

    database_file = folder / manifest["database"]
    if vendor == "postgresql":
        args, env = _postgres_env()
        _run(
            [
                "pg_restore",
                *args,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--dbname",
                settings.DATABASES["default"]["NAME"],
                str(database_file),
            ],
            env,
            "restore the database",
        )
    else:
        _restore_sqlite(database_file)

    copied = 0
    for name in manifest["files"]:
        if not name.startswith(f"{MEDIA}/"):
            continue
        target = media_root / name.removeprefix(f"{MEDIA}/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / name, target)
        copied += 1

    connection.close()  # the next query opens a connection that sees the restored schema
    tables = table_row_counts()
    if tables != manifest["tables"]:
        differing = sorted(
            name for name in set(tables) | set(manifest["tables"]) if tables.get(name) != manifest["tables"].get(name)
        )
        raise BackupError(f"The restored database differs from the backup in: {', '.join(differing[:10])}.")
    return Result(folder=folder, tables=tables, files=copied)


def _restore_sqlite(database_file: Path) -> None:
    connection.ensure_connection()
    source = sqlite3.connect(database_file)
    try:
        source.backup(connection.connection)
    finally:
        source.close()
