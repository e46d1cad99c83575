"""A lock the database gives up on is a 409 `busy`, never a 500 (config/locking.py): retried a few times by the
service, then refused; once the lock is free the same call goes through."""

import threading

import pytest
from django.db import connection, connections, transaction

from accounts.models import Account
from tickets.models import Comment, Ticket, TransitionLog

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_transition_waiting_past_the_lock_timeout_is_409_busy(avoxi_port_out, client_for):
    people, ticket = avoxi_port_out
    held, release = threading.Event(), threading.Event()

    def hold_the_account() -> None:
        try:
            with transaction.atomic():
                Account.objects.select_for_update().get(pk=people.account.pk)  # e.g. a long purge batch
                held.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_account)
    holder.start()
    try:
        assert held.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '150ms'")
        answer = client_for(people.agent).post(
            f"/api/v1/tickets/{ticket.pk}/transitions/", {"name": "verify"}, format="json"
        )
        assert answer.status_code == 409, answer.content
        assert answer.json()["code"] == "busy"
        assert not TransitionLog.objects.filter(ticket=ticket, transition="verify").exists()
    finally:
        release.set()
        holder.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    again = client_for(people.agent).post(
        f"/api/v1/tickets/{ticket.pk}/transitions/", {"name": "verify"}, format="json"
    )
    assert again.status_code == 200, again.content


def test_any_view_hitting_a_lock_timeout_is_409_busy_not_500(avoxi_port_out, client_for):
    # The net under every view (BusyMiddleware): a comment is written by no retrying service, and its insert
    # waits for the ticket row another transaction holds FOR UPDATE.
    people, ticket = avoxi_port_out
    held, release = threading.Event(), threading.Event()

    def hold_the_ticket() -> None:
        try:
            with transaction.atomic():
                Ticket.objects.select_for_update().get(pk=ticket.pk)
                held.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_ticket)
    holder.start()
    try:
        assert held.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '150ms'")
        answer = client_for(people.agent).post(
            f"/api/v1/tickets/{ticket.pk}/comments/", {"body": "Called the customer."}, format="json"
        )
        assert answer.status_code == 409, answer.content
        assert answer.json()["code"] == "busy"
    finally:
        release.set()
        holder.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert not Comment.objects.filter(ticket=ticket).exists()
