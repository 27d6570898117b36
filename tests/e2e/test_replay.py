"""``convstream replay`` end to end: real Kafka, registry, Postgres, ``convstream`` processes.

- to earliest with unchanged logic: no row changes, offsets return to the end, and most records are
  recognised as already folded without being decoded;
- to a datetime in the middle: only the records at or after it are reprocessed (as many as
  ``offsets_for_times`` says), the table is unchanged;
- with running consumers: refused without ``--coordinate``; with it the running consumer re-seeks and
  reprocesses without a restart;
- a fold change with a bumped LOGIC_VERSION (in-process test build): exactly the replayed rows are
  rewritten and equal a fresh fold of the whole topic with the new logic.
"""

from __future__ import annotations

import importlib
import time
import urllib.request
from contextlib import ExitStack
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from consumer.adapters.kafka.groups import KafkaGroupAdmin
from consumer.commands.consume import end_offsets
from consumer.consume.wiring import build_pipeline
from consumer.domain import LOGIC_VERSION
from consumer.settings import KafkaSettings, Settings, load_settings
from tests.fixtures.e2e import E2EStack, Proc, assert_rows_match, consume_totals, db_row_to_fold, split_jsonl
from tests.fixtures.services import wait_until

pytestmark = pytest.mark.e2e

N = 200


def _kafka_committed(e2e: E2EStack) -> dict[int, int]:
    admin = KafkaGroupAdmin(KafkaSettings(bootstrap_servers=e2e.bootstrap))
    return admin.committed(e2e.group, e2e.events, sorted(e2e.end_offsets()))


def _loaded(e2e: E2EStack, conversations: int = N, seed: int = 5) -> dict[str, dict[str, Any]]:
    sim = e2e.simulate(conversations=conversations, seed=seed)
    e2e.bridge(sim.out, queues=sim.queues)
    e2e.run("consume", "--until-end")
    return e2e.raw_rows()


def test_replay_to_earliest_with_unchanged_logic_changes_no_row(e2e: E2EStack) -> None:
    before = _loaded(e2e)
    ends = e2e.end_offsets()

    dry = e2e.run("replay", "--to-earliest")
    assert "dry run: nothing changed" in dry.stdout
    assert f"total events to reprocess: {sum(ends.values())}" in dry.stdout
    assert e2e.stored_offsets() == ends  # a dry run changes nothing

    done = e2e.run("replay", "--to-earliest", "--execute")
    assert "executed" in done.stdout
    assert e2e.stored_offsets() == dict.fromkeys(ends, 0)
    assert _kafka_committed(e2e) == dict.fromkeys(ends, 0)  # mirrored to the Kafka group

    again = e2e.run("consume", "--until-end")
    totals = _totals(again.stdout)
    assert (totals["rows_inserted"], totals["rows_updated"]) == (0, 0)
    assert totals["processed"] + totals["already_folded"] == sum(ends.values())
    # Most records are recognised in their rows' folded_digests and never decoded again (consume/known.py);
    # the rest (their conversation was unchanged by their first batch) are folded again, to no effect.
    assert totals["already_folded"] > sum(ends.values()) // 2, totals
    assert e2e.raw_rows() == before  # db_last_updated included
    e2e.assert_offsets_at_end()


def test_replay_to_a_datetime_reprocesses_only_later_records(e2e: E2EStack) -> None:
    sim = e2e.simulate(conversations=N, seed=6)
    first, second = split_jsonl(sim.out, 2)
    e2e.bridge(first, queues=sim.queues)
    time.sleep(1.2)  # record timestamps are produce times: leave a clear gap
    middle = time.time()
    time.sleep(0.2)
    e2e.bridge(second)
    e2e.run("consume", "--until-end")
    before = e2e.raw_rows()
    ends = e2e.end_offsets()

    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(middle)) + f".{int(middle * 1000) % 1000:03d}Z"
    consumer = Consumer({"bootstrap.servers": e2e.bootstrap, "group.id": "probe"})
    try:
        found = consumer.offsets_for_times(
            [TopicPartition(e2e.events, p, int(middle * 1000)) for p in ends], timeout=15
        )
    finally:
        consumer.close()
    targets = {tp.partition: (tp.offset if tp.offset >= 0 else ends[tp.partition]) for tp in found}
    expected = sum(ends[p] - targets[p] for p in ends)
    assert 0 < expected < sum(ends.values())

    dry = e2e.run("replay", "--to-datetime", at)
    assert f"total events to reprocess: {expected}" in dry.stdout
    e2e.run("replay", "--to-datetime", at, "--execute")
    assert e2e.stored_offsets() == targets

    again = e2e.run("consume", "--until-end")
    totals = _totals(again.stdout)
    assert totals["processed"] + totals["already_folded"] == expected
    assert (totals["rows_inserted"], totals["rows_updated"]) == (0, 0)
    assert e2e.raw_rows() == before
    e2e.assert_offsets_at_end()


def test_replay_with_running_consumer_is_refused_unless_coordinated(e2e: E2EStack) -> None:
    sim = e2e.simulate(conversations=N, seed=7)
    consumer = e2e.consumer()
    e2e.wait_assigned([consumer])
    e2e.bridge(sim.out, queues=sim.queues)
    e2e.wait_caught_up(120, [consumer])
    before = e2e.raw_rows()
    stored = e2e.stored_offsets()
    # What the first pass wrote (a conversation split over two batches is inserted, then updated).
    first_pass = _rows_written(consumer)

    refused = e2e.run("replay", "--to-earliest", "--execute", check=False)
    assert refused.returncode == 1, refused.stderr
    assert "active member" in refused.stderr
    assert "--coordinate" in refused.stderr
    assert e2e.stored_offsets() == stored

    e2e.run("replay", "--to-earliest", "--execute", "--coordinate")
    wait_until(
        lambda: consumer.logged("sought to the replayed offsets") > 0,
        timeout=60,
        interval=0.25,
        what="the running consumer to re-seek",
    )
    e2e.wait_caught_up(120, [consumer])
    assert consumer.alive()  # no restart
    assert _rows_written(consumer) == first_pass  # the replay inserted and updated nothing
    assert consumer.terminate() == 0, consumer.tail()
    totals = consumer.totals()
    consumed = totals["processed"] + totals["already_folded"]
    assert consumed >= 2 * sum(stored.values()), totals  # everything was consumed twice
    assert (totals["rows_inserted"], totals["rows_updated"]) == first_pass
    assert e2e.raw_rows() == before
    e2e.assert_offsets_at_end()


def _totals(stdout: str) -> dict[str, Any]:
    totals = consume_totals(stdout)
    assert totals, stdout  # a clean stop always prints them
    return totals


def _rows_written(consumer: Proc) -> tuple[int, int]:
    """(inserted, updated) so far, from the running consumer's ``convstream_rows_written_total``."""
    port = next(r["port"] for r in consumer.log_records() if r.get("msg") == "health server listening")
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    written = {
        sample.labels["result"]: int(sample.value)
        for family in text_string_to_metric_families(text)
        if family.name == "convstream_rows_written"
        for sample in family.samples
        if sample.name == "convstream_rows_written_total"
    }
    return written.get("inserted", 0), written.get("updated", 0)


def _settings(e2e: E2EStack, monkeypatch: pytest.MonkeyPatch, **extra: str) -> Settings:
    for name, value in e2e.env(**extra).items():
        if name.startswith("CONVSTREAM_"):
            monkeypatch.setenv(name, value)
    return load_settings()


def _consume_in_process(settings: Settings, group: str | None = None) -> dict[str, int]:
    from consumer.adapters.kafka.client import KafkaAdmin

    with ExitStack() as stack:
        pipeline, _store, _health, _prom = build_pipeline(settings, stack, group)
        return pipeline.run(end_offsets(KafkaAdmin(settings.kafka), settings)).as_fields()


def _new_logic(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test build: the fold renames one status, and LOGIC_VERSION is bumped by one."""
    fold_module = importlib.import_module("consumer.domain.fold")  # the package re-exports fold()
    original = fold_module.calculated_status

    def variant(participants: Any, answered: Any) -> str | None:
        status = original(participants, answered)
        return "finished" if status == "ended" else status

    monkeypatch.setattr(fold_module, "calculated_status", variant)
    monkeypatch.setattr(fold_module, "LOGIC_VERSION", LOGIC_VERSION + 1)


def test_logic_change_rewrites_exactly_the_replayed_rows(
    e2e: E2EStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consumer.ops.rebuild import create_shadow

    before = _loaded(e2e, seed=8)
    replayed = [0, 1, 2, 3]
    e2e.run("replay", "--to-earliest", "--partitions", ",".join(map(str, replayed)), "--execute")

    settings = _settings(e2e, monkeypatch)
    _new_logic(monkeypatch)
    totals = _consume_in_process(settings)
    after = e2e.raw_rows()
    # The expected table: the whole topic folded from scratch with the new logic.
    create_shadow(settings.postgres, "conversation_expected")
    expected_settings = settings.model_copy(
        update={"postgres": settings.postgres.model_copy(update={"table": "conversation_expected"})}
    )
    _consume_in_process(expected_settings, group=f"{e2e.group}.expected")
    with e2e.connect() as conn:
        from psycopg.rows import dict_row

        with conn.cursor(row_factory=dict_row) as cur:
            expected = {r["conversation_id"]: r for r in cur.execute("SELECT * FROM conversation_expected")}

    rewritten = {c for c, row in after.items() if row["db_last_updated"] != before[c]["db_last_updated"]}
    assert set(after) == set(before)
    assert rewritten
    assert len(rewritten) < len(before)
    assert totals["rows_updated"] == len(rewritten)
    assert all(after[cid]["logic_version"] == LOGIC_VERSION + 1 for cid in rewritten)
    untouched = set(before) - rewritten
    assert all(after[cid] == before[cid] for cid in untouched)
    assert all(after[cid]["logic_version"] == LOGIC_VERSION for cid in untouched)
    assert any(after[cid]["calculated_status"] == "finished" for cid in rewritten)
    # Every conversation with an event on a replayed partition was rewritten, and only those.
    assert rewritten == _conversations_on(e2e, replayed)
    # In place, status_changed_at is the replay's first event (the merge rules exempt it from order).
    assert_rows_match(
        [db_row_to_fold(after[c]) for c in sorted(rewritten)],
        [db_row_to_fold(expected[c]) for c in sorted(rewritten)],
        ignore=("status_changed_at",),
    )


def _conversations_on(e2e: E2EStack, partitions: list[int]) -> set[str]:
    """The keys (conversation ids) of every record of the given events partitions."""
    ends = e2e.end_offsets()
    consumer = Consumer(
        {"bootstrap.servers": e2e.bootstrap, "group.id": "probe-keys", "enable.auto.commit": "false"}
    )
    consumer.assign([TopicPartition(e2e.events, p, 0) for p in partitions])
    keys: set[str] = set()
    remaining = {p: ends[p] for p in partitions if ends[p] > 0}
    deadline = time.monotonic() + 60
    try:
        while remaining and time.monotonic() < deadline:
            for m in consumer.consume(500, timeout=1.0):
                partition, offset = m.partition(), m.offset()
                if m.error() is None and partition is not None and offset is not None:
                    keys.add(bytes(m.key() or b"").decode())
                    if offset + 1 >= remaining.get(partition, 0):
                        remaining.pop(partition, None)
    finally:
        consumer.close()
    assert not remaining, f"partitions not read to the end: {remaining}"
    return keys
