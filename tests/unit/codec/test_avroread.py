"""The C Avro reader (consumer.codec._avroread) against the generated Python reader it accelerates.

Both engines of :func:`consumer.codec.fastread.compile_reader` must give equal values of the same types and
raise the same exception types on the same bytes: on property-generated events, on simulator events, on a
schema exercising every Avro type, on every truncation and on corrupted input.

With ``CONVSTREAM_REQUIRE_CEXT=1`` (``make test``/``make unit``) a missing extension fails these tests;
otherwise they are skipped where the extension is not built.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import io
import math
import os
import struct
import sys
import tracemalloc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.codec import avro, fastread, fastread_program
from consumer.codec.avro import decode_event, encode_event
from consumer.codec.fastread import Reader, compile_reader
from consumer.codec.fastread_program import RecursiveSchemaError, build_program
from consumer.codec.schemas import CONVERSATION_EVENT, current
from consumer.domain.events import (
    ConversationEvent,
    ConversationSnapshot,
    DetailEvent,
    Participant,
)
from consumer.errors import PayloadDecodeError
from consumer.genesys.normalize import Normalized, normalize_message
from consumer.simulate import Simulation, SimulationOptions
from tests.unit.codec import codec_strategies
from tests.unit.codec.codec_strategies import LONG_MAX, LONG_MIN, longs, text, with_nan
from tests.unit.hypothesis_budget import examples

REQUIRE_C = os.environ.get("CONVSTREAM_REQUIRE_CEXT") == "1"
WRITER = current(CONVERSATION_EVENT)


def _require_c() -> None:
    if not fastread.C_AVAILABLE:
        if REQUIRE_C:
            pytest.fail("CONVSTREAM_REQUIRE_CEXT=1 but consumer.codec._avroread is not built (make install)")
        pytest.skip("the C reader consumer.codec._avroread is not built")


def test_extension_is_built_when_required() -> None:
    if not REQUIRE_C:
        pytest.skip("CONVSTREAM_REQUIRE_CEXT is not 1")
    module = importlib.import_module("consumer.codec._avroread")
    assert fastread.C_AVAILABLE
    # The hot path (decode_event with the current writer) runs on the C engine.
    reader: Any = avro._fast_event_reader(WRITER.fingerprint)
    assert reader.func is module.read


# ------------------------------------------------------------------------------------ helpers


def _canon(value: Any) -> Any:
    """A comparable form that also pins types, dict order and float bits (NaN, -0.0)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value),
            tuple((f.name, _canon(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, tuple):
        return (tuple, tuple(map(_canon, value)))
    if isinstance(value, dict):
        return (dict, tuple((_canon(k), _canon(v)) for k, v in value.items()))
    if isinstance(value, float):
        return (float, struct.pack("<d", value))
    return (type(value), value)


def _outcome(read: Reader, buf: bytes) -> tuple[Any, ...]:
    try:
        value, end = read(buf)
    except Exception as exc:  # the type must match between engines; messages may differ
        error = exc
    else:
        return ("ok", _canon(value), end)
    assert isinstance(error, avro._DECODE_ERRORS), f"{type(error).__name__} escapes decode_event: {error}"
    return ("error", type(error))


def _same(readers: tuple[Reader, Reader], buf: bytes) -> tuple[Any, ...]:
    c_outcome = _outcome(readers[0], buf)
    assert c_outcome == _outcome(readers[1], buf)
    return c_outcome


def _engines(schema: Mapping[str, Any], classes: Mapping[str, type]) -> tuple[Reader, Reader]:
    parsed = _parsed(schema)
    return compile_reader(parsed, classes, engine="c"), compile_reader(parsed, classes, engine="python")


@pytest.fixture(scope="module")
def event_readers() -> tuple[Reader, Reader]:
    _require_c()
    return (
        compile_reader(WRITER.parsed, avro._DOMAIN_CLASSES, engine="c"),
        compile_reader(WRITER.parsed, avro._DOMAIN_CLASSES, engine="python"),
    )


# ------------------------------------------------------------------------------------ events

events = codec_strategies.events(doubles=with_nan)


@settings(max_examples=examples(300), deadline=None)
@given(events)
def test_engines_agree_on_generated_events(
    event_readers: tuple[Reader, Reader], event: ConversationEvent
) -> None:
    payload = encode_event(event)
    outcome = _same(event_readers, payload)
    assert outcome == ("ok", _canon(event), len(payload))


def _simulated_events() -> Iterator[ConversationEvent]:
    options = SimulationOptions(seed=11, events=1500, agents=20, arrival_rate=2.0, detail_events=0.3)
    for m in Simulation(options, keep_entries=True):
        normalized = normalize_message(
            m.message, received_at=m.received_at, source="simulator", participants=m.participants
        )
        if isinstance(normalized, Normalized):
            yield from normalized.events


@pytest.fixture(scope="module")
def simulated_payloads() -> list[bytes]:
    return [encode_event(e) for e in _simulated_events()]


def test_engines_agree_on_simulated_events(
    event_readers: tuple[Reader, Reader], simulated_payloads: list[bytes]
) -> None:
    assert len(simulated_payloads) > 1000
    kinds = set()
    for payload in simulated_payloads:
        assert _same(event_readers, payload)[0] == "ok"
        kinds.add(type(event_readers[0](payload)[0].body))
    assert kinds == {ConversationSnapshot, DetailEvent}


def test_every_truncation_raises_the_same_type(
    event_readers: tuple[Reader, Reader], simulated_payloads: list[bytes]
) -> None:
    # The largest events (deepest nesting) and one of each body kind.
    chosen = [*sorted(simulated_payloads, key=len)[-3:], simulated_payloads[0], simulated_payloads[-1]]
    for payload in chosen:
        for size in range(len(payload)):
            assert _same(event_readers, payload[:size])[0] == "error"


@settings(max_examples=examples(500), deadline=None)
@given(st.data())
def test_corrupted_events_agree(event_readers: tuple[Reader, Reader], data: st.DataObject) -> None:
    payload = bytearray(encode_event(data.draw(events)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        payload[data.draw(st.integers(min_value=0, max_value=len(payload) - 1))] = data.draw(
            st.integers(min_value=0, max_value=255)
        )
    _same(event_readers, bytes(payload))


def test_c_errors_become_payload_decode_errors(simulated_payloads: list[bytes]) -> None:
    _require_c()
    payload = simulated_payloads[0]
    for bad in (payload[:-1], payload[:1], b"", payload[:20] + b"\xff" * 11):
        with pytest.raises(PayloadDecodeError):
            decode_event(bad, WRITER)


# ------------------------------------------------------------------------------------ every type


@dataclass(frozen=True, slots=True)
class Leaf:
    name: str
    flag: bool | None = None


@dataclass(frozen=True, slots=True)
class Every:
    b: bool
    i: int
    l: int  # noqa: E741 - the Avro type's name
    f: float
    d: float
    s: str
    raw: bytes
    color: str
    digest: bytes
    nums: tuple[int, ...]
    leaves: tuple[Leaf, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    maybe: int | str | None = None
    by_key: Mapping[str, tuple[Leaf, ...]] = field(default_factory=dict)
    nothing: None = None
    label: str = "default-label"
    second_color: str | None = None
    second_digest: bytes | None = None
    not_in_schema: str = "kept"
    fresh: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Box:
    """A one-field record for probing one type: schema ``{"name": "Box", "fields": [{"name": "v", …}]}``."""

    v: Any = None


CLASSES: dict[str, type] = {"Every": Every, "Leaf": Leaf, "Box": Box}
LEAF_SCHEMA = {
    "type": "record",
    "name": "Leaf",
    "fields": [
        {"name": "name", "type": "string"},
        {"name": "flag", "type": ["null", "boolean"]},
        {"name": "dropped", "type": ["null", {"type": "array", "items": "double"}]},  # Leaf lacks it
    ],
}
EVERY_SCHEMA = {
    "type": "record",
    "name": "Every",
    "namespace": "t",
    "fields": [
        {"name": "b", "type": "boolean"},
        {"name": "i", "type": "int"},
        {"name": "l", "type": "long"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "s", "type": "string"},
        {"name": "raw", "type": "bytes"},
        {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN", "BLUE"]}},
        {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4}},
        {"name": "nums", "type": {"type": "array", "items": "long"}},
        {"name": "leaves", "type": ["null", {"type": "array", "items": LEAF_SCHEMA}]},
        {"name": "tags", "type": ["null", {"type": "map", "values": "string"}]},
        {"name": "maybe", "type": ["null", "long", "string"]},
        {"name": "by_key", "type": {"type": "map", "values": {"type": "array", "items": "t.Leaf"}}},
        {"name": "nothing", "type": "null"},
        {"name": "label", "type": ["null", "string"]},
        {"name": "second_color", "type": ["null", "t.Color"]},
        {"name": "second_digest", "type": ["null", "t.Digest"]},
        {"name": "skipped", "type": {"type": "map", "values": "t.Leaf"}},  # Every lacks it
    ],
}

leaf_dicts = st.fixed_dictionaries(
    {"name": text, "flag": st.none() | st.booleans(), "dropped": st.none() | st.lists(with_nan, max_size=2)}
)
every_dicts = st.fixed_dictionaries(
    {
        "b": st.booleans(),
        "i": st.integers(min_value=-(2**31), max_value=2**31 - 1),
        "l": longs,
        "f": st.floats(width=32),
        "d": with_nan,
        "s": text,
        "raw": st.binary(max_size=70),
        "color": st.sampled_from(["RED", "GREEN", "BLUE"]),
        "digest": st.binary(min_size=4, max_size=4),
        "nums": st.lists(longs, max_size=70),
        "leaves": st.none() | st.lists(leaf_dicts, max_size=3),
        "tags": st.none() | st.dictionaries(text, text, max_size=3),
        "maybe": st.none() | longs | text,
        "by_key": st.dictionaries(text, st.lists(leaf_dicts, max_size=2), max_size=2),
        "nothing": st.none(),
        "label": st.none() | text,
        "second_color": st.none() | st.sampled_from(["RED", "BLUE"]),
        "second_digest": st.none() | st.binary(min_size=4, max_size=4),
        "skipped": st.dictionaries(text, leaf_dicts, max_size=2),
    }
)


EVERY_RECORD: dict[str, Any] = {
    "b": False, "i": 2**31 - 1, "l": 8192, "f": -2.5, "d": math.nan, "s": "日本語", "raw": b"r",
    "color": "GREEN", "digest": b"\x00" * 4, "nums": [1, -1], "maybe": 300,
    "leaves": [{"name": "a", "flag": True, "dropped": [2.0, 3.0]}], "tags": {"k": "v"},
    "by_key": {"b": [{"name": "c"}]}, "nothing": None, "label": "l", "second_color": "RED",
    "second_digest": None, "skipped": {"x": {"name": "y", "flag": False, "dropped": None}},
}  # fmt: skip


def _parsed(schema: Mapping[str, Any]) -> dict[str, Any]:
    """fastavro's parsed form of a record schema (a dict, which the readers take)."""
    parsed = parse_schema(dict(schema))
    assert isinstance(parsed, dict)
    return parsed


def _write(schema: Mapping[str, Any], record: Mapping[str, Any]) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, _parsed(schema), record)
    return out.getvalue()


@pytest.fixture(scope="module")
def every_readers() -> tuple[Reader, Reader]:
    _require_c()
    return _engines(EVERY_SCHEMA, CLASSES)


@settings(max_examples=examples(300), deadline=None)
@given(every_dicts)
def test_engines_agree_on_every_type(every_readers: tuple[Reader, Reader], record: dict[str, Any]) -> None:
    payload = _write(EVERY_SCHEMA, record)
    outcome = _same(every_readers, payload)
    assert outcome[0] == "ok"
    assert outcome[2] == len(payload)


def test_every_type_values_nulls_defaults_and_missing_fields(every_readers: tuple[Reader, Reader]) -> None:
    record = {
        "b": True, "i": -5, "l": LONG_MIN, "f": 1.5, "d": -0.0, "s": "ñ", "raw": b"\x00\xff",
        "color": "BLUE", "digest": b"abcd", "nums": list(range(-70, 70)), "leaves": None, "tags": None,
        "maybe": "x", "by_key": {"k": [{"name": "n", "flag": None, "dropped": [1.0]}]}, "nothing": None,
        "label": None, "second_color": None, "second_digest": b"wxyz", "skipped": {"s": {"name": "z"}},
    }  # fmt: skip
    payload = _write(EVERY_SCHEMA, record)
    for read in every_readers:
        first, end = read(payload)
        second, _ = read(payload)
        assert end == len(payload)
        assert first == Every(
            b=True, i=-5, l=LONG_MIN, f=1.5, d=-0.0, s="ñ", raw=b"\x00\xff", color="BLUE", digest=b"abcd",
            nums=tuple(range(-70, 70)), maybe="x", by_key={"k": (Leaf("n"),)}, second_digest=b"wxyz",
        )  # fmt: skip
        assert first.label == "default-label"
        assert first.not_in_schema == "kept"
        # Factories run per record: no dict is shared between two decoded values.
        assert first.tags == {}
        assert first.tags is not second.tags
        assert first.fresh == {}
        assert first.fresh is not second.fresh


def test_every_truncation_of_every_type_raises_the_same_type(every_readers: tuple[Reader, Reader]) -> None:
    payload = _write(EVERY_SCHEMA, EVERY_RECORD)
    assert _same(every_readers, payload)[0] == "ok"
    for size in range(len(payload)):
        assert _same(every_readers, payload[:size])[0] == "error"


# ------------------------------------------------------------------------------------ single types


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | 0x80 if n else low)
        if not n:
            return bytes(out)


def _long(n: int) -> bytes:
    return _uvarint(n << 1 if n >= 0 else (~n << 1) | 1)


def _box(avro_type: Any) -> dict[str, Any]:
    return {"type": "record", "name": "Box", "fields": [{"name": "v", "type": avro_type}]}


ENUM = {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}
ARRAY_LONG = {"type": "array", "items": "long"}
MAP_LONG = {"type": "map", "values": "long"}
CASES: list[tuple[str, Any, bytes, Any]] = [
    # (id, field type, payload, expected value or exception type)
    ("long-zero-noncanonical", "long", b"\x80\x80\x00", 0),
    ("long-min", "long", _long(LONG_MIN), LONG_MIN),
    ("long-max", "long", _long(LONG_MAX), LONG_MAX),
    # fastread accepts any 10th byte (up to 70 bits): the C engine must give the same Python int.
    ("long-beyond-64-bits-negative", "long", _long(-(2**69)), -(2**69)),
    ("long-beyond-64-bits-positive", "long", _long(2**69 - 1), 2**69 - 1),
    ("long-just-beyond-64-bits", "long", _long(2**63), 2**63),
    ("long-11-bytes", "long", b"\xff" * 10 + b"\x00", ValueError),
    ("long-11-bytes-truncated", "long", b"\x80" * 10, ValueError),
    ("long-truncated", "long", b"\x80\x80", IndexError),
    ("int-multibyte", "int", _long(-(2**31)), -(2**31)),
    ("boolean-any-nonzero-is-true", "boolean", b"\x02", True),
    ("boolean-truncated", "boolean", b"", IndexError),
    ("float", "float", struct.pack("<f", 0.1), struct.unpack("<f", struct.pack("<f", 0.1))[0]),
    ("float-truncated", "float", b"\x00\x00\x00", struct.error),
    ("double-truncated", "double", b"\x00" * 7, struct.error),
    ("string-invalid-utf8", "string", b"\x04\xc3\x28", UnicodeDecodeError),
    ("string-surrogate", "string", b"\x06\xed\xa0\x80", UnicodeDecodeError),
    ("string-negative-length", "string", b"\x03", EOFError),
    ("string-past-end", "string", b"\x08abc", EOFError),
    ("string-huge-length", "string", _long(2**69 - 1), EOFError),
    ("bytes", "bytes", b"\x04\xff\x00", b"\xff\x00"),
    ("bytes-past-end", "bytes", b"\x04\xff", EOFError),
    ("fixed-past-end", {"type": "fixed", "name": "F", "size": 3}, b"ab", EOFError),
    ("fixed-empty", {"type": "fixed", "name": "F", "size": 0}, b"", b""),
    ("enum-last", ENUM, b"\x04", "C"),
    ("enum-past-end", ENUM, b"\x06", IndexError),
    ("enum-negative", ENUM, b"\x01", IndexError),
    ("enum-beyond-64-bits", ENUM, _long(-(2**69)), IndexError),
    ("union-null", ["null", "long"], b"\x00", None),
    ("union-odd-index", ["null", "long"], b"\x01", ValueError),
    ("union-index-past-end", ["null", "long"], b"\x04", ValueError),
    ("union-multibyte-index", ["null", "long"], b"\x80\x00", ValueError),
    ("union-truncated", ["null", "long"], b"", IndexError),
    ("union-branch-truncated", ["null", "long"], b"\x02", IndexError),
    (
        "array-negative-counts-with-sizes",
        ARRAY_LONG,
        _long(-2) + _long(2) + _long(1) + _long(-300) + _long(1) + _long(7) + b"\x00",
        (1, -300, 7),
    ),
    ("array-negative-count-truncated-size", ARRAY_LONG, _long(-1), IndexError),
    ("array-size-varint-too-long", ARRAY_LONG, _long(-1) + b"\xff" * 11, ValueError),
    ("array-count-beyond-64-bits", ARRAY_LONG, _long(2**69 - 1), IndexError),
    ("array-count-past-end", {"type": "array", "items": "string"}, _long(3) + b"\x02a", IndexError),
    ("array-missing-end", ARRAY_LONG, _long(1) + b"\x02", IndexError),
    ("array-of-nulls", {"type": "array", "items": "null"}, _long(3) + b"\x00", (None, None, None)),
    (
        "map-blocks",
        MAP_LONG,
        _long(-1) + _long(3) + b"\x02k\x04" + _long(2) + b"\x02a\x00\x02k\x06" + b"\x00",
        {"k": 3, "a": 0},
    ),
    ("map-bad-utf8-key", MAP_LONG, _long(1) + b"\x02\xff\x00\x00", UnicodeDecodeError),
    ("map-value-truncated", MAP_LONG, _long(1) + b"\x02k", IndexError),
]  # fmt: skip


@pytest.mark.parametrize(
    ("avro_type", "payload", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_single_types(avro_type: Any, payload: bytes, expected: Any) -> None:
    _require_c()
    readers = _engines(_box(avro_type), CLASSES)
    outcome = _same(readers, payload)
    if isinstance(expected, type) and issubclass(expected, Exception):
        assert outcome == ("error", expected)
    else:
        assert outcome == ("ok", _canon(Box(expected)), len(payload))


def test_trailing_bytes_are_left_to_the_caller() -> None:
    _require_c()
    for read in _engines(_box("long"), CLASSES):
        assert read(b"\x04\x00\x00") == (Box(2), 1)


def test_any_buffer_is_accepted_by_the_c_engine() -> None:
    _require_c()
    read = _engines(_box("bytes"), CLASSES)[0]
    for buf in (bytearray(b"\x04ab"), memoryview(b"\x04ab")):
        value, end = read(buf)  # type: ignore[arg-type]
        assert (value, end, type(value.v)) == (Box(b"ab"), 3, bytes)


# ------------------------------------------------------------------------------------ program


def test_opcodes_match_the_extension() -> None:
    _require_c()
    module = importlib.import_module("consumer.codec._avroread")
    for name in dir(fastread_program):
        if name.startswith("OP_"):
            assert getattr(module, name) == getattr(fastread_program, name), name


def test_a_record_used_twice_is_one_shared_program() -> None:
    program = build_program(_parsed(EVERY_SCHEMA), CLASSES)
    names = [f["name"] for f in EVERY_SCHEMA["fields"]]  # type: ignore[index]
    fields = dict(zip(names, program[2], strict=False))  # then the class fields the schema lacks
    leaves_array = fields["leaves"][0][1][1]
    by_key_array = fields["by_key"][0][1]
    assert leaves_array[1] is by_key_array[1]


RECURSIVE = {
    "type": "record",
    "name": "Leaf",
    "fields": [{"name": "name", "type": "string"}, {"name": "flag", "type": ["null", "Leaf"]}],
}


def test_recursive_schema_uses_the_python_engine() -> None:
    parsed = _parsed(RECURSIVE)
    with pytest.raises(RecursiveSchemaError):
        build_program(parsed, CLASSES)
    # Only for the test: Leaf.flag holds a Leaf here.
    assert compile_reader(parsed, CLASSES)(b"\x02a\x02\x02b\x00") == (Leaf("a", Leaf("b")), 6)  # type: ignore[arg-type]
    if fastread.C_AVAILABLE:
        with pytest.raises(RecursiveSchemaError):
            compile_reader(parsed, CLASSES, engine="c")


@pytest.mark.parametrize(
    "schema",
    [
        _box({"type": "record", "name": "Unknown", "fields": []}),
        _box(["null", *[{"type": "fixed", "name": f"F{i}", "size": 1} for i in range(63)]]),
        {"type": "record", "name": "Leaf", "fields": [{"name": "flag", "type": "boolean"}]},  # lacks name
    ],
    ids=["no-class", "64-branches", "required-field-missing"],
)
@pytest.mark.parametrize("engine", ["c", "python"])
def test_unsupported_schemas_fail_when_compiling(schema: dict[str, Any], engine: fastread.Engine) -> None:
    if engine == "c":
        _require_c()
    with pytest.raises(ValueError):
        compile_reader(_parsed(schema), CLASSES, engine=engine)


def _c_read(program: Any, buf: bytes) -> Any:
    module = importlib.import_module("consumer.codec._avroread")
    return module.read(program, buf)


def test_malformed_programs_are_type_errors() -> None:
    _require_c()
    m = fastread_program
    other_slot = Every.__dict__["b"]
    for program in [
        (),
        (99,),
        ("x",),
        (True,),
        (m.OP_ARRAY,),
        (m.OP_UNION, [(m.OP_NULL,)]),
        (m.OP_ENUM, ["A"]),
        (m.OP_FIXED, -1),
        (m.OP_RECORD, int, ()),
        (m.OP_RECORD, Box, ((None, other_slot, None, None),)),  # a slot of another class
        (m.OP_RECORD, Box, ((None, Box.__dict__["v"], None),)),
        (m.OP_RECORD, Box, ((None, "v", None, None),)),
    ]:
        with pytest.raises(TypeError):
            _c_read(program, b"\x00\x00")


def test_nesting_is_limited() -> None:
    _require_c()
    module = importlib.import_module("consumer.codec._avroread")
    program: Any = (fastread_program.OP_NULL,)
    for _ in range(module.MAX_DEPTH + 1):
        program = (fastread_program.OP_UNION, (program,))
    with pytest.raises(ValueError, match="deeper"):
        _c_read(program, b"\x00" * (module.MAX_DEPTH + 2))


# ------------------------------------------------------------------------------------ leaks


def _leak_cases(simulated_payloads: list[bytes]) -> list[tuple[Reader, list[bytes]]]:
    """Readers with valid payloads (every null-to-default path included) and their truncations."""
    event_reader = compile_reader(WRITER.parsed, avro._DOMAIN_CLASSES, engine="c")
    # Nulls for every defaulted field: participants/communications (a shared ()), attributes (dict()).
    minimal = ConversationEvent(
        event_id="e", conversation_id="c", event_time=1, received_at=2, source="file", topic_name="t",
        topic_pattern="t", body=DetailEvent(kind="k"),
    )  # fmt: skip
    one_participant = dataclasses.replace(
        minimal, body=ConversationSnapshot(participants=(Participant(id="p"),))
    )
    empty = dataclasses.replace(minimal, body=ConversationSnapshot())
    events = [*simulated_payloads[:50], *map(encode_event, (minimal, one_participant, empty))]
    every = _write(EVERY_SCHEMA, {**EVERY_RECORD, "leaves": None, "tags": None, "label": None})
    cases = [(event_reader, events), (_engines(EVERY_SCHEMA, CLASSES)[0], [every])]
    return [
        (read, good + [p[:cut] for p in good for cut in (len(p) // 2, len(p) - 1, 9)]) for read, good in cases
    ]


def test_no_leaks_on_success_and_error_paths(simulated_payloads: list[bytes]) -> None:
    _require_c()
    cases = _leak_cases(simulated_payloads)

    def run() -> int:
        failures = 0
        for _ in range(40):
            for read, payloads in cases:
                for payload in payloads:
                    try:
                        read(payload)
                    except avro._DECODE_ERRORS:
                        failures += 1
        return failures

    # The objects every decode refers to: classes (each instance holds its type) and shared defaults.
    shared = [*avro._DOMAIN_CLASSES.values(), Every, Leaf, (), Every.__dataclass_fields__["label"].default]
    run()  # warm up: caches, interned objects
    gc.collect()
    refcounts = [sys.getrefcount(o) for o in shared]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        failures = run()
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(o) for o in shared] == refcounts
    # Thousands of decodes and failures: a leak of even one object each would be hundreds of KB.
    assert failures > 5000
    assert growth < 64 * 1024
