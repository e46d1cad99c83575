"""`manage.py account_lifecycle`: print the account's machine as the README's "Account lifecycle" table, read from
the code (accounts.lifecycle.lifecycle_table); a test keeps the README equal to it."""

from django.core.management.base import BaseCommand

from accounts.lifecycle import lifecycle_table


class Command(BaseCommand):
    help = "Print the account's state machine (states, moves, who runs them, what each settles) as a markdown table."

    def handle(self, *args, **options) -> None:
        self.stdout.write(lifecycle_table(), ending="")
