"""`manage.py purge_expired [--dry-run] [--account ID]`: purge every account whose retention period has ended, or
the one named (U6, S6); a purged account named again is looked at once more and the output says what was found."""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import Account
from tickets import purge

DELETED = [step.kind for step in purge.STEPS if step.kind != "tickets_redacted"]
REDACTED = ["tickets_redacted", "log_entries_redacted", "exit_comments"]


def _listing(counts: dict[str, int], kinds: list[str]) -> str:
    return ", ".join(f"{kind.replace('_', ' ')} {counts.get(kind, 0)}" for kind in kinds) or "nothing"


class Command(BaseCommand):
    help = "Purge the data of cancelled accounts whose retention period has ended; --dry-run only lists it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List what would be deleted; change nothing.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
        parser.add_argument(
            "--account",
            metavar="ID",
            help="Purge this account only (its account ID), if it is due; a purged one is looked at again.",
        )

    def handle(
        self, *args, dry_run: bool = False, no_progress: bool = False, account: str | None = None, **options
    ) -> None:
        if dry_run:
            self._dry_run()
            return
        if account is not None:
            found = Account.objects.filter(account_id=account.strip()).first()
            if found is None:
                raise CommandError(f"No account has the ID {account!r}.")
            self._purge(found, no_progress)
            return
        ids = purge.purgeable_account_ids()
        if not ids:
            self.stdout.write("No account is due for purging.")
        for account_id in ids:
            due = purge.due_accounts().filter(pk=account_id).first()
            if due is not None:
                self._purge(due, no_progress)

    def _purge(self, account: Account, no_progress: bool) -> None:
        label = account.account_id
        total = 0
        if account.status != Account.Status.PURGED:
            total = sum(v for k, v in purge.preview(account).items() if k in DELETED + ["tickets_redacted"])
        with tqdm(total=total, desc=label, unit="row", file=sys.stderr, disable=no_progress) as bar:
            result = purge.purge_account(account.pk, progress=lambda _kind, n: bar.update(n))
        if result.outcome == "purged":
            self.stdout.write(
                self.style.SUCCESS(f"{label}: purged.")
                + f" Deleted: {_listing(result.counts, DELETED)}. Redacted: {_listing(result.counts, REDACTED)}."
            )
        elif result.outcome == "already_purged":
            self.stdout.write(f"{label}: already purged. {result.detail}")
        else:
            self.stdout.write(self.style.WARNING(f"{label}: {result.outcome}. {result.detail}"))

    def _dry_run(self) -> None:
        due = purge.dry_run()
        if not due:
            self.stdout.write("Dry run: no account is due for purging.")
            return
        self.stdout.write(f"Dry run: {len(due)} account(s) past their retention period. Nothing is changed.")
        for item in due:
            account = item.account
            self.stdout.write(
                f"\n{account.account_id} {account.name} — plan {account.plan.name}, "
                f"cancelled {account.cancelled_at:%Y-%m-%d}, purge after {account.purge_after:%Y-%m-%d %H:%M} UTC"
                + (" (purge interrupted, will resume)" if account.status == account.Status.PURGING else "")
            )
            if item.blocked:
                self.stdout.write(self.style.WARNING(f"  BLOCKED — {item.blocked}"))
            verb = "would delete" if not item.blocked else "would delete once released"
            self.stdout.write(f"  {verb}: {_listing(item.counts, DELETED)}")
            self.stdout.write(
                f"  would redact (kept): {_listing(item.counts, REDACTED)}; "
                f"attachment files {item.counts.get('attachment_bytes', 0)} bytes"
            )
