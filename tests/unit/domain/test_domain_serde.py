"""State JSON: exact round trip, interned keys, and clear errors on bad documents."""

from __future__ import annotations

import json

import pytest

from consumer.domain import LOGIC_VERSION, ConversationState, state_from_json, state_to_json
from tests.unit.domain.builders import comm, det, fold_events, part, snap


def _state() -> ConversationState:
    return fold_events(
        snap(
            1,
            part("p-cust", "customer", comm("c1", direction="inbound"), attributes={"k": "v"}),
            external_tag="t",
            division_ids=("D1",),
            media_stats_min_conversation_mos=4.0,
        ),
        det(2, "acd.end", "p-acd", "s-acd", queue_id="Q1", acd_outcome="answered", answered_user_id="U1"),
    )


def test_round_trip_through_json_text() -> None:
    state = _state()
    doc = state_to_json(state)
    assert state_from_json(json.loads(json.dumps(doc))) == state
    assert doc["logic_version"] == LOGIC_VERSION
    assert len(doc["keys"]) == 2  # one interned key per event
    assert doc["participants"]["p-acd"]["communications"]["s-acd"]["terminal"] == "disconnected"


def test_empty_state_round_trip() -> None:
    state = ConversationState("conv-1")
    assert state_from_json(state_to_json(state)) == state


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("format"),
        lambda d: d.pop("participants"),
        lambda d: d.__setitem__("keys", [[1]]),
        lambda d: d["facts"].__setitem__("external_tag", ["t", 99]),
        lambda d: d["facts"].__setitem__("no_such_fact", ["t", 0]),
        lambda d: d.__setitem__("last_event_at", "yesterday"),
        lambda d: d["facts"].__setitem__("external_tag", [["nested"], 0]),
        lambda d: d["facts"].__setitem__("external_tag", ["t", True]),
        lambda d: d["facts"].__setitem__("external_tag", ["t", "0"]),
        lambda d: d["facts"].__setitem__("external_tag", ["t", -1]),
        lambda d: d["participants"]["p-cust"]["fields"].__setitem__("purpose", [{"a": 1}, 0]),
        lambda d: d["participants"]["p-cust"]["fields"].__setitem__("no_such_field", ["x", 0]),
        lambda d: d["participants"]["p-cust"]["communications"]["c1"]["fields"].update(state=["x", 7]),
    ],
)
def test_malformed_documents_raise_value_error(mutate: object) -> None:
    doc = json.loads(json.dumps(state_to_json(_state())))
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(ValueError):
        state_from_json(doc)
