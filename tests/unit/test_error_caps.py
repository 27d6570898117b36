"""Error messages are capped at 1 KiB wherever they are stored or sent (a decoder can quote a schema)."""

from __future__ import annotations

from consumer.consume.dlq import HEADER_MESSAGE, Poison, dead_letter_headers
from consumer.errors import MAX_MESSAGE_BYTES, PayloadDecodeError, cap_message
from consumer.ports import Record
from tests.unit.consume.pipeline_fakes import EVENTS


def test_short_messages_are_kept_whole() -> None:
    assert cap_message("boom") == "boom"
    assert cap_message("é" * 512) == "é" * 512  # exactly 1,024 bytes


def test_long_messages_are_cut_on_a_character_boundary_and_marked() -> None:
    capped = cap_message("é" * 30_000)
    assert len(capped.encode()) <= MAX_MESSAGE_BYTES
    assert capped.endswith("(truncated)")
    assert capped.startswith("é" * 400)


def test_a_poison_description_keeps_its_coordinates_within_the_cap() -> None:
    schema = '{"type": "record", "fields": [' + ", ".join(f'{{"name": "f{i}"}}' for i in range(3000)) + "]}"
    poison = Poison(Record(EVENTS, 4, 77, b"c1", b"v", 0), PayloadDecodeError(schema), "payload", "c1")
    description = poison.description
    assert len(description.encode()) <= MAX_MESSAGE_BYTES
    assert description.startswith("PayloadDecodeError: {")
    assert description.endswith(f"(at {EVENTS}[4]@77)")
    header = dict(dead_letter_headers(poison))[HEADER_MESSAGE]
    assert len(header) <= MAX_MESSAGE_BYTES
