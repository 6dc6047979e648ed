"""Times as a seller reads them: in ``[dashboard] time_zone``, with the exact UTC time on hover."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from tevo_bridge.cli_views import age_seconds, short_age


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso_z(value: datetime) -> str:
    """The store's timestamp format (``clock.iso``): comparable as text with what the store wrote."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Clock:
    def __init__(self, zone: str) -> None:
        self.zone_name = zone
        self.zone = ZoneInfo(zone)

    def local(self, value: datetime) -> datetime:
        return value.astimezone(self.zone)

    def when(self, text: str | None) -> Markup:
        """``<time>`` in the seller's zone, UTC in its title; a dash for no time."""
        value = parse_iso(text)
        if value is None:
            return Markup("&ndash;") if not text else Markup(escape(text))
        utc = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        shown = self.local(value).strftime("%Y-%m-%d %H:%M %Z")
        return Markup(f'<time datetime="{escape(iso_z(value))}" title="{escape(utc)}">{escape(shown)}</time>')

    def ago(self, text: str | None) -> str:
        return short_age(age_seconds(text)) if text else "?"

    def hour_label(self, value: datetime) -> str:
        return self.local(value).strftime("%H:00")

    def day_start(self, day: date, *, end: bool = False) -> str:
        """Midnight (or the next midnight, for an inclusive end day) of ``day`` in the seller's zone, as UTC text."""
        start = datetime.combine(day, time.min, tzinfo=self.zone)
        if end:
            start = datetime.combine(date.fromordinal(day.toordinal() + 1), time.min, tzinfo=self.zone)
        return iso_z(start)
