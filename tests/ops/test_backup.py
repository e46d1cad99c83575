"""Backup and restore (issue 27, SPEC §6b): `manage.py backup DIR` takes the database and the attachments with a
manifest of checksums; `manage.py restore DIR` brings them back into an empty database and media folder, on the
suite's engine (PostgreSQL through pg_dump/pg_restore, SQLite through its backup API)."""

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from bench.stack import drop_database, fresh_database
from config.backup import table_row_counts
from tests.processes import clean_env, on_postgres, run
from tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump and the restoring process see committed rows only

SECRET_KEY = "k3y-for-the-restore-tests-only-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f"


def checksums(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def restored_row_counts(database_url: str) -> dict[str, int]:
    """Every table of the restored database with its rows, read without Django (the restore ran elsewhere)."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            names = [n for n in names if not n.startswith("sqlite_")]
            return {n: db.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    import psycopg

    with psycopg.connect(database_url) as db:
        names = [r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {n: db.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}


@pytest.fixture
def empty_database(tmp_path):
    """A new, empty database of the suite's engine: its URL (PostgreSQL: created here and dropped after)."""
    if not on_postgres():
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    name = f"{connection.settings_dict['NAME']}_restored"
    url = fresh_database(name)
    yield url
    drop_database(name)


def restore_command(folder: Path, database_url: str, media_root: Path):
    env = clean_env(SECRET_KEY=SECRET_KEY, DATABASE_URL=database_url, MEDIA_ROOT=str(media_root))
    return run(["manage.py", "restore", str(folder)], env)


def test_backup_of_the_demo_restores_every_row_and_every_file(settings, tmp_path, empty_database):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    call_command("demo", verbosity=0)
    ticket = Ticket.objects.order_by("pk").first()
    files = [("statement.pdf", b"%PDF-1.4 invoice"), ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))]
    for name, content in files:
        attachment = Attachment(ticket=ticket, name=name, size=len(content))
        attachment.file.save(name, ContentFile(content), save=True)
    source_counts = table_row_counts()
    source_files = checksums(Path(settings.MEDIA_ROOT))
    assert len(source_files) == 2 and source_counts["accounts_account"] >= 5 and source_counts["tickets_ticket"] > 0

    folder = tmp_path / "backup"
    call_command("backup", str(folder), stdout=open("/dev/null", "w"))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["tables"] == source_counts
    assert {name for name in manifest["files"] if name.startswith("media/")} == {f"media/{n}" for n in source_files}

    restored_media = tmp_path / "restored-media"
    done = restore_command(folder, empty_database, restored_media)
    assert done.returncode == 0, done.stderr
    assert "Restored" in done.stdout
    assert restored_row_counts(empty_database) == source_counts
    assert checksums(restored_media) == source_files

    # A second restore into the now full database is refused, and says why.
    again = restore_command(folder, empty_database, tmp_path / "other-media")
    assert again.returncode != 0
    assert "The database is not empty" in again.stderr
    assert restored_row_counts(empty_database) == source_counts


def test_restore_refuses_a_database_that_is_not_empty(settings, tmp_path, cast):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cast("kixie")
    call_command("backup", str(tmp_path / "backup"), stdout=open("/dev/null", "w"))
    settings.MEDIA_ROOT = str(tmp_path / "empty-media")
    with pytest.raises(CommandError, match="The database is not empty .* restore only into a new, empty database"):
        call_command("restore", str(tmp_path / "backup"))


def test_restore_refuses_a_damaged_backup(settings, tmp_path, cast, empty_database):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "statement.pdf").write_bytes(b"%PDF-1.4 invoice")
    cast("kixie")
    folder = tmp_path / "backup"
    call_command("backup", str(folder), stdout=open("/dev/null", "w"))
    (folder / "media" / "statement.pdf").write_bytes(b"%PDF-1.4 invoicf")

    done = restore_command(folder, empty_database, tmp_path / "restored-media")
    assert done.returncode != 0
    assert "The backup is damaged: media/statement.pdf does not match its checksum" in done.stderr
    assert restored_row_counts(empty_database) == {}  # nothing was written


def test_backup_refuses_a_folder_that_holds_files(tmp_path, db):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text("{}")
    with pytest.raises(CommandError, match="is not empty: give a new folder for each backup"):
        call_command("backup", str(tmp_path / "old"))
