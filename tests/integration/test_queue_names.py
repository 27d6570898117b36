"""Queue names resolved in the write transaction: the directory/rows race, replayed deterministically.

Two writers race on queue ``q1``: a batch writing a row that references it (no name from an event), and
a queue-directory upsert that names it. Each test holds one transaction open at the critical point with a
third connection's row lock, starts the other side, waits until it is either blocked or done, then
lets the first one commit. Whatever the interleaving, the row must end up with the directory's name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from consumer.adapters.postgres.store import PostgresStore
from consumer.ops.migrate import migrate
from consumer.ports import BatchWrite, ErrorMark, PartitionAdvance, QueueInfo, WriteMethod
from consumer.settings import PostgresSettings
from tests.integration.test_postgres_store import GROUP, T0, TOPIC, make_write

pytestmark = pytest.mark.integration


@pytest.fixture(params=["copy", "executemany"])
def race(request: pytest.FixtureRequest, pg_database: str) -> Iterator[tuple[PostgresStore, str]]:
    migrate(pg_database)
    method: WriteMethod = request.param
    settings = PostgresSettings(dsn=SecretStr(pg_database), connect_timeout_seconds=5, pool_max_size=4)
    with PostgresStore(settings, write_method=method) as store:
        yield store, pg_database


class Side(threading.Thread):
    """Runs one store call in a thread, keeping its exception."""

    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self._call = call
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._call()
        except BaseException as exc:  # re-raised by the test
            self.error = exc

    def finish(self) -> None:
        self.join(60)
        assert not self.is_alive(), "store call did not finish"
        if self.error is not None:
            raise self.error


def lock_waiters(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll a condition (a synchronisation point, not a timing assertion)."""
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def hold_row(dsn: str, conversation_id: str) -> psycopg.Connection[Any]:
    """A connection holding a row lock on this conversation (released by ``rollback``)."""
    conn = psycopg.connect(dsn)
    conn.execute("SELECT 1 FROM conversation WHERE conversation_id = %s FOR UPDATE", (conversation_id,))
    return conn


def test_directory_upsert_while_rows_referencing_the_queue_are_uncommitted(
    race: tuple[PostgresStore, str],
) -> None:
    store, dsn = race
    store.write_batch(
        BatchWrite(GROUP, [PartitionAdvance(TOPIC, 1, 0, 1)], errors=[ErrorMark("blocker", "x", T0)])
    )
    blocker = hold_row(dsn, "blocker")
    # The batch writes its row (q1 unknown: no name yet), then waits on the blocker in its error marks,
    # its transaction still open.
    batch = BatchWrite(
        GROUP,
        [PartitionAdvance(TOPIC, 0, 0, 5)],
        rows=[make_write("c1", last_queue_id="q1", last_queue_name=None)],
        errors=[ErrorMark("blocker", "y", T0 + 1)],
    )
    writer = Side(lambda: store.write_batch(batch))
    writer.start()
    wait_until(lambda: lock_waiters(dsn) == 1, "the batch waits on the blocker")
    # Another consumer (owning the queues topic) names q1 meanwhile.
    directory = Side(lambda: store.upsert_queues([QueueInfo("q1", "Sales")]))
    directory.start()
    wait_until(lambda: not directory.is_alive() or lock_waiters(dsn) == 2, "the upsert is done or blocked")
    blocker.rollback()
    blocker.close()
    writer.finish()
    directory.finish()

    row = store.conversation_rows(["c1"])["c1"]
    assert (row["last_queue_name"], row["last_queue_name_from_event"]) == ("Sales", False)


def test_rows_written_while_the_directory_upsert_is_uncommitted(race: tuple[PostgresStore, str]) -> None:
    store, dsn = race
    offsets = [PartitionAdvance(TOPIC, 0, 0, 5), PartitionAdvance(TOPIC, 0, 5, 9)]
    store.write_batch(BatchWrite(GROUP, offsets[:1], rows=[make_write("old", last_queue_id="q1")]))
    blocker = hold_row(dsn, "old")
    # The directory upsert names q1, then waits on the blocker while refreshing q1's rows, uncommitted.
    directory = Side(lambda: store.upsert_queues([QueueInfo("q1", "Sales")]))
    directory.start()
    wait_until(lambda: lock_waiters(dsn) == 1, "the upsert waits on the blocker")
    # A batch writes a new row referencing q1 meanwhile.
    batch = BatchWrite(GROUP, offsets[1:], rows=[make_write("new", last_queue_id="q1", last_queue_name=None)])
    writer = Side(lambda: store.write_batch(batch))
    writer.start()
    wait_until(lambda: not writer.is_alive() or lock_waiters(dsn) == 2, "the batch is done or blocked")
    blocker.rollback()
    blocker.close()
    directory.finish()
    writer.finish()

    rows = store.conversation_rows(["old", "new"])
    assert rows["old"]["last_queue_name"] == "Sales"
    assert rows["new"]["last_queue_name"] == "Sales"


def test_queue_entries_commit_with_the_batch(race: tuple[PostgresStore, str]) -> None:
    store, _ = race
    store.write_batch(
        BatchWrite(
            GROUP,
            [PartitionAdvance(TOPIC, 0, 0, 3)],
            rows=[
                make_write("dir", last_queue_id="q1", last_queue_name=None),
                make_write("evt", last_queue_id="q1", last_queue_name="Sales (event)"),
            ],
            queues=[QueueInfo("q1", "Sales")],
        )
    )
    assert store.queue_names(["q1"]) == {"q1": "Sales"}
    rows = store.conversation_rows(["dir", "evt"])
    assert rows["dir"]["last_queue_name"] == "Sales"
    assert rows["evt"]["last_queue_name"] == "Sales (event)"
    # Same content again: nothing is rewritten.
    again = store.write_batch(
        BatchWrite(
            GROUP,
            [PartitionAdvance(TOPIC, 0, 3, 4)],
            rows=[make_write("dir", last_queue_id="q1", last_queue_name=None)],
            queues=[QueueInfo("q1", "Sales")],
        )
    )
    assert again.unchanged == 1
