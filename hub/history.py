"""Who made a change, for the audit trail (django-simple-history), when no request carries it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.core.management import call_command
from simple_history.models import HistoricalRecords


@contextmanager
def history_actor(user_id: int | None) -> Iterator[None]:
    """Record the changes made inside as made by this user: a background task (an import)
    acts for the person who started it, not as "система"."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    context = HistoricalRecords.context
    previous = getattr(context, "request", None)
    if user is not None:
        context.request = SimpleNamespace(user=user)
    try:
        yield
    finally:
        if previous is None:
            if hasattr(context, "request"):
                del context.request
        else:
            context.request = previous


def history_deduplicate(minutes: int = 25 * 60) -> None:
    """Drop versions that changed nothing the history tracks (a sync re-saving a client with the
    same values, a token refresh on a connection): the library's own cleaner, over the last
    ``minutes``, for every model with a history."""
    call_command("clean_duplicate_history", "--auto", minutes=minutes, verbosity=0)
