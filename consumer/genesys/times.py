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

__all__ = ["format_iso_ms", "parse_time", "parse_time_or_none"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)
_fromisoformat: Final = datetime.fromisoformat


def parse_time(value: object) -> int:
    """Parse a Genesys time to epoch milliseconds (UTC).

    Accepts an ``int`` (epoch ms), an integral ``float``, a string of digits (epoch ms), or an
    ISO-8601 string with ``Z``, an offset, or no zone (read as UTC), with or without a fraction
    (truncated to milliseconds).

    Raises:
        ValueError: the value is not a time (``bool`` included: ``True`` is not a timestamp).
    """
    if type(value) is str and value[-1:] == "Z":
        fast = _parse_utc_iso(value)
        if fast is not None:
            return fast
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"epoch milliseconds must be integral: {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    text = value.strip()
    if text.isdigit() or (text.startswith("-") and text[1:].isdigit()):
        return int(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - _EPOCH
    # Integer arithmetic: float seconds would lose the millisecond for far-future dates.
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


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
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
