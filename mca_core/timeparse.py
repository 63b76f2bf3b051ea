"""Timestamp parsing for every date format Polymarket sends.

Promise: every function here returns a timezone-aware ``datetime`` in UTC (``tzinfo is UTC``), or
``None`` for an absent value (``None`` or an empty/blank string). Anything else that cannot be read
raises ``ValueError`` whose message contains the offending text; normalisers turn that into a
``Rejection`` instead of letting it escape.

Formats accepted (all seen upstream, see shared/reference/polymarket.md):

- RFC 3339 / ISO 8601 with ``T`` or a space between date and time, ``Z`` or a numeric offset
  (``+00:00``, ``+0000``, ``+00``), 0 to 6 fraction digits; more than 6 digits are truncated
  (not rounded) to microseconds. A time without any offset is taken as UTC (Polymarket is UTC).
- Postgres style ``"2026-03-19 23:20:15+00"`` and ``"2024-03-07 20:44:01.258+00"``.
- Date only ``"2028-11-07"`` -> midnight UTC.
- Unix epoch numbers: ``int``/``float`` or digit strings. Values below ``1e11`` are seconds,
  values at or above are milliseconds (1e11 s is the year 5138; 1e11 ms is 1973-03-03, so the two
  ranges do not overlap for real data). The CLOB sends ms strings (``"1790658661234"``),
  /prices-history sends int seconds, subgraphs send second strings.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone

__all__ = ["EPOCH", "MS_THRESHOLD", "ms_to_utc", "parse_ts", "to_epoch_ms"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Epoch numbers at or above this are milliseconds, below are seconds.
MS_THRESHOLD = 100_000_000_000

_ISO_RE = re.compile(
    r"""
    (?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})
    (?:
        [Tt\ ]
        (?P<h>\d{2}):(?P<mi>\d{2})
        (?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?
        \ ?
        (?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?
    )?
    """,
    re.VERBOSE | re.ASCII,
)
_EPOCH_RE = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
_MAX_EXCERPT = 80


def _garbage(value: object) -> ValueError:
    text = repr(value)
    if len(text) > _MAX_EXCERPT:
        text = text[:_MAX_EXCERPT] + "..."
    return ValueError(f"unparseable timestamp: {text}")


def ms_to_utc(ms: int | str) -> datetime:
    """Exact UTC datetime for an epoch-milliseconds int or digit string (the CLOB's format).

    Uses integer timedelta arithmetic, so no float rounding is involved.
    """
    try:
        return EPOCH + timedelta(milliseconds=int(ms))
    except (ValueError, OverflowError, TypeError) as exc:
        raise _garbage(ms) from exc


def to_epoch_ms(ts: datetime) -> int:
    """Milliseconds since the epoch for an aware datetime (floor for sub-ms parts)."""
    return (ts - EPOCH) // timedelta(milliseconds=1)


def _from_epoch_number(value: int | float, original: object) -> datetime:
    if isinstance(value, float) and not math.isfinite(value):
        raise _garbage(original)
    if value < 0:
        raise _garbage(original)
    try:
        if value >= MS_THRESHOLD:
            if isinstance(value, int):
                return EPOCH + timedelta(milliseconds=value)
            return EPOCH + timedelta(microseconds=round(value * 1000))
        if isinstance(value, int):
            return EPOCH + timedelta(seconds=value)
        return EPOCH + timedelta(microseconds=round(value * 1_000_000))
    except OverflowError as exc:
        raise _garbage(original) from exc


def _parse_offset(tz: str) -> timezone:
    if tz in ("Z", "z"):
        return UTC
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4]) if len(digits) > 2 else 0
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range")
    if hours == 0 and minutes == 0:
        return UTC
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _parse_text(text: str, original: object) -> datetime:
    if _EPOCH_RE.fullmatch(text):
        number: int | float = float(text) if "." in text else int(text)
        return _from_epoch_number(number, original)
    m = _ISO_RE.fullmatch(text)
    if m is None:
        raise _garbage(original)
    try:
        if m["h"] is None:
            day = date(int(m["y"]), int(m["mo"]), int(m["d"]))
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        fraction = m["f"] or ""
        micros = int((fraction + "000000")[:6])
        tzinfo = _parse_offset(m["tz"]) if m["tz"] else UTC
        parsed = datetime(
            int(m["y"]),
            int(m["mo"]),
            int(m["d"]),
            int(m["h"]),
            int(m["mi"]),
            int(m["s"] or 0),
            micros,
            tzinfo=tzinfo,
        )
        return parsed if tzinfo is UTC else parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise _garbage(original) from exc


def parse_ts(value: str | bytes | int | float | datetime | None) -> datetime | None:
    """Parse any upstream timestamp into an aware UTC datetime.

    Returns ``None`` for ``None``, ``""`` and blank strings (Polymarket omits or blanks unknown
    dates). Raises ``ValueError`` naming the text for anything unreadable, including booleans,
    negative or non-finite epochs and impossible calendar dates. A naive ``datetime`` is taken
    as UTC; an aware one is converted to UTC.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, bool):
        raise _garbage(value)
    if isinstance(value, int | float):
        return _from_epoch_number(value, value)
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError as exc:
            raise _garbage(value) from exc
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return _parse_text(text, value)
    raise _garbage(value)
