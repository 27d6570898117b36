"""Confluent framing: byte literals in, byte literals out."""

from __future__ import annotations

import pytest

from consumer.codec.wire import frame, split
from consumer.errors import FramingError, PoisonRecordError


def test_frame_writes_magic_byte_and_big_endian_id() -> None:
    assert frame(1, b"\x02\x04") == b"\x00\x00\x00\x00\x01\x02\x04"
    assert frame(0x01020304, b"") == b"\x00\x01\x02\x03\x04"
    assert frame(0xFFFFFFFF, b"x") == b"\x00\xff\xff\xff\xffx"


def test_split_inverts_frame() -> None:
    assert split(b"\x00\x00\x00\x01\x00payload") == (256, b"payload")
    assert split(b"\x00\x00\x00\x00\x07") == (7, b"")
    assert split(frame(123456, b"\x00\x01")) == (123456, b"\x00\x01")


@pytest.mark.parametrize("schema_id", [-1, 0x1_0000_0000])
def test_frame_rejects_ids_outside_four_bytes(schema_id: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        frame(schema_id, b"")


@pytest.mark.parametrize(
    ("value", "raw"),
    [
        (None, b""),
        (b"", b""),
        (b"\x00\x00\x00\x01", b"\x00\x00\x00\x01"),
        (b"\x01\x00\x00\x00\x01abc", b"\x01\x00\x00\x00\x01abc"),
        (b'{"json": true}', b'{"json": true}'),
    ],
)
def test_split_rejects_unframed_values_with_raw_bytes(value: bytes | None, raw: bytes) -> None:
    with pytest.raises(FramingError) as info:
        split(value)
    assert info.value.raw == raw
    assert isinstance(info.value, PoisonRecordError)
    assert info.value.reason == "framing"
