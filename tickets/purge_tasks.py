"""Celery tasks of the purge: they take ids, are safe to run twice, and call accounts.purge."""

from celery import shared_task

from . import purge


@shared_task(acks_late=True)
def purge_account(account_id: int) -> str:
    """Purge one account if it is due (retention 0 queues this on completion; the daily sweep fans out to it).
    The result is the outcome, then what it found: "already_purged: Purged on …. Found nothing left to delete."."""
    result = purge.purge_account(account_id)
    return f"{result.outcome}: {result.detail}" if result.detail else result.outcome


@shared_task
def purge_expired() -> int:
    """Daily on beat: one purge task per account whose retention has ended (legal holds are skipped)."""
    ids = purge.purgeable_account_ids()
    for account_id in ids:
        purge_account.delay(account_id)
    return len(ids)
