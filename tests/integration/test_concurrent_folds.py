"""Two writers folding one conversation at once against a real PostgreSQL: no update is ever lost.

One conversation's records may sit in several partitions (null keys, another partitioner, more
partitions), so two consumers may load the same stored state and fold different records into it. The
write transaction locks the batch's conversations and compares each row's version with the one loaded:
the later writer is refused (:class:`ConcurrentFoldError`, nothing written, its offsets not moved) and
folds again from the fresh state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping

import psycopg
import pytest
from pydantic import SecretStr

from consumer.adapters.postgres.sql import CONVERSATION_LOCK_CLASS
from consumer.adapters.postgres.store import PostgresStore
from consumer.errors import ConcurrentFoldError
from consumer.ops.migrate import migrate
from consumer.ports import BatchWrite, ErrorMark, PartitionAdvance
from consumer.settings import PostgresSettings
from tests.integration.test_postgres_store import make_write

pytestmark = pytest.mark.integration

GROUP = "g-race"
TOPIC = "events"


@pytest.fixture
def dsn(pg_database: str) -> str:
    migrate(pg_database)
    return pg_database


@pytest.fixture
def stores(dsn: str) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    settings = PostgresSettings(dsn=SecretStr(dsn), connect_timeout_seconds=5)
    with PostgresStore(settings) as a, PostgresStore(settings, write_method="executemany") as b:
        yield a, b


def _batch(partition: int, start: int, status: str, versions: Mapping[str, int | None]) -> BatchWrite:
    advance = PartitionAdvance(TOPIC, partition, start, start + 1)
    return BatchWrite(GROUP, [advance], rows=[make_write("c1", calculated_status=status)], versions=versions)


def test_the_second_writer_of_a_new_conversation_is_refused_and_wins_on_a_fresh_load(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = stores
    seen_a, seen_b = a.load_states_versioned(["c1"]), b.load_states_versioned(["c1"])
    assert seen_a.versions == seen_b.versions == {}
    a.write_batch(_batch(0, 0, "alerting", {"c1": seen_a.versions.get("c1")}))
    with pytest.raises(ConcurrentFoldError):
        b.write_batch(_batch(1, 0, "ended", {"c1": seen_b.versions.get("c1")}))
    assert a.conversation_rows(["c1"])["c1"]["calculated_status"] == "alerting"
    assert b.stored_offsets(GROUP, TOPIC) == {0: 1}  # the refused batch moved no offset
    fresh = b.load_states_versioned(["c1"])
    assert set(fresh.versions) == {"c1"}
    b.write_batch(_batch(1, 0, "ended", dict(fresh.versions)))
    assert a.conversation_rows(["c1"])["c1"]["calculated_status"] == "ended"
    assert a.stored_offsets(GROUP, TOPIC) == {0: 1, 1: 1}


def test_an_update_since_the_load_refuses_the_stale_fold(stores: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = stores
    a.write_batch(_batch(0, 0, "alerting", {"c1": None}))
    loaded = dict(a.load_states_versioned(["c1"]).versions)
    b.write_batch(_batch(1, 0, "connected", dict(loaded)))  # another consumer folds c1 first
    with pytest.raises(ConcurrentFoldError):
        a.write_batch(_batch(0, 1, "wrap_up", loaded))
    assert a.conversation_rows(["c1"])["c1"]["calculated_status"] == "connected"
    # An error mark on the row counts as a change too: the state must be loaded again.
    b.write_batch(BatchWrite(GROUP, [], errors=[ErrorMark("c1", "x", 1)]))
    with pytest.raises(ConcurrentFoldError):
        a.write_batch(_batch(0, 1, "wrap_up", dict(a.load_states_versioned(["c1"]).versions) | {"c1": 0}))
    current = dict(a.load_states_versioned(["c1"]).versions)
    a.write_batch(_batch(0, 1, "wrap_up", current))
    assert a.conversation_rows(["c1"])["c1"]["calculated_status"] == "wrap_up"


def test_the_check_waits_for_a_writer_still_in_its_transaction(
    dsn: str, stores: tuple[PostgresStore, PostgresStore]
) -> None:
    """Deterministic interleaving: writer 1 holds the conversation's lock and has updated the row but not
    committed when writer 2 checks. Writer 2 must wait and then see the change (a check outside the lock
    would pass on the old version and overwrite writer 1's fold)."""
    a, _ = stores
    a.write_batch(_batch(0, 0, "alerting", {"c1": None}))
    loaded = dict(a.load_states_versioned(["c1"]).versions)
    outcome: list[BaseException | None] = []
    with psycopg.connect(dsn) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s, hashtext('c1'))", (CONVERSATION_LOCK_CLASS,))
        other.execute("UPDATE conversation SET calculated_status = 'connected' WHERE conversation_id = 'c1'")

        def write() -> None:
            try:
                a.write_batch(_batch(0, 1, "wrap_up", loaded))
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(1.0)
        assert writer.is_alive(), "the second writer did not wait for the lock"
        assert not outcome
        other.commit()
        writer.join(timeout=30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], ConcurrentFoldError), outcome
    assert a.conversation_rows(["c1"])["c1"]["calculated_status"] == "connected"
    assert a.stored_offsets(GROUP, TOPIC) == {0: 1}


def test_an_error_mark_is_stored_capped(stores: tuple[PostgresStore, PostgresStore]) -> None:
    a, _ = stores
    a.write_batch(BatchWrite(GROUP, [], errors=[ErrorMark("c9", "PayloadDecodeError: " + "x" * 42_452, 1)]))
    stored = a.conversation_rows(["c9"])["c9"]["error_message"]
    assert len(stored.encode()) <= 1024
    assert stored.startswith("PayloadDecodeError: xxx")
