"""The demo's email: a few .eml files (inbound/demo_mail/) read through the same pipeline as a real mailbox."""

from pathlib import Path

from .models import InboundMessage
from .services import receive

DEMO_MAIL = Path(__file__).resolve().parent / "demo_mail"


def load_demo_emails() -> list[InboundMessage]:
    """Idempotent: a message already stored (same Message-ID) is found, not stored again."""
    return [receive(path.read_bytes(), source=InboundMessage.Source.FILE) for path in sorted(DEMO_MAIL.glob("*.eml"))]
