"""Time parsing and formatting for Genesys payloads and convstream's JSON output.

Genesys sends times two ways: ISO-8601 strings in conversation topics and analytics records
(``2025-01-01T10:00:00.100Z``, sometimes without milliseconds, sometimes with an offset) and epoch
milliseconds in detail events (``eventTime``, ``callbackScheduledTime``). The domain keeps epoch
milliseconds (int, UTC); JSON output uses ISO-8601 UTC with exactly three fraction digits and ``Z``.

Pure module: no I/O, no clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_TIME_MS",
    "MIN_TIME_MS",
    "format_iso_ms",
    "parse_time",
    "parse_time_or_none",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)
_fromisoformat: Final = datetime.fromisoformat
#: The representable range: years 0001 to 9999, what ISO-8601 output, ``datetime`` and PostgreSQL all
#: carry. A time outside it (``eventTime: 1e17``, ``2**64``) is no real Genesys time: it is rejected here,
#: at normalization, instead of failing later while formatting or Avro-encoding.
#: The range of an Avro ``long`` (every integer convstream carries is one).
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
MIN_TIME_MS: Final = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // _MS
MAX_TIME_MS: Final = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // _MS


def parse_time(value: object) -> int:
    """Parse a Genesys time to epoch milliseconds (UTC).

    Accepts an ``int`` (epoch ms), an integral ``float``, a string of digits (epoch ms), or an
    ISO-8601 string with ``Z`` (or RFC 3339's lowercase ``z``), an offset, or no zone (read as UTC),
    with or without a fraction (truncated to milliseconds).

    Raises:
        ValueError: the value is not a time (``bool`` included: ``True`` is not a timestamp), or lies
            outside years 0001-9999 (:data:`MIN_TIME_MS`..:data:`MAX_TIME_MS`).
    """
    if type(value) is str and value[-1:] == "Z":
        fast = _parse_utc_iso(value)
        if fast is not None:
            return fast
    ms = _parse_any(value)
    if not MIN_TIME_MS <= ms <= MAX_TIME_MS:
        raise ValueError(f"timestamp out of range (years 0001-9999): {value!r}")
    return ms


def _parse_any(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"epoch milliseconds must be integral: {value!r}")
        if not MIN_TIME_MS <= value <= MAX_TIME_MS:  # int() of inf would raise OverflowError
            raise ValueError(f"timestamp out of range (years 0001-9999): {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    text = value.strip()
    if text[-1:] == "z":  # RFC 3339 allows a lowercase zone designator; fromisoformat does not
        text = text[:-1] + "Z"
    if len(text) > _MAX_DIGITS and text.lstrip("-").isdigit():
        raise ValueError(f"timestamp out of range (years 0001-9999): {value!r}")
    if text.isdigit() or (text.startswith("-") and text[1:].isdigit()):
        return int(text)
    try:
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - _EPOCH
    # Integer arithmetic: float seconds would lose the millisecond for far-future dates.
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


#: More digits than any in-range epoch ms: refused before ``int()`` (which limits huge digit strings).
_MAX_DIGITS: Final = 20


def _parse_utc_iso(value: str) -> int | None:
    """Fast path for Genesys's usual form (``…Z``, never all digits): the parse of :func:`parse_time`
    without its strip and digit checks; ``None`` sends anything it cannot parse to the general path."""
    try:
        parsed = _fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    # Floor division of timedeltas is exact integer arithmetic, equal to parse_time's formula.
    ms: int = (parsed - _EPOCH) // _MS
    return ms


def parse_time_or_none(value: object) -> int | None:
    """:func:`parse_time`, with ``None`` (Genesys omitted the field) passed through."""
    return None if value is None else parse_time(value)


def format_iso_ms(ms: int) -> str:
    """Format epoch milliseconds as ISO-8601 UTC with milliseconds and ``Z``.

    Example: ``1735725600100`` -> ``"2025-01-01T10:00:00.100Z"``. Inverse of :func:`parse_time`.
    """
    moment = _EPOCH + timedelta(milliseconds=ms)
    # Not strftime: its %Y does not zero-pad years before 1000 (year 1 would print as "1-01-01").
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:"
        f"{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )
