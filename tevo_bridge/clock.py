"""UTC timestamps as TEvo writes them (ISO-8601 with ``Z``), in one place."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime, timespec: str = "seconds") -> str:
    if moment.tzinfo is not UTC:  # most moments are already UTC: the conversion was a hot spot of a hold
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def now_iso() -> str:
    """Now, to the millisecond: the store's audit and job times."""
    return iso(datetime.now(UTC), "milliseconds")
