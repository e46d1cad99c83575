from django.core.management.base import BaseCommand

from tickets.inbound.imap import fetch_all


class Command(BaseCommand):
    help = "Read every intake mailbox once (the beat task runs the same code)."

    def handle(self, *args, **options) -> None:
        results = fetch_all()
        if not results:
            self.stdout.write("No mailbox to read: add one in the admin (Email in → Mailboxes) or set INTAKE_IMAP_URL.")
        for result in results:
            if result.error:
                self.stderr.write(f"{result.mailbox}: failed: {result.error}")
            else:
                quarantined = f", {result.quarantined} quarantined" if result.quarantined else ""
                self.stdout.write(f"{result.mailbox}: {result.stored} new message(s){quarantined}")
