"""Fuzz: no input of any kind makes normalization, the Avro encode, the fold or the CLI fail otherwise than by
rejecting it.

Hypothesis draws JSON values with lone surrogates, integers far beyond 64 bits, NaN/Infinity and deep
nesting, in free-form messages and in every accepted shape (Notifications envelopes, EventBridge events,
analytics records and pages) whose fields are the SDK's wire names (``tests/data/sdk/attribute_maps.json``),
so hostile values reach every field normalization reads. Properties:

- :func:`~consumer.genesys.normalize.normalize_message` returns or raises
  :class:`~consumer.errors.NormalizeError` (the project's input-rejection error), nothing else;
- every event it returns Avro-encodes, decodes to itself, folds, and its row prints as UTF-8 JSON;
- ``convstream fold`` and the bridge's file path report hostile lines and fold/publish the good line
  after them, without a traceback.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.bridge.sources import stream_items
from consumer.codec.avro import decode_event, encode_event
from consumer.codec.schemas import CONVERSATION_EVENT, current
from consumer.commands.fold import row_to_json
from consumer.domain.fold import fold
from consumer.domain.row import derive_row
from consumer.errors import NormalizeError
from consumer.genesys.jsonl import FileClock
from consumer.genesys.normalize import Normalized, normalize_message
from tests.unit.bridge.test_bridge import RecordingPublisher, make_bridge

ROOT = Path(__file__).resolve().parents[3]
DUMP = ROOT / "tests" / "data" / "sdk" / "attribute_maps.json"
WRITER = current(CONVERSATION_EVENT)

HOSTILE_TEXT = [
    "\ud800",
    "\udfff",
    "a\ud83d",
    "\udc00b",
    "\x00",
    "",
    "Z",
    "z",
    "2025-01-01T10:00:00z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z",
    "1" * 30,
    "-1",
    "NaN",
    "VOICE",
]
HOSTILE_NUMBERS = [
    10**17,
    2**63,
    2**64,
    -(2**64),
    10**400,
    1e300,
    math.inf,
    -math.inf,
    math.nan,
    -0.0,
    253402300799999,
    253402300800000,
    -62135596800001,
]

#: Times no ISO-8601 output, datetime or Postgres can carry.
OUT_OF_RANGE = [
    10**17,
    2**63,
    2**64,
    -(2**64),
    10**400,
    1e300,
    math.inf,
    -math.inf,
    math.nan,
    253402300800000,
    -62135596800001,
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=1_600_000_000_000, max_value=1_800_000_000_000)  # plausible epoch ms
    | st.floats()
    | st.sampled_from(HOSTILE_NUMBERS)
    | st.text(alphabet=st.characters(exclude_categories=()), max_size=8)  # surrogates included
    | st.sampled_from(HOSTILE_TEXT)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)


@cache
def _wire_names() -> list[str]:
    models = json.loads(DUMP.read_text(encoding="utf-8"))["models"]
    return sorted({wire for fields in models.values() for wire in fields.values()})


def _deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


field_values = json_values | st.builds(_deep, st.integers(min_value=50, max_value=3000))


@st.composite
def shaped_objects(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    """An object whose keys are SDK wire names, with hostile values and (shallow) nested shaped objects."""
    names = draw(st.lists(st.sampled_from(_wire_names()), max_size=8, unique=True))
    base = {"id": draw(st.sampled_from(["c1", "p1", "\ud800", ""])), "conversationId": "c1", "eventTime": 1}
    obj = {k: v for k, v in base.items() if draw(st.booleans())}
    for name in names:
        if depth < 2 and draw(st.integers(0, 3)) == 0:
            obj[name] = draw(st.lists(shaped_objects(depth + 1), max_size=2))
        else:
            obj[name] = draw(field_values)
    return obj


TOPICS = [
    "v2.routing.queues.q1.conversations",
    "v2.users.u1.conversations.calls",
    "v2.routing.queues.q1.conversations.callbacks",
    "v2.users.u\udc00.conversations.emails",
    "v2.detail.events.conversation.c1.customer.start",
    "v2.detail.events.conversation.c1.acd.end",
    "v2.detail.events.conversation.c1.user.start",
    "v2.detail.events.conversation.c1.attributes",
    "v2.detail.events.conversation.c\ud800.acw",
    "channel.metadata",
    "v2.system.socket_closing",
]


@st.composite
def messages(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 4))
    body = draw(shaped_objects())
    metadata = draw(st.none() | st.fixed_dictionaries({"CorrelationId": field_values}))
    envelope = {"topicName": draw(st.sampled_from(TOPICS) | st.text(max_size=10)), "eventBody": body}
    if metadata is not None:
        envelope["metadata"] = metadata
    if kind == 0:
        return envelope
    if kind == 1:
        return {
            "detail-type": "x",
            "source": "aws.partner/genesys.com/cloud/o/n",
            "detail": {**envelope, "timestamp": draw(field_values)},
        }
    if kind == 2:
        return {
            **body,
            "conversationId": draw(st.sampled_from(["c1", "\ud800"])),
            "participants": draw(field_values),
        }
    if kind == 3:
        return {"conversations": draw(st.lists(shaped_objects(), max_size=3))}
    return draw(json_values)


def _check(message: Any) -> None:
    try:
        result = normalize_message(message, received_at=1_735_725_600_000, source="file")
    except NormalizeError:
        return
    if not isinstance(result, Normalized):
        return
    for event in result.events:
        assert decode_event(encode_event(event), WRITER) == event
        row = derive_row(fold(None, event))
        json.dumps(row_to_json(row), ensure_ascii=False).encode("utf-8")


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(messages())
def test_normalization_and_encode_raise_nothing_but_normalize_error(message: Any) -> None:
    _check(message)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_value_at_the_top(message: Any) -> None:
    _check(message)


def test_known_hostile_values_in_every_read_field() -> None:
    """Deterministic sweep: each hostile value in each field of a plain snapshot, detail event and record."""
    for value in [*HOSTILE_TEXT, *HOSTILE_NUMBERS, _deep(5000), {"a": "\ud800"}, [1, "\udfff"]]:
        for name in _wire_names():
            _check(
                {
                    "topicName": "v2.routing.queues.q.conversations",
                    "eventBody": {
                        "id": "c",
                        "participants": [{"id": "p", name: value, "calls": [{"id": "k", name: value}]}],
                    },
                }
            )
            _check(
                {
                    "topicName": "v2.detail.events.conversation.c.user.start",
                    "eventBody": {"eventTime": 1, "participantId": "p", name: value},
                }
            )
            _check(
                {
                    "conversationId": "c",
                    "participants": [
                        {
                            "participantId": "p",
                            name: value,
                            "sessions": [
                                {
                                    "sessionId": "s",
                                    name: value,
                                    "segments": [{"segmentStart": 1, name: value}],
                                }
                            ],
                        }
                    ],
                }
            )


GOOD = json.dumps(
    {
        "topicName": "v2.detail.events.conversation.good.customer.start",
        "eventBody": {
            "eventTime": 1735725600000,
            "participantId": "p",
            "sessionId": "s",
            "mediaType": "VOICE",
            "direction": "INBOUND",
        },
    }
)


def _dumps(message: Any) -> str:
    try:
        return json.dumps(message)
    except RecursionError:  # nested deeper than json writes: the text of a deep line instead
        return "[" * 5000 + "]" * 5000


def _hostile_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join([*lines, GOOD]) + "\n", encoding="utf-8")
    return path


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            messages(), st.none() | st.sampled_from(["9999-12-31T23:59:59.999Z", 253402300799999]) | scalars
        ),
        min_size=5,
        max_size=30,
    )
)
def test_fold_and_bridge_file_path_report_and_go_on(tmp_path: Path, batch: list[tuple[Any, Any]]) -> None:
    from consumer.cli import main

    # A line's optional receivedAt drives the file clock of the lines after it: hostile values too.
    with_received = [m if r is None or not isinstance(m, dict) else {**m, "receivedAt": r} for m, r in batch]
    lines = [_dumps(m) for m in with_received] + ['{"topicName": ', "[" * 100_000, "\ud800"]
    path = _hostile_file(
        tmp_path, [line.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for line in lines]
    )
    with open(path, "rb") as stream:
        items = list(stream_items(stream, source_name="f", clock=FileClock()))
    publisher = RecordingPublisher()
    make_bridge(publisher, []).run(items)
    assert "good" in [key for _, key, _ in publisher.records]
    assert main(["fold", str(path)]) == 2  # the last three lines are bad in any case


def test_fold_command_prints_no_traceback_for_hostile_lines(tmp_path: Path) -> None:
    hostile = [
        json.dumps(
            {
                "topicName": "v2.routing.queues.q.conversations",
                "eventBody": {
                    "id": "c",
                    "participants": [{"id": "p", "name": "\ud800", "connectedTime": value}],
                },
            }
        )
        for value in OUT_OF_RANGE
    ]
    hostile += ['{"conversationId": "c", "conversationStart": 1e400}', "[" * 50_000]
    path = _hostile_file(tmp_path, hostile)
    result = subprocess.run(
        [sys.executable, "-m", "consumer.cli", "fold", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert json.loads(result.stdout.splitlines()[-1])["conversation_id"] == "good"
    assert len(result.stderr.splitlines()) == len(hostile)


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_hostile_number_as_event_time_is_rejected_or_exact(value: object) -> None:
    message = {
        "topicName": "v2.detail.events.conversation.c.customer.start",
        "eventBody": {"eventTime": value},
    }
    if value in OUT_OF_RANGE or value != value:  # NaN is not in any list by equality
        with pytest.raises(NormalizeError, match="eventTime"):
            normalize_message(message, received_at=0, source="file")
        return
    result = normalize_message(message, received_at=0, source="file")
    assert isinstance(result, Normalized)
    assert result.events[0].event_time == value
