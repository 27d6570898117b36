"""PostgresStore against a real PostgreSQL: rows, change detection, fencing, queues, error mapping."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from consumer.adapters.postgres.store import PostgresStore
from consumer.domain import LOGIC_VERSION, ConversationRow, ConversationState, state_to_json
from consumer.errors import FencedError, StoreError, StoreUnavailableError
from consumer.ops.migrate import migrate
from consumer.ports import BatchWrite, ErrorMark, PartitionAdvance, QueueInfo, RowWrite, WriteMethod
from consumer.settings import PostgresSettings

pytestmark = pytest.mark.integration

GROUP = "g1"
TOPIC = "genesys.conversation.events"
T0 = 1_700_000_000_123


def make_row(cid: str, **changes: Any) -> ConversationRow:
    row = ConversationRow(
        conversation_id=cid,
        conversation_start=T0,
        conversation_end=None,
        originating_direction="inbound",
        original_media_type="voice",
        conversation_initiator="customer",
        calculated_status="waiting_in_queue",
        status_changed_at=T0 + 1,
        last_queue_id="q1",
        last_queue_name=None,
        external_tag=None,
        division_ids=("d1", "d2"),
        customer_participation=None,
        self_served=None,
        media_stats_min_conversation_mos=None,
        media_stats_min_conversation_rfactor=None,
        error_message=None,
        last_event_at=T0 + 2,
        logic_version=LOGIC_VERSION,
    )
    return dataclasses.replace(row, **changes)


def make_write(cid: str, **changes: Any) -> RowWrite:
    state = state_to_json(ConversationState(conversation_id=cid))
    return RowWrite(row=make_row(cid, **changes), state_json=state)


def ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=(ms % 1000) * 1000)


class Offsets:
    """Hands out consecutive offset ranges for one partition, as a consumer would."""

    def __init__(self, partition: int = 0) -> None:
        self.partition = partition
        self.next = 0

    def advance(self, count: int = 10) -> PartitionAdvance:
        start, self.next = self.next, self.next + count
        return PartitionAdvance(TOPIC, self.partition, start, self.next)


@pytest.fixture
def migrated(pg_database: str) -> str:
    migrate(pg_database)
    return pg_database


@pytest.fixture(params=["copy", "executemany"])
def store(request: pytest.FixtureRequest, migrated: str) -> Iterator[PostgresStore]:
    method: WriteMethod = request.param
    settings = PostgresSettings(dsn=SecretStr(migrated), connect_timeout_seconds=5)
    with PostgresStore(settings, write_method=method) as s:
        yield s


def table_snapshot(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT * FROM conversation ORDER BY conversation_id").fetchall()


def test_inserts_rows_with_typed_columns(store: PostgresStore) -> None:
    offsets = Offsets()
    result = store.write_batch(
        BatchWrite(GROUP, [offsets.advance()], rows=[make_write("c1"), make_write("c2", division_ids=())])
    )
    assert (result.inserted, result.updated, result.unchanged) == (2, 0, 0)
    rows = store.conversation_rows(["c1", "c2"])
    c1 = rows["c1"]
    assert c1["conversation_start"] == ts(T0)
    assert c1["conversation_start"].tzinfo is not None
    assert c1["status_changed_at"] == ts(T0 + 1)
    assert c1["last_event_at"] == ts(T0 + 2)
    assert c1["conversation_end"] is None
    assert c1["division_ids"] == ["d1", "d2"]
    assert rows["c2"]["division_ids"] == []
    assert c1["calculated_status"] == "waiting_in_queue"
    assert c1["logic_version"] == LOGIC_VERSION
    assert c1["state"]["conversation_id"] == "c1"
    assert c1["db_when_created"] == c1["db_last_updated"]
    assert store.stored_offsets(GROUP, TOPIC) == {0: 10}
    assert set(store.load_states(["c1", "c2", "nope"])) == {"c1", "c2"}
    assert store.load_states(["c1"])["c1"].conversation_id == "c1"


def test_unchanged_rows_are_not_rewritten_and_changed_ones_are(store: PostgresStore) -> None:
    offsets = Offsets()
    store.write_batch(BatchWrite(GROUP, [offsets.advance()], rows=[make_write("c1"), make_write("c2")]))
    before = store.conversation_rows(["c1", "c2"])

    same = store.write_batch(
        BatchWrite(GROUP, [offsets.advance()], rows=[make_write("c1"), make_write("c2")])
    )
    assert (same.inserted, same.updated, same.unchanged) == (0, 0, 2)
    assert store.conversation_rows(["c1", "c2"]) == before

    changed = store.write_batch(
        BatchWrite(
            GROUP,
            [offsets.advance()],
            rows=[make_write("c1", calculated_status="connected", last_queue_name="Sales"), make_write("c2")],
        )
    )
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 1)
    after = store.conversation_rows(["c1", "c2"])
    assert after["c1"]["calculated_status"] == "connected"
    assert after["c1"]["last_queue_name"] == "Sales"
    assert after["c1"]["db_last_updated"] > before["c1"]["db_last_updated"]
    assert after["c1"]["db_when_created"] == before["c1"]["db_when_created"]
    assert after["c2"] == before["c2"]
    assert store.stored_offsets(GROUP, TOPIC) == {0: 30}


def test_folded_digests_travel_with_changed_rows_of_this_logic_version(store: PostgresStore) -> None:
    offsets = Offsets()
    d1, d2 = b"\x01" * 8, b"\x02" * 8
    rows = [
        dataclasses.replace(make_write("c1"), folded_digests=d1),
        dataclasses.replace(make_write("old", logic_version=LOGIC_VERSION - 1), folded_digests=d1),
        make_write("none"),
    ]
    store.write_batch(BatchWrite(GROUP, [offsets.advance()], rows=rows, errors=[ErrorMark("mark", "x", T0)]))
    assert store.load_folded_digests(["c1", "old", "none", "mark", "nope"], LOGIC_VERSION) == {"c1": d1}
    # Digests alone are no reason to write a row: they go with a changed one.
    same = dataclasses.replace(make_write("c1"), folded_digests=d1 + d2)
    store.write_batch(BatchWrite(GROUP, [offsets.advance()], rows=[same]))
    assert store.load_folded_digests(["c1"], LOGIC_VERSION) == {"c1": d1}
    changed = dataclasses.replace(make_write("c1", calculated_status="connected"), folded_digests=d1 + d2)
    store.write_batch(BatchWrite(GROUP, [offsets.advance()], rows=[changed]))
    assert store.load_folded_digests(["c1"], LOGIC_VERSION) == {"c1": d1 + d2}
    assert store.load_folded_digests([], LOGIC_VERSION) == {}


def test_newer_logic_version_is_never_downgraded(store: PostgresStore) -> None:
    offsets = Offsets()
    newer = make_write("c1", logic_version=LOGIC_VERSION + 1, calculated_status="ended")
    store.write_batch(BatchWrite(GROUP, [offsets.advance()], rows=[newer]))
    result = store.write_batch(BatchWrite(GROUP, [offsets.advance()], rows=[make_write("c1")]))
    assert result.unchanged == 1
    assert store.conversation_rows(["c1"])["c1"]["calculated_status"] == "ended"


def test_fenced_write_raises_and_writes_nothing(store: PostgresStore, migrated: str) -> None:
    offsets = Offsets()
    store.write_batch(BatchWrite(GROUP, [offsets.advance()], rows=[make_write("c1")]))
    before = table_snapshot(migrated)

    stale = PartitionAdvance(TOPIC, 0, 0, 25)  # starts where the stored offset (10) is not
    other = PartitionAdvance(TOPIC, 1, 0, 5)  # a fresh partition in the same batch is rolled back too
    with pytest.raises(FencedError):
        store.write_batch(
            BatchWrite(
                GROUP,
                [other, stale],
                rows=[make_write("c1", calculated_status="ended"), make_write("c9")],
                errors=[ErrorMark("c1", "boom", T0)],
            )
        )
    assert table_snapshot(migrated) == before
    assert store.stored_offsets(GROUP, TOPIC) == {0: 10}


def test_offsets_are_per_group_and_partition(store: PostgresStore) -> None:
    store.write_batch(BatchWrite("a", [PartitionAdvance(TOPIC, 0, 0, 3), PartitionAdvance(TOPIC, 2, 7, 9)]))
    store.write_batch(BatchWrite("b", [PartitionAdvance(TOPIC, 0, 100, 101)]))
    assert store.stored_offsets("a", TOPIC) == {0: 3, 2: 9}
    assert store.stored_offsets("b", TOPIC) == {0: 101}
    assert store.stored_offsets("a", "other") == {}


def test_concurrent_writers_for_one_partition_exactly_one_wins(store: PostgresStore, migrated: str) -> None:
    store.write_batch(BatchWrite(GROUP, [PartitionAdvance(TOPIC, 0, 0, 10)]))
    settings = PostgresSettings(dsn=SecretStr(migrated), connect_timeout_seconds=5)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def writer(name: str, end: int) -> None:
        with PostgresStore(settings, write_method=store.write_method) as own:
            own.ping()
            barrier.wait()
            try:
                own.write_batch(
                    BatchWrite(GROUP, [PartitionAdvance(TOPIC, 0, 10, end)], rows=[make_write(f"w-{name}")])
                )
                outcomes[name] = "won"
            except FencedError:
                outcomes[name] = "fenced"

    threads = [threading.Thread(target=writer, args=(n, e)) for n, e in (("a", 20), ("b", 30))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes.values()) == ["fenced", "won"]
    winner = next(n for n, o in outcomes.items() if o == "won")
    assert store.stored_offsets(GROUP, TOPIC) == {0: {"a": 20, "b": 30}[winner]}
    assert set(store.conversation_rows(["w-a", "w-b"])) == {f"w-{winner}"}


def test_reset_offset_rewinds_only_from_the_expected_value(store: PostgresStore) -> None:
    store.write_batch(
        BatchWrite(GROUP, [PartitionAdvance(TOPIC, 0, 0, 500), PartitionAdvance(TOPIC, 1, 0, 700)])
    )
    store.write_batch(BatchWrite("other", [PartitionAdvance(TOPIC, 0, 0, 500)]))
    assert store.reset_offset(GROUP, TOPIC, 0, expected=500, offset=3)
    assert store.stored_offsets(GROUP, TOPIC) == {0: 3, 1: 700}
    assert store.stored_offsets("other", TOPIC) == {0: 500}
    # A concurrent rewinder that read 500 before our rewind loses and overwrites nothing.
    assert not store.reset_offset(GROUP, TOPIC, 0, expected=500, offset=0)
    assert store.stored_offsets(GROUP, TOPIC) == {0: 3, 1: 700}
    # Without a row there is nothing to rewind, and none is created.
    assert not store.reset_offset(GROUP, TOPIC, 5, expected=9, offset=0)
    assert store.stored_offsets(GROUP, TOPIC) == {0: 3, 1: 700}
    # The batch fence follows the rewound offset: a zombie batch from the old offset fails.
    with pytest.raises(FencedError):
        store.write_batch(BatchWrite(GROUP, [PartitionAdvance(TOPIC, 0, 500, 510)], rows=[make_write("z")]))
    store.write_batch(BatchWrite(GROUP, [PartitionAdvance(TOPIC, 0, 3, 8)], rows=[make_write("c1")]))
    assert store.stored_offsets(GROUP, TOPIC) == {0: 8, 1: 700}
    assert set(store.conversation_rows(["z", "c1"])) == {"c1"}


def test_error_marks_update_known_rows_and_create_minimal_ones(store: PostgresStore) -> None:
    offsets = Offsets()
    store.write_batch(BatchWrite(GROUP, [offsets.advance()], rows=[make_write("c1")]))
    result = store.write_batch(
        BatchWrite(
            GROUP,
            [offsets.advance()],
            errors=[ErrorMark("c1", "bad record", T0 + 50), ErrorMark("new", "undecodable", T0 + 60)],
        )
    )
    assert result.errors_marked == 2
    rows = store.conversation_rows(["c1", "new"])
    assert (rows["c1"]["error_message"], rows["c1"]["error_at"]) == ("bad record", ts(T0 + 50))
    assert rows["c1"]["calculated_status"] == "waiting_in_queue"
    assert rows["new"]["state"] is None
    assert rows["new"]["calculated_status"] is None
    assert store.load_states(["new"]) == {}

    # A later good row without an error keeps the stored error; an older mark does not replace a newer one.
    store.write_batch(
        BatchWrite(
            GROUP,
            [offsets.advance()],
            rows=[make_write("new"), make_write("c1", calculated_status="connected")],
            errors=[ErrorMark("c1", "older", T0)],
        )
    )
    rows = store.conversation_rows(["c1", "new"])
    assert rows["c1"]["calculated_status"] == "connected"
    assert rows["c1"]["error_message"] == "bad record"
    assert rows["new"]["calculated_status"] == "waiting_in_queue"
    assert rows["new"]["error_message"] == "undecodable"


def test_queue_upsert_refreshes_rows_showing_the_directory_name(store: PostgresStore) -> None:
    assert store.upsert_queues([QueueInfo("q1", "Sales", "d1"), QueueInfo("q2", "Support")]) == 2
    assert store.queue_names(["q1", "q2", "q3"]) == {"q1": "Sales", "q2": "Support"}
    offsets = Offsets()
    store.write_batch(
        BatchWrite(
            GROUP,
            [offsets.advance()],
            rows=[
                make_write("dir", last_queue_name=None),  # no event name: the directory's, in SQL
                make_write("none", last_queue_id="q9", last_queue_name=None),  # no directory entry yet
                make_write("evt", last_queue_name="Sales (event)"),  # the event carried its own name
                make_write("same", last_queue_name="Sales"),  # an event name equal to the directory's
                make_write("other", last_queue_id="q2", last_queue_name=None),
            ],
        )
    )
    before = store.conversation_rows(["dir", "none", "evt", "same", "other"])
    assert before["dir"]["last_queue_name"] == "Sales"
    assert before["dir"]["last_queue_name_from_event"] is False
    assert before["none"]["last_queue_name"] is None
    assert before["evt"]["last_queue_name_from_event"] is True
    assert before["other"]["last_queue_name"] == "Support"

    assert store.upsert_queues([QueueInfo("q1", "Sales", "d1"), QueueInfo("q2", "Support")]) == 0
    assert store.upsert_queues([QueueInfo("q1", "Sales EMEA", "d1"), QueueInfo("q9", "Late")]) == 2
    after = store.conversation_rows(["dir", "none", "evt", "same", "other"])
    assert after["dir"]["last_queue_name"] == "Sales EMEA"
    assert after["none"]["last_queue_name"] == "Late"
    assert after["evt"]["last_queue_name"] == "Sales (event)"
    assert after["same"]["last_queue_name"] == "Sales"  # the event's name wins, even when equal
    assert after["other"] == before["other"]
    assert after["dir"]["db_last_updated"] > before["dir"]["db_last_updated"]
    assert after["dir"]["state"] == before["dir"]["state"]
    assert after["evt"]["db_last_updated"] == before["evt"]["db_last_updated"]


def test_read_only_database_is_transient(pg_database: str) -> None:
    migrate(pg_database)
    dbname = pg_database.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = on')
    settings = PostgresSettings(dsn=SecretStr(pg_database), connect_timeout_seconds=5)
    with PostgresStore(settings) as ro, pytest.raises(StoreUnavailableError) as info:
        ro.write_batch(BatchWrite(GROUP, [PartitionAdvance(TOPIC, 0, 0, 1)], rows=[make_write("c1")]))
    assert info.value.sqlstate == "25006"


def test_closed_port_is_transient() -> None:
    settings = PostgresSettings(
        dsn=SecretStr("postgresql://postgres@127.0.0.1:1/x"), connect_timeout_seconds=1
    )
    with PostgresStore(settings) as down, pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1"):
        down.stored_offsets(GROUP, TOPIC)


def test_unknown_database_is_reported_clearly(postgres_dsn: str) -> None:
    base = postgres_dsn.rsplit("/", 1)[0]
    settings = PostgresSettings(dsn=SecretStr(f"{base}/convstream_no_such_db"), connect_timeout_seconds=1)
    # libpq reports start-up failures without a SQLSTATE, so this is classified like any failed connect,
    # but the message names the cause.
    with PostgresStore(settings) as bad, pytest.raises(StoreUnavailableError, match="convstream_no_such_db"):
        bad.ping()


def test_sql_errors_are_permanent(pg_database: str) -> None:
    # No migration: the tables do not exist (42P01 undefined_table).
    settings = PostgresSettings(dsn=SecretStr(pg_database), connect_timeout_seconds=5)
    with PostgresStore(settings) as bare, pytest.raises(StoreError) as info:
        bare.stored_offsets(GROUP, TOPIC)
    assert info.value.sqlstate == "42P01"


def test_count_by(store: PostgresStore) -> None:
    store.write_batch(
        BatchWrite(
            GROUP,
            [Offsets().advance()],
            rows=[make_write("a"), make_write("b"), make_write("c", calculated_status="ended")],
            errors=[ErrorMark("d", "x", T0)],
        )
    )
    assert store.count_by("calculated_status") == [("waiting_in_queue", 2), ("ended", 1), (None, 1)]
    with pytest.raises(ValueError, match="cannot count by"):
        store.count_by("conversation_id")
