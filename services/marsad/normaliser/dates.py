"""``published_at`` to UTC ISO 8601, never inventing a date or a time zone."""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime

# Error codes the wiring can put in ``published_at_error``.
UNPARSEABLE = "unparseable"
NO_TIMEZONE = "no_timezone"

_ISO_Z_RE = re.compile(r"[zZ]$")


def parse_published_at(value: str | None) -> tuple[str | None, str | None]:
    """Parse a publication date given as ISO 8601 (with offset) or RFC 2822.

    Args:
        value: The raw ``published_at`` string, or None.

    Returns:
        ``(utc_iso, error)``: ``("2012-10-11T00:04:00Z", None)`` on success;
        ``(None, None)`` when the value is missing or blank; ``(None,
        "unparseable")`` when it is not a date; ``(None, "no_timezone")``
        when it has no UTC offset (converting it would invent one).
    """
    if value is None or not value.strip():
        return None, None
    s = value.strip()
    dt: datetime | None = None
    try:
        dt = datetime.fromisoformat(_ISO_Z_RE.sub("+00:00", s))
    except ValueError:
        try:
            dt = email.utils.parsedate_to_datetime(s)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None, UNPARSEABLE
    if dt is None:
        return None, UNPARSEABLE
    if dt.tzinfo is None or dt.utcoffset() is None:
        return None, NO_TIMEZONE
    try:
        utc = dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None, UNPARSEABLE
    return utc.isoformat(timespec="seconds").replace("+00:00", "Z"), None  # 4-digit years
