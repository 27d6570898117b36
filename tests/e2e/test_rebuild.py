"""``convstream rebuild`` end to end (docs/reprocessing.md): shadow table, atomic swap under load, rollback.

While the bridge keeps producing and a live consumer keeps consuming, ``convstream rebuild --keep-old``
builds the shadow, compares samples and swaps; a reader thread counting ``conversation`` rows in a loop
never sees an error, a missing table or fewer rows than before. Afterwards the table equals the
simulator's truth; ``--rollback`` puts the previous table back and the live consumer catches it up.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psycopg
import pytest

from tests.fixtures.e2e import DISORDER_IGNORED, E2EStack, assert_rows_match, split_jsonl

pytestmark = pytest.mark.e2e


@dataclass
class _Reader:
    """Counts ``conversation`` rows in a loop on its own connection; records every count and error."""

    dsn: str
    counts: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        conn = psycopg.connect(self.dsn, autocommit=True)
        try:
            while not self.stop.is_set():
                try:
                    row = conn.execute("SELECT count(*) FROM conversation").fetchone()
                    self.counts.append(int(row[0]) if row else -1)
                except psycopg.Error as exc:
                    self.errors.append(repr(exc))
                    conn.close()
                    conn = psycopg.connect(self.dsn, autocommit=True)
                time.sleep(0.005)
        finally:
            conn.close()


def _tables(e2e: E2EStack, pattern: str) -> list[str]:
    with e2e.connect() as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE %s", (pattern,)).fetchall()
    return sorted(str(r[0]) for r in rows)


def test_rebuild_under_load_swaps_atomically_and_rolls_back(e2e: E2EStack) -> None:
    sim = e2e.simulate(conversations=500, seed=21)
    chunks = split_jsonl(sim.out, 10)
    consumer = e2e.consumer()
    e2e.wait_assigned([consumer])
    e2e.bridge(chunks[0], queues=sim.queues)
    e2e.wait_caught_up(120, [consumer])

    feeder_errors: list[BaseException] = []
    rebuilt = threading.Event()

    def feed() -> None:  # until the rebuild is over, so the swap happens under load (duplicates are harmless)
        try:
            fed = 0
            while fed < len(chunks) - 2 or not rebuilt.is_set():
                e2e.bridge(chunks[1 + fed % (len(chunks) - 2)])
                fed += 1
                time.sleep(0.3)
        except BaseException as exc:
            feeder_errors.append(exc)

    reader = _Reader(e2e.dsn)
    threads = [threading.Thread(target=feed), threading.Thread(target=reader.run)]
    for t in threads:
        t.start()
    try:
        done = e2e.run("rebuild", "--keep-old", "--compare", "20", timeout=180)
    finally:
        rebuilt.set()
        threads[0].join(timeout=180)
        e2e.bridge(chunks[-1])  # new conversations after the swap: the live consumer writes the new table
        e2e.wait_caught_up(120, [consumer])
        reader.stop.set()
        threads[1].join(timeout=30)
    assert not feeder_errors, feeder_errors
    assert "compared 20 sampled rows" in done.stdout, done.stdout
    assert "swapped:" in done.stdout, done.stdout + done.stderr
    assert reader.errors == []
    handed_over = consumer.logged("batch fenced: another consumer owns a partition") + consumer.logged(
        "sought to the replayed offsets"
    )
    assert handed_over > 0, consumer.tail()
    assert reader.counts, "the reader never ran"
    drops = [(a, b) for a, b in zip(reader.counts, reader.counts[1:], strict=False) if b < a]
    assert drops == [], f"row count went down during the rebuild: {drops[:5]}"

    assert_rows_match(e2e.rows(), sim.truth, ignore=DISORDER_IGNORED)
    e2e.assert_offsets_at_end()
    retired = _tables(e2e, "conversation_old_%")
    assert len(retired) == 1
    assert _tables(e2e, "conversation_rebuild_%") == []
    with e2e.connect() as conn:  # indexes follow the names
        idx = {
            r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'conversation'")
        }
    assert {"conversation_pkey", "conversation_status_queue_idx", "conversation_db_last_updated_idx"} <= idx

    back = e2e.run("rebuild", "--rollback")
    assert f"rolled back: {retired[0]} is conversation again" in back.stdout
    assert _tables(e2e, "conversation_old_%") == []
    assert len(_tables(e2e, "conversation_rolledback_%")) == 1
    e2e.wait_caught_up(120, [consumer])  # the old table's offsets were handed back: it catches up
    assert_rows_match(e2e.rows(), sim.truth, ignore=DISORDER_IGNORED)
    assert consumer.alive()
    assert consumer.terminate() == 0, consumer.tail()
