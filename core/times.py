"""Moments passed between processes (Celery task arguments) as ISO 8601 strings."""

from datetime import datetime


def parse_aware_iso(value: str) -> datetime:
    """An ISO 8601 moment that must carry its UTC offset: tasks never guess a time zone."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"as_of must carry a UTC offset: {value!r}")
    return moment
