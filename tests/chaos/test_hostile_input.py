"""Scenario 5: poison and hostile input, through the bridge's file source and straight onto the topic.

Every hostile item must be isolated and accounted for exactly once -- a bad line reported by the bridge
with its line number, a dead-lettered record with the error headers, a record the producer refuses,
or a row stored safely -- while every good conversation still equals the simulator truth.

Through the bridge (mixed into a good file): a truncated JSON line, a deeply nested line, a line of
invalid UTF-8, a line with raw NUL bytes, a huge (2 MB) but valid line, conversations whose timestamps
are in year 1, year 9999 or before 1970, a conversation id with SQL metacharacters, and one whose id
contains an escaped NUL (``\\u0000``: valid JSON and Avro, but PostgreSQL text cannot hold it).
Straight onto the events topic: an empty value, a null value, a wrong magic byte, a truncated Avro body
with a real schema id, an unknown schema id, and a value bigger than the producer's ``message.max.bytes``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from consumer.codec.avro import encode_event
from consumer.domain.events import ConversationEvent, DetailEvent
from tests.chaos.harness import Result, finish, install_audit, measure
from tests.fixtures.e2e import E2EStack

pytestmark = pytest.mark.chaos

N = 200
ISO = re.compile(r"^\d{4}-\d\d-\d\dT")
SQL_ID = "'); DROP TABLE conversation;--"
NUL_ID = "nul\u0000id"
MAIN = {
    "truncated-json",
    "invalid-utf8",
    "raw-nul-bytes",
    "huge-line",
    "year-1",
    "year-9999",
    "pre-epoch",
    "sql-metacharacters",
}
TIMES = {
    "year-1": "0001-01-01T00:00:00.000Z",
    "year-9999": "9999-12-31T23:59:59.000Z",
    "pre-epoch": "1969-12-31T23:59:58.000Z",
}


def _retime(node: Any, value: str) -> Any:
    if isinstance(node, dict):
        return {k: _retime(v, value) for k, v in node.items()}
    if isinstance(node, list):
        return [_retime(v, value) for v in node]
    if isinstance(node, str) and ISO.match(node):
        return value
    return node


def _hostile_lines(good: list[bytes], names: set[str]) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """(name, line) of the hostile bridge lines, and {conversation id: name} of the valid ones."""
    template = next(json.loads(g) for g in good if b'.conversations"' in g and b'"eventBody"' in g)

    def clone(cid: str, when: str | None = None, pad: int = 0) -> bytes:
        msg = json.loads(json.dumps(template))
        msg["eventBody"]["id"] = cid
        if when is not None:
            msg = _retime(msg, when)
        if pad:
            msg["metadata"]["padding"] = "x" * pad
        return json.dumps(msg).encode()

    valid = {f"chaos-{name}": name for name in TIMES} | {
        SQL_ID: "sql-metacharacters",
        "chaos-huge": "huge-line",
    }
    lines = [
        ("truncated-json", good[0][: len(good[0]) // 2]),
        ("invalid-utf8", b'{"topicName": "\xff\xfe\xfd", "eventBody": {}}'),
        ("raw-nul-bytes", b"\x00\x00" + good[1] + b"\x00"),
        ("huge-line", clone("chaos-huge", pad=2 * 1024 * 1024)),
        *((name, clone(f"chaos-{name}", when)) for name, when in TIMES.items()),
        ("sql-metacharacters", clone(SQL_ID)),
        ("escaped-nul-id", clone(NUL_ID)),
        ("deeply-nested", b"[" * 100_000 + b"]" * 100_000),
    ]
    return [(n, line) for n, line in lines if n in names], {c: n for c, n in valid.items() if n in names}


def _event_with_id(conversation_id: str) -> ConversationEvent:
    return ConversationEvent(
        event_id="chaos-nul",
        conversation_id=conversation_id,
        event_time=1,
        received_at=1,
        source="file",
        topic_name="v2.detail.events.conversation.x.acd.start",
        topic_pattern="v2.detail.events.conversation.{id}.acd.start",
        body=DetailEvent(kind="acd.start"),
    )


def _raw_records(e2e: E2EStack) -> tuple[list[tuple[str, bytes | None]], list[str]]:
    """Produce the raw poison straight onto the events topic; (produced, refused-by-the-producer notes)."""
    import httpx
    from confluent_kafka import KafkaException, Producer

    latest = httpx.get(f"{e2e.registry}/subjects/{e2e.events}-value/versions/latest", timeout=10).json()
    real_id = int(latest["id"]).to_bytes(4, "big")
    raw: list[tuple[str, bytes | None]] = [
        ("empty-value", b""),
        ("null-value", None),
        ("wrong-magic", b"\x01" + real_id + b"\x02\x04ab"),
        ("truncated-avro", b"\x00" + real_id + b"\x02"),
        ("unknown-schema-id", b"\x00" + (2**31 - 7).to_bytes(4, "big") + b"\x02\x04ab"),
        # Schema-valid Avro whose conversation id Postgres cannot store (NUL): InvalidEventError.
        ("nul-conversation-id", b"\x00" + real_id + encode_event(_event_with_id(NUL_ID))),
    ]
    producer = Producer({"bootstrap.servers": e2e.bootstrap})
    for name, value in raw:
        producer.produce(e2e.events, value=value, key=f"raw-{name}".encode())
    refused = []
    try:
        producer.produce(e2e.events, value=b"\x00" + real_id + b"x" * (2 * 1024 * 1024), key=b"raw-oversized")
    except (KafkaException, BufferError) as exc:
        refused.append(f"oversized 2 MB refused by the producer: {exc.args[0]}")
    assert producer.flush(30) == 0
    return raw, refused


def _dlq_headers(e2e: E2EStack, count: int) -> list[dict[str, str]]:
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": e2e.bootstrap,
            "group.id": f"{e2e.group}-dlq-reader",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([e2e.dlq])
    out: list[dict[str, str]] = []
    deadline = time.monotonic() + 60
    try:
        while len(out) < count and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            raw_headers = msg.headers() or []
            pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
            out.append({k: v.decode(errors="replace") if isinstance(v, bytes) else str(v) for k, v in pairs})
    finally:
        consumer.close()
    return out


def test_poison_and_hostile_input_is_isolated(e2e: E2EStack, tmp_path: Path) -> None:
    """Everything but the two inputs that have their own tests below, plus the raw records."""
    _hostile(e2e, tmp_path, "5a poison + hostile input", MAIN, raw_records=True)


def test_deeply_nested_json_line(e2e: E2EStack, tmp_path: Path) -> None:
    """A 100 000-deep JSON array: a bad line; the good lines after it are still published."""
    _hostile(e2e, tmp_path, "5b deeply nested JSON line", {"deeply-nested"})


def test_nul_in_conversation_id(e2e: E2EStack, tmp_path: Path) -> None:
    """``"id": "nul\\u0000id"``: valid JSON, but an id PostgreSQL text cannot store: the bridge reports the
    line as bad (with its number) and publishes the rest. The same id framed straight onto the topic is
    dead-lettered by the consumer (``nul-conversation-id`` in the raw records of 5a)."""
    _hostile(e2e, tmp_path, "5c NUL in a conversation id", {"escaped-nul-id"})


def _hostile(
    e2e: E2EStack, tmp_path: Path, scenario: str, names: set[str], raw_records: bool = False
) -> None:
    result = Result(scenario)
    sim = e2e.simulate(seed=501, conversations=N)
    install_audit(e2e)
    good = [line for line in sim.out.read_bytes().splitlines() if line.strip()]
    hostile, valid = _hostile_lines(good, names)
    # Interleave: hostile line i goes after good line 3*i+1 (line numbers reported by the bridge).
    mixed: list[bytes] = []
    where: dict[int, str] = {}
    for i, line in enumerate(good):
        mixed.append(line)
        if i % 3 == 1 and hostile:
            name, bad = hostile.pop(0)
            mixed.append(bad)
            where[len(mixed)] = name
    assert not hostile, "not enough good lines to interleave"
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(mixed) + b"\n")
    result.faults = len(where)

    bridged = e2e.run(
        "bridge",
        "--source",
        "file",
        str(path),
        "--queues",
        str(sim.queues),
        "--progress-seconds",
        "0",
        check=False,
    )
    reported = {int(m.group(1)) for m in re.finditer(rf"{re.escape(path.name)}:(\d+):", bridged.stderr)}
    bad_lines = {where[n] for n in reported if n in where}
    assert reported <= set(where), f"good lines reported bad: {sorted(reported - set(where))}"
    raw, refused = _raw_records(e2e) if raw_records else ([], [])
    result.faults += len(raw) + len(refused)
    result.notes += refused

    (tmp_path / "bridge.err").write_text(bridged.stderr)
    consumed = e2e.run("consume", "--until-end", timeout=300, check=False)
    if consumed.returncode != 0:
        result.notes.append(
            f"consumer exit {consumed.returncode}: {consumed.stderr.strip().splitlines()[-1][:120]}"
        )
    rows = e2e.raw_rows()
    stored = {valid[cid] for cid in valid if cid in rows}
    dlq = _dlq_headers(e2e, e2e.dlq_records())
    dead = [h.get("convstream.error.class", "?") for h in dlq]
    valid_lost = {name for cid, name in valid.items() if cid not in rows and name not in bad_lines}
    result.notes.append(f"bridge rc {bridged.returncode}, bad lines: {sorted(bad_lines)}")
    result.notes.append(f"stored safely: {sorted(stored)}")
    result.notes.append(f"valid-but-unstorable: {sorted(valid_lost)}")
    result.notes.append(f"DLQ classes: {sorted(dead)}")
    # Raw poison keyed by a conversation id gets an error mark (a minimal row when unknown).
    marked = frozenset(f"raw-{name}" for name, _ in raw) & frozenset(rows)
    result.notes.append(f"error-marked rows: {len(marked)}")
    truth_ids = (frozenset(valid) & frozenset(rows)) | marked
    measured = measure(e2e, result, sim.truth, ignore=(), allowed_extra=truth_ids)
    assert consumed.returncode == 0, f"the consumer stopped on hostile input:\n{consumed.stderr[-2000:]}"

    # Every hostile line is exactly one of: reported bad, stored, dead-lettered.
    bridge_tail = "\n".join(bridged.stderr.splitlines()[-15:])
    assert bridged.returncode == (2 if set(where.values()) - set(valid.values()) else 0), (
        f"the bridge must report bad lines and exit 2: rc {bridged.returncode}\n{bridge_tail}"
    )
    unaccounted = set(where.values()) - bad_lines - stored - valid_lost
    assert not unaccounted, f"hostile lines neither reported nor stored: {unaccounted}\n{bridge_tail}"
    for h in dlq:
        for key in (
            "convstream.error.class",
            "convstream.error.message",
            "convstream.original.topic",
            "convstream.original.partition",
            "convstream.original.offset",
        ):
            assert key in h, f"DLQ record without {key}: {h}"
    unmarked = [cid for cid in marked if not rows[cid]["error_message"]]
    assert not unmarked, f"rows created for poison without an error_message: {unmarked}"
    with e2e.connect() as conn:
        assert conn.execute("SELECT to_regclass('conversation')::text").fetchone() == ("conversation",)
    finish(e2e, result, sim.truth, expected_dlq=len(raw) + len(valid_lost), measured=measured)
