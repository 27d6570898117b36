"""The normalization fast paths agree with the checked path, and orjson's canonical JSON with json's."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.genesys import normalize
from consumer.genesys._fields import Fields
from consumer.genesys.enums import (
    _KNOWN_DISCONNECT_SPELLINGS,
    _normalize_disconnect_type,
    normalize_disconnect_type,
)
from consumer.genesys.normalize import canonical_json, canonical_json_bytes, normalize_message
from consumer.genesys.times import parse_time
from consumer.simulate import SimulationOptions, simulate
from tests.unit.hypothesis_budget import examples

RECEIVED = 1_735_725_600_000

# -- canonical JSON: orjson where provably equal, json otherwise ---------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson refuses, json writes them
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()  # NaN, ±Infinity, -0.0, subnormals, exponents
    | st.sampled_from([1e16, 1e-5, 0.0001, -0.0, 1.5, 123456789012345680.0, 5e-324, math.inf, math.nan])
    | st.text()
    | st.text(alphabet=st.characters(codec="utf-8"))
    | st.sampled_from(
        ["\x00\x1f\x7f", '"\\/\b\f\n\r\t', "\u2028\u2029", "Zoë 東京 🎧", "v1.5,", "e+5]", "null"]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # the comparison is of outcomes, errors included
        return ("error", type(exc))


@settings(max_examples=examples(600), deadline=None)
@given(json_values)
def test_canonical_json_bytes_equals_json(value: Any) -> None:
    assert _outcome(canonical_json_bytes, value) == _outcome(lambda v: canonical_json(v).encode(), value)


@settings(max_examples=examples(300), deadline=None)
@given(st.dictionaries(st.text(alphabet=st.characters(), max_size=4), json_values, max_size=5))
def test_canonical_json_bytes_with_surrogates_and_any_keys(body: dict[str, Any]) -> None:
    assert _outcome(canonical_json_bytes, body) == _outcome(lambda v: canonical_json(v).encode(), body)


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1e-05},
        {"a": [1.5, 2]},
        [1e16],
        {"nan": math.nan, "inf": -math.inf, "null": None},
        {"a": 2**70},
        {1: "non-str key"},
        {"s": "\ud800"},
        1.5,
        "top-level",
        {"t": (1, 2)},
    ],
)
def test_canonical_json_bytes_fallback_cases(value: Any) -> None:
    assert _outcome(canonical_json_bytes, value) == _outcome(lambda v: canonical_json(v).encode(), value)


# -- time parsing fast path --------------------------------------------------------------------------


@settings(max_examples=examples(300), deadline=None)
@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30)),
    st.sampled_from(["%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ", "%Y%m%dT%H%M%SZ"]),
)
def test_parse_time_of_z_strings_is_exact_integer_arithmetic(moment: datetime, fmt: str) -> None:
    text = moment.strftime(fmt)
    parsed = datetime.fromisoformat(text)
    delta = parsed - datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_time(text) == (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    assert parse_time(text) == (parsed - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


@pytest.mark.parametrize(
    "text", [" 2025-01-01T00:00:00Z", "2025-01-01Z", "12345Z", "Z", "2025-01-01T24:00:00Z"]
)
def test_parse_time_of_odd_z_strings_takes_the_general_path(text: str) -> None:
    stripped = text.strip()
    try:
        expected: Any = parse_time(stripped) if stripped != text else None
    except ValueError:
        expected = ValueError
    if expected is None or expected is ValueError:
        with pytest.raises(ValueError):
            parse_time(text)
    else:
        assert parse_time(text) == expected


def test_disconnect_type_table_is_the_general_rule() -> None:
    for spelling, canonical in _KNOWN_DISCONNECT_SPELLINGS.items():
        assert canonical == _normalize_disconnect_type(spelling)
    assert normalize_disconnect_type("CONSULT_TRANSFER") == "transfer.consult"
    assert normalize_disconnect_type("Something.New") == "something.new"


# -- fast path == checked path -----------------------------------------------------------------------


def _checked(message: dict[str, Any]) -> Any:
    """The checked path alone (Fields accessors, no fast path)."""
    return normalize._envelope(Fields(message, "message"), RECEIVED, "simulator", prefix="")


def _fast(message: dict[str, Any]) -> Any:
    return normalize_message(message, received_at=RECEIVED, source="simulator")


def _same_outcome(message: dict[str, Any]) -> None:
    def run(fn: Any) -> Any:
        try:
            return ("ok", fn(message))
        except Exception as exc:  # errors must match in type and message
            return ("error", type(exc), str(exc))

    assert run(_fast) == run(_checked)


SIMULATED = [
    m.message
    for m in itertools.islice(
        simulate(SimulationOptions(seed=7, events=3000, agents=20, arrival_rate=2.0, detail_events=0.3)), 3000
    )
]
RICH: dict[str, Any] = {
    "topicName": "v2.users.U1.conversations",
    "eventBody": {
        "id": "CONV1",
        "externalTag": "ext",
        "divisions": [{"division": {"id": "D1"}}, {"id": "D2"}, {"division": {"id": "D1"}}],
        "participants": [
            {
                "id": "P1",
                "purpose": "AGENT",
                "queueId": "Q1",
                "conversationRoutingData": {"queue": {"id": "Q1", "name": "Billing"}},
                "screenMonitoredParticipantId": "P0",
                "attributes": {"a": "1", "n": 2, "o": {"x": [1, 2.5]}},
                "wrapup": {"code": "", "notes": "n"},
                "Calls": [
                    {
                        "id": "C1",
                        "state": "DISCONNECTED",
                        "disconnectType": "CONSULT_TRANSFER",
                        "afterCallWork": {"state": "PENDING", "startTime": "2025-01-01T10:00:00Z"},
                        "wrapup": {"code": "WC", "durationSeconds": 3},
                        "connectedTime": "2025-01-01T09:00:00.5+01:00",
                        "disconnectedTime": 1735725600000,
                    }
                ],
                "chats": [{"id": "CH1", "wrapup": {"code": "WC2"}, "parkTime": "2025-01-01T10:00:01.000Z"}],
            }
        ],
    },
    "metadata": {"CorrelationId": "c"},
}
DETAIL: dict[str, Any] = {
    "topicName": "v2.detail.events.conversation.CONV2.acd.end",
    "eventBody": {
        "eventTime": 1735725600001,
        "conversationId": "CONV2",
        "mediaType": "CALL",
        "disconnectType": "endpoint",
        "acdOutcome": "ANSWERED",
        "wrapupDurationMs": 5,
        "callbackScheduledTime": "2025-01-02T00:00:00Z",
        "attributes": {"k": "v"},
    },
}
WEIRD = [None, "", " ", "x", 0, 1, -1, 1.0, 1.5, True, False, [], {}, ["a"], {"id": "Q1"}, [{"id": "X"}],
         "2025-01-01T10:00:00Z", "1735725600000", 2**70, "Q1",
         {"queue": {"id": "Q1", "name": 5}}]  # fmt: skip
KEYS = ["id", "conversationId", "eventTime", "state", "held", "purpose", "queueId", "calls", "emails",
        "wrapup", "afterCallWork", "attributes", "divisions", "division", "connectedTime", "participants",
        "conversationRoutingData", "monitoredParticipantId", "screenMonitoredParticipantId", "mediaType",
        "disconnectType", "wrapupDurationMs", "durationSeconds", "code", "startTime", "queue",
        "name"]  # fmt: skip


def _containers(value: Any) -> list[Any]:
    found: list[Any] = []
    if isinstance(value, dict):
        found.append(value)
        for item in value.values():
            found += _containers(item)
    elif isinstance(value, list):
        found.append(value)
        for item in value:
            found += _containers(item)
    return found


def test_simulated_messages_agree() -> None:
    for message in SIMULATED:
        _same_outcome(message)


@settings(max_examples=examples(1500), deadline=None)
@given(st.data())
def test_mutated_messages_agree(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from([RICH, DETAIL, *SIMULATED[:200]]))
    message = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        containers = [*_containers(message["eventBody"]), message]
        target = data.draw(st.sampled_from(containers))
        value = copy.deepcopy(data.draw(st.sampled_from(WEIRD)))
        if isinstance(target, dict):
            target[data.draw(st.sampled_from(sorted(target) + KEYS))] = value
        elif target:
            target[data.draw(st.integers(min_value=0, max_value=len(target) - 1))] = value
    if data.draw(st.booleans()):
        message["metadata"] = data.draw(
            st.sampled_from([None, {}, {"CorrelationId": ""}, {"CorrelationId": 5}, 3])
        )
    _same_outcome(message)


def test_event_ids_are_unchanged_by_the_fast_canonical_json() -> None:
    for message in SIMULATED[:300]:
        event = _fast(message).events[0]
        canonical = json.dumps(
            message["eventBody"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        expected = hashlib.sha256(f"{message['topicName']}\n{canonical}".encode()).hexdigest()
        assert event.event_id == expected
