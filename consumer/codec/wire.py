"""Confluent wire format: magic byte ``0``, 4-byte big-endian schema id, then the Avro body.

Pure: bytes in, bytes out. :func:`split` is the one place a record value is checked for framing; it raises
:class:`~consumer.errors.FramingError` carrying the raw value so the dead-letter path can keep it intact.
"""

from __future__ import annotations

import struct
from typing import Final

from consumer.errors import FramingError

__all__ = ["HEADER_SIZE", "MAGIC_BYTE", "MAX_SCHEMA_ID", "frame", "split"]

MAGIC_BYTE: Final = 0
HEADER_SIZE: Final = 5
MAX_SCHEMA_ID: Final = 0xFFFFFFFF

_HEADER = struct.Struct(">BI")


def frame(schema_id: int, payload: bytes) -> bytes:
    """Prefix ``payload`` with the Confluent header for ``schema_id``.

    Raises:
        ValueError: ``schema_id`` does not fit in 4 unsigned bytes (a programming error, not bad data).
    """
    if not 0 <= schema_id <= MAX_SCHEMA_ID:
        raise ValueError(f"schema id {schema_id} out of range 0..{MAX_SCHEMA_ID}")
    return _HEADER.pack(MAGIC_BYTE, schema_id) + payload


def split(value: bytes | None) -> tuple[int, bytes]:
    """Return ``(schema_id, payload)`` of a Confluent-framed value.

    The payload may be empty (a record whose every field is absent can encode to zero bytes).

    Raises:
        FramingError: ``value`` is None (a tombstone), shorter than the 5-byte header, or does not start with
            the magic byte. ``raw`` is the value as given (``b""`` for None).
    """
    if value is None:
        raise FramingError("value is null (tombstone), not Confluent-framed", raw=b"")
    if len(value) < HEADER_SIZE:
        raise FramingError(
            f"value is {len(value)} bytes, shorter than the 5-byte Confluent header", raw=value
        )
    magic, schema_id = _HEADER.unpack_from(value)
    if magic != MAGIC_BYTE:
        raise FramingError(
            f"value starts with byte {value[0]:#04x}, not the Confluent magic byte 0x00", raw=value
        )
    return schema_id, value[HEADER_SIZE:]
