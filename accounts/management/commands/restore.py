"""`python manage.py restore DIR`: a backup into an empty database and media folder (config/backup.py)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config.backup import BackupError, restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into the empty database DATABASE_URL names and the empty "
        "MEDIA_ROOT; a database with any table, or a media folder with any file, is refused."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", metavar="DIR", help="The folder `manage.py backup` wrote.")

    def handle(self, *args, **options) -> None:
        try:
            result = restore(Path(options["folder"]))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(result.tables.values())
        self.stdout.write(
            f"Restored {len(result.tables)} tables ({rows} rows, as in the backup) and {result.files} files "
            f"from {result.folder}."
        )
