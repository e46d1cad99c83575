"""Celery tasks of the purge: they take ids, are safe to run twice, and call tickets.purge."""

from celery import shared_task

from tickets import purge


# The name it was queued under before the move (accounts/tasks.py): queued tasks and beat keep finding it.
@shared_task(name="accounts.tasks.purge_account", acks_late=True)
def purge_account(account_id: int) -> str:
    """Purge one account if it is due (retention 0 queues this on completion; the daily sweep fans out to it).
    The result is the outcome, then what it found: "already_purged: Purged on …. Found nothing left to delete."."""
    result = purge.purge_account(account_id)
    return f"{result.outcome}: {result.detail}" if result.detail else result.outcome


@shared_task(name="accounts.tasks.purge_expired")  # the beat schedule's name (config/settings.py)
def purge_expired() -> int:
    """Daily on beat: one purge task per account whose retention has ended (legal holds are skipped)."""
    ids = purge.purgeable_account_ids()
    for account_id in ids:
        purge_account.delay(account_id)
    return len(ids)
