"""`python manage.py backup DIR`: the database and the attachments, with a manifest of checksums (config/backup.py)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config.backup import BackupError, backup


class Command(BaseCommand):
    help = "Back up the database and the attachments (MEDIA_ROOT) into DIR, a new or empty folder."

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", metavar="DIR", help="A new or empty folder for this backup.")

    def handle(self, *args, **options) -> None:
        try:
            result = backup(Path(options["folder"]))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(result.tables.values())
        self.stdout.write(
            f"Backed up {len(result.tables)} tables ({rows} rows) and {result.files} files into {result.folder}."
        )
