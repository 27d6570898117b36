"""Participants normalized at creation (the simulator's entries) give exactly the normalizer's events."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import orjson
import pytest

from consumer.domain.events import ConversationSnapshot
from consumer.errors import NormalizeError
from consumer.genesys._fast import participant_from_dict
from consumer.genesys._fields import Fields
from consumer.genesys.entries import participant_entry
from consumer.genesys.normalize import Normalized, normalize_message
from consumer.genesys.snapshots import generic_snapshot, snapshot_observed_time
from consumer.simulate import Simulation, SimulationOptions

OPTION_SETS = [
    SimulationOptions(seed=3, events=4000),
    SimulationOptions(seed=4, events=4000, agents=10, arrival_rate=1.0, detail_events=0.5),
    SimulationOptions(seed=5, events=4000, duplicate_rate=0.1, reorder_window=16, drop_rate=0.3),
    SimulationOptions(seed=6, events=3000, eventbridge=0.4, mix={"email": 1, "callback": 1, "message": 1}),
    SimulationOptions(seed=8, conversations=300, mix={"outbound": 1, "abandon": 1, "chat": 1}),
]


def _messages(options: SimulationOptions, keep: bool) -> list[Any]:
    return list(Simulation(options, keep_entries=keep))


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: f"seed{o.seed}")
def test_entries_change_nothing_in_the_simulation_output(options: SimulationOptions) -> None:
    kept = _messages(options, True)
    plain = _messages(options, False)
    assert [orjson.dumps(m.message) for m in kept] == [orjson.dumps(m.message) for m in plain]
    assert [(m.received_at, m.conversation_id) for m in kept] == [
        (m.received_at, m.conversation_id) for m in plain
    ]
    assert all(m.participants is None for m in plain)


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: f"seed{o.seed}")
def test_events_from_entries_equal_the_normalizers(options: SimulationOptions) -> None:
    with_entries = 0
    for m in _messages(options, True):
        body = m.message["eventBody"] if "eventBody" in m.message else m.message["detail"]["eventBody"]
        if m.participants is None:
            assert "participants" not in body  # detail events only
            continue
        with_entries += 1
        assert len(m.participants) == len(body["participants"])
        for entry, part in zip(m.participants, body["participants"], strict=True):
            assert entry[0] == participant_from_dict(part)
        given = normalize_message(
            m.message, received_at=m.received_at, source="simulator", participants=m.participants
        )
        assert given == normalize_message(m.message, received_at=m.received_at, source="simulator")
    assert with_entries > 500  # the property is not vacuous


def test_entry_observed_time_is_the_snapshot_rule() -> None:
    for m in _messages(SimulationOptions(seed=9, events=1500), True):
        if m.participants is None:
            continue
        for entry, part in zip(m.participants, m.message["eventBody"]["participants"], strict=True):
            snapshot = generic_snapshot(Fields({"participants": [part]}, "body"))
            assert entry[1] == snapshot_observed_time(snapshot)
            assert entry[2] is None  # event ids come from the whole body


def test_irregular_participant_has_no_entry_and_normalization_reports_it() -> None:
    message = next(m for m in _messages(SimulationOptions(seed=2, events=50), True) if m.participants)
    broken = copy.deepcopy(message.message)
    broken["eventBody"]["participants"][0]["purpose"] = 5
    assert participant_entry(broken["eventBody"]["participants"][0]) is None
    # Entries that do not match the body in length are ignored: the dicts are read (and checked) again.
    with pytest.raises(NormalizeError, match="purpose"):
        normalize_message(broken, received_at=message.received_at, source="simulator", participants=())


def test_normalization_takes_the_participants_from_the_entries() -> None:
    # The entries replace reading the participant dicts (that is their point): a doctored entry shows up.
    message = next(
        m
        for m in _messages(SimulationOptions(seed=2, events=50), True)
        if m.participants and "eventBody" in m.message
    )
    assert message.participants is not None
    participant, observed, fragment = message.participants[0]
    doctored = [(dataclasses.replace(participant, name="from the entry"), observed, fragment)]
    doctored += list(message.participants[1:])
    result = normalize_message(
        message.message, received_at=message.received_at, source="simulator", participants=doctored
    )
    assert isinstance(result, Normalized)
    (event,) = result.events
    assert isinstance(event.body, ConversationSnapshot)
    assert event.body.participants[0].name == "from the entry"
