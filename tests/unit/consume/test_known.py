"""consumer.consume.known: digests of folded records, their stored sets, and the split of a batch."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consumer.consume.known import (
    DIGEST_SIZE,
    MAX_DIGESTS,
    conversation_keys,
    digest,
    merged,
    parse,
    split_known,
)
from consumer.ports import Record

EVENTS = "events"


def _record(offset: int, key: bytes | None, value: bytes | None, topic: str = EVENTS) -> Record:
    return Record(topic, 0, offset, key, value, 0)


def test_a_digest_is_stable_and_depends_on_every_byte() -> None:
    assert digest(b"abc") == digest(b"abc")
    assert len(digest(b"abc")) == DIGEST_SIZE
    assert digest(b"abc") != digest(b"abd")
    assert digest(b"abc").hex() == "d8bb14d833d59559"  # = `printf abc | b2sum -l 64`; stored: never change


@given(st.lists(st.binary(min_size=DIGEST_SIZE, max_size=DIGEST_SIZE), max_size=40))
def test_merged_is_a_set_union_that_keeps_the_stored_order(digests: list[bytes]) -> None:
    half = len(digests) // 2
    prior = merged(None, digests[:half])
    both = merged(prior, digests[half:])
    assert parse(both) == set(digests)
    if prior is not None:
        assert both is not None
        assert both.startswith(prior)
    assert both is None or len(both) == len(set(digests)) * DIGEST_SIZE


def test_merged_stops_at_the_cap_and_keeps_what_was_stored() -> None:
    many = [i.to_bytes(DIGEST_SIZE, "big") for i in range(MAX_DIGESTS + 10)]
    full = merged(None, many)
    assert full is not None
    assert len(parse(full)) == MAX_DIGESTS
    assert parse(full) == set(many[:MAX_DIGESTS])
    assert merged(full, [b"\xff" * DIGEST_SIZE]) == full


def test_parse_ignores_a_malformed_tail_and_empty_values() -> None:
    one = b"\x01" * DIGEST_SIZE
    assert parse(one + b"\x02\x03") == {one}
    assert parse(None) == frozenset()
    assert parse(b"") == frozenset()
    assert merged(None, []) is None


def test_merged_keeps_every_whole_stored_digest_of_an_odd_blob() -> None:
    a, b, c = (bytes([n]) * DIGEST_SIZE for n in (1, 2, 3))
    # A repeated digest and a torn tail (not written by merged, but stored blobs are not trusted).
    assert merged(a + a + b + b"\x09", [b, c]) == a + a + b + c


def test_split_recognises_only_digests_stored_for_the_records_key() -> None:
    a, b = b"value-a", b"value-b"
    stored = {"c1": digest(a)}
    records = [
        _record(0, b"c1", a),  # known
        _record(1, b"c1", b),  # new value
        _record(2, b"c2", a),  # same value, another key: not in c2's row
        _record(3, None, a),  # no key: nothing to look up
        _record(4, b"\xff\xfe", a),  # not UTF-8
        _record(5, b"c1", None),  # a tombstone is never recognised
        _record(6, b"q1", a, topic="queues"),  # other topics pass through
    ]
    out = split_known(records, stored, EVENTS)
    assert out.already_folded == 1
    assert [r.offset for r in out.fresh] == [1, 2, 3, 4, 5, 6]
    assert out.digests == {(0, 1): digest(b), (0, 2): digest(a), (0, 3): digest(a), (0, 4): digest(a)}


def test_conversation_keys_are_distinct_utf8_event_keys_in_order() -> None:
    records = [
        _record(0, b"c2", b"x"),
        _record(1, b"c1", b"x"),
        _record(2, b"c2", b"x"),
        _record(3, None, b"x"),
        _record(4, b"\xff", b"x"),
        _record(5, b"q", b"x", topic="queues"),
    ]
    assert conversation_keys(records, EVENTS) == ["c2", "c1"]
