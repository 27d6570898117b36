"""The simulator: determinism, scenario coverage, options, message shapes, receive-time order."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import orjson
import pytest

from consumer.genesys.jsonl import FileClock, LineEvents, read_lines
from consumer.simulate import KINDS, Simulation, SimulationOptions, parse_mix, parse_start, simulate

_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
_PARTICIPANT_KEYS = {
    "id", "purpose", "name", "userId", "queueId", "address", "connectedTime", "endTime", "wrapupRequired",
    "startAcwTime", "endAcwTime", "wrapup", "calls", "callbacks", "chats", "emails", "messages",
}  # fmt: skip
_MEDIA = ("calls", "callbacks", "chats", "emails", "messages")
_COMM_KEYS = {
    "id", "state", "initialState", "held", "confined", "recording", "direction", "provider", "connectedTime",
    "disconnectedTime", "disconnectType", "startHoldTime", "parkTime", "resumeTime", "callbackNumbers",
    "callbackUserName", "callbackScheduledTime", "afterCallWork", "afterCallWorkRequired",
}  # fmt: skip
_DETAIL_KEYS = {
    "eventTime", "conversationId", "participantId", "sessionId", "mediaType", "provider", "direction",
    "divisionId", "flowType", "flowId", "queueId", "userId", "disconnectType", "acdOutcome",
    "answeredUserId", "usedRouting", "wrapupCode", "wrapupNotes", "wrapupDurationMs",
}  # fmt: skip
_TIME_KEYS = ("connectedTime", "endTime", "startAcwTime", "endAcwTime", "disconnectedTime", "startHoldTime",
              "parkTime", "resumeTime", "callbackScheduledTime")  # fmt: skip
_ALL_DISORDER: dict[str, Any] = {
    "detail_events": 0.5, "eventbridge": 0.3, "duplicate_rate": 0.1, "reorder_window": 32, "drop_rate": 0.3,
}  # fmt: skip


def _run(**kw: Any) -> tuple[list[bytes], Simulation]:
    sim = Simulation(SimulationOptions(**kw))
    return [orjson.dumps(m.message) for m in sim], sim


def _inner(message: dict[str, Any]) -> dict[str, Any]:
    return message["detail"] if "detail-type" in message else message


def test_same_seed_is_byte_identical_and_another_seed_differs() -> None:
    first, sim = _run(seed=5, conversations=300, **_ALL_DISORDER)
    second, _ = _run(seed=5, conversations=300, **_ALL_DISORDER)
    other, _ = _run(seed=6, conversations=300, **_ALL_DISORDER)
    assert first == second
    assert first != other
    assert sim.stats["duplicates"] > 0
    assert sim.stats["dropped"] > 0
    assert sim.stats["eventbridge"] > 0


def test_truth_does_not_depend_on_disorder_or_presentation() -> None:
    _, plain = _run(seed=8, conversations=400)
    _, disordered = _run(seed=8, conversations=400, duplicate_rate=0.2, reorder_window=16, drop_rate=0.5,
                         eventbridge=0.5)  # fmt: skip
    assert plain.truth() == disordered.truth()


def test_every_scenario_kind_and_variant_appears() -> None:
    _, sim = _run(seed=2, conversations=3000)
    stats = sim.stats
    for kind in KINDS:
        assert stats.get(f"kind.{kind}", 0) > 0, kind
    for variant in ("voice.hold", "voice.blind", "voice.consult", "voice.consult_agent", "voice.external",
                    "voice.self_service", "abandon.voice", "abandon.chat", "outbound.answered",
                    "outbound.no_answer", "message.reopen", "email.park", "email.reopen"):  # fmt: skip
        assert any(k.startswith(f"variant.{variant}") for k in stats), variant


def test_final_table_has_many_statuses() -> None:
    _, sim = _run(seed=3, conversations=3000, arrival_rate=1.0, agents=150)
    statuses = Counter(row["calculated_status"] for row in sim.truth())
    expected = {"ended", "waiting_in_queue", "connected", "alerting", "in_ivr", "wrap_up",
                "scheduled_callback", "parked", "dialing"}  # fmt: skip
    assert expected <= set(statuses), statuses


def test_queue_and_agent_counts_are_respected() -> None:
    _, sim = _run(seed=4, conversations=1500, queues=3, agents=7)
    directory = sim.queue_directory()
    assert len(directory) == 3
    queue_ids, user_ids = set(), set()
    for line in _run(seed=4, conversations=1500, queues=3, agents=7)[0]:
        body = _inner(orjson.loads(line))["eventBody"]
        for p in body.get("participants", ()):
            queue_ids.add(p.get("queueId"))
            user_ids.add(p.get("userId"))
    assert queue_ids - {None} == {q["id"] for q in directory}
    assert len(user_ids - {None}) == 7


def test_duplicates_and_drops_follow_the_models_bookkeeping() -> None:
    lines, sim = _run(seed=9, conversations=1000, duplicate_rate=0.1, drop_rate=0.4)
    stats = sim.stats
    assert (
        len(lines) == stats["delivered"] == stats["model_messages"] - stats["dropped"] + stats["duplicates"]
    )
    assert 0.08 < stats["duplicates"] / (stats["model_messages"] - stats["dropped"]) < 0.12
    assert stats["dropped"] > 0
    assert len(set(lines)) == len(lines) - stats["duplicates"]


def test_messages_have_genesys_shapes() -> None:
    lines, sim = _run(seed=10, conversations=500, detail_events=1.0, eventbridge=0.5)
    kinds: Counter[str] = Counter()
    for line in lines:
        message = orjson.loads(line)
        if "detail-type" in message:
            kinds["eventbridge"] += 1
            assert message["source"].startswith("aws.partner/genesys.com")
            assert _ISO.match(message["detail"]["timestamp"])
        else:
            assert _ISO.match(message["receivedAt"])
        inner = _inner(message)
        assert set(inner) >= {"topicName", "version", "eventBody", "metadata"}
        body = inner["eventBody"]
        if inner["topicName"].startswith("v2.detail.events.conversation."):
            kinds["detail"] += 1
            assert set(body) <= _DETAIL_KEYS, set(body) - _DETAIL_KEYS
            assert body["mediaType"].isupper()
            assert body["direction"].isupper()
            assert isinstance(body["eventTime"], int)
            continue
        kinds["snapshot"] += 1
        assert re.match(r"^v2\.routing\.queues\.[0-9a-f-]{36}\.conversations$", inner["topicName"])
        _check_snapshot(body)
    assert kinds["eventbridge"]
    assert kinds["detail"]
    assert kinds["snapshot"]
    outcomes = list(read_lines([line.decode() for line in lines], source_name="sim", clock=FileClock()))
    assert all(isinstance(o, LineEvents) for o in outcomes)  # the bridge's reader accepts every line
    assert sim.stats["detail_events"] == kinds["detail"]


def _check_snapshot(body: dict[str, Any]) -> None:
    assert set(body) <= {"id", "externalTag", "participants", "divisions"}
    for p in body["participants"]:
        assert set(p) <= _PARTICIPANT_KEYS, set(p) - _PARTICIPANT_KEYS
        media = [m for m in _MEDIA if m in p]
        assert len(media) == 1
        for key in _TIME_KEYS:
            assert key not in p or _ISO.match(p[key])
        if "wrapup" in p:
            assert set(p["wrapup"]) == {"code", "notes", "durationSeconds"}
        for comm in p[media[0]]:
            assert set(comm) <= _COMM_KEYS, set(comm) - _COMM_KEYS
            assert comm["state"].islower()
            for key in _TIME_KEYS:
                assert key not in comm or _ISO.match(comm[key])
            if "afterCallWork" in comm:
                assert comm["afterCallWork"]["state"] in ("pending", "complete")


def test_receive_times_are_monotone_in_model_order() -> None:
    previous = 0
    count = 0
    for m in simulate(SimulationOptions(seed=12, conversations=800, detail_events=0.5)):
        assert m.received_at >= previous
        previous = m.received_at
        count += 1
    assert count > 2000


def test_event_limit_stops_at_a_transition_boundary() -> None:
    lines, sim = _run(seed=13, events=5000, detail_events=0.5)
    assert 5000 <= sim.stats["model_messages"] <= 5010
    dropped_lines, dropped = _run(seed=13, events=5000, detail_events=0.5, drop_rate=0.5)
    assert dropped.stats["model_messages"] == sim.stats["model_messages"]
    assert len(dropped_lines) == len(lines) - dropped.stats["dropped"]
    assert dropped.truth() == sim.truth()


def test_duration_limit_and_start() -> None:
    start = parse_start("2025-03-01T00:00:00Z")
    _, sim = _run(seed=14, duration_s=3600, start_ms=start, arrival_rate=0.5)
    rows = sim.truth()
    assert rows
    assert all(r["conversation_start"] >= "2025-03-01T00:00:00.000Z" for r in rows)
    assert all(r["conversation_start"] <= "2025-03-01T01:00:00.200Z" for r in rows)


def test_truth_rows_are_sorted_and_complete() -> None:
    _, sim = _run(seed=15, conversations=200, mix=parse_mix("voice=1,email=1"))
    rows = sim.truth()
    assert [r["conversation_id"] for r in rows] == sorted(r["conversation_id"] for r in rows)
    assert {r["original_media_type"] for r in rows} == {"voice", "email"}
    assert sim.stats["conversations"] == len(rows) == 200


def test_truth_before_the_end_is_refused_and_iteration_is_single_use() -> None:
    sim = Simulation(SimulationOptions(seed=1, conversations=5))
    with pytest.raises(RuntimeError):
        sim.truth()
    list(sim)
    with pytest.raises(RuntimeError):
        iter(sim)


@pytest.mark.parametrize(
    "bad",
    [{"conversations": 0}, {"queues": 0}, {"drop_rate": 1.5}, {"reorder_window": -1}, {"mix": {"fax": 1}}],
)
def test_invalid_options_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SimulationOptions(**{"conversations": 10, **bad})


def test_parse_mix_rejects_unknown_kinds() -> None:
    assert parse_mix("voice=60,chat=10")["email"] == 0
    with pytest.raises(ValueError, match="bad mix entry"):
        parse_mix("video=3")
