"""The audit trail: who changed a customer, visit, opportunity or scoring policy, what and when.

django-simple-history writes one history row per `save()` and `delete()` of a tracked
model, with the user of the request (`HistoryRequestMiddleware`). Set-based machine
writes (bulk_create, queryset.update, raw SQL: demo seeding, imports, the missed-visit
sweep, the nightly plan swap) send no per-row signal, so they write no history and keep
their speed. A bulk path that does go through the ORM's per-row signals, the planner's
delete of yesterday's proposals, pauses the trail with `audit_trail_paused()`: one
history row (and one reload of the deferred columns) per machine-replaced visit would
make the nightly run several times slower and bury people's changes under its noise.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import models
from simple_history.models import HistoricalRecords

_paused: ContextVar[bool] = ContextVar("fieldwise_audit_trail_paused", default=False)


@contextmanager
def audit_trail_paused() -> Iterator[None]:
    """No history rows for the saves and deletes inside (this thread/task only): bulk machine writes."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def audit_trail_is_paused() -> bool:
    return _paused.get()


class AuditTrail(HistoricalRecords):
    """`HistoricalRecords` that `audit_trail_paused()` silences, with 64-bit history ids like every table."""

    def __init__(self, **kwargs):
        kwargs.setdefault("history_id_field", models.BigAutoField(primary_key=True))
        super().__init__(**kwargs)

    def post_save(self, instance, created, using=None, **kwargs):
        if not _paused.get():
            super().post_save(instance, created, using=using, **kwargs)

    def pre_delete(self, instance, **kwargs):
        # The parent reloads deferred columns here, one query per row: skipped too.
        if not _paused.get():
            super().pre_delete(instance, **kwargs)

    def post_delete(self, instance, using=None, **kwargs):
        if not _paused.get():
            super().post_delete(instance, using=using, **kwargs)
