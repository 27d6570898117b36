"""Chaos harness: run length, the audit that detects duplicated effects, the fault proxy, the results table.

Run length: ``CONVSTREAM_CHAOS=bounded`` (default; inside ``make test``, small N and few faults) or
``full`` (``make chaos``: the issue's numbers). :func:`pick` chooses between the two.

What a scenario reports (one :class:`Result` per scenario, printed as a table at the end of the session):

- *faults*: fault injections (one SIGKILL, one restart, one outage window … each counts 1).
- *events*: records produced on the events and queues topics (their end offsets).
- *lost*: truth rows missing from or different in Postgres (``status_changed_at`` ignored under
  disorder), plus records skipped by the offset chain (a gap between consecutive committed advances).
- *duplicated effects*: committed effects of a record range applied more than once. The audit triggers
  (:func:`install_audit`) log, inside the writer's own transaction, every committed ``consumer_offset``
  advance (old -> new next offset) and every written ``conversation`` row with its transaction id.
  Rolled-back transactions leave no log line, so the log is exactly the committed effects. Counted:
  (a) advances whose old offset is below the previous committed advance's new offset (a range applied
  twice: a stale batch of a fenced zombie that got through), and (b) ``conversation`` writes in a
  transaction that advanced no offset (an effect tied to no batch). Re-folding the same events is
  idempotent, so rows alone cannot reveal a double application; the offset chain can.
- *DLQ*: records on the dead-letter topic.
- *recovery*: seconds from the end of the last fault to lag 0 over both topics (Postgres offsets equal
  the end offsets).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from tests.fixtures.e2e import DISORDER_IGNORED, E2EStack, Proc
from tests.fixtures.services import wait_until

__all__ = [
    "MODE",
    "RESULTS",
    "Audit",
    "FaultProxy",
    "Result",
    "audit_counts",
    "compare_truth",
    "devstack",
    "devstack_pid",
    "finish",
    "install_audit",
    "pick",
    "pid_gone",
    "recover",
    "require_devstack",
    "supervise",
]

MODE = os.environ.get("CONVSTREAM_CHAOS", "bounded").strip().lower() or "bounded"
if MODE not in ("bounded", "full"):
    raise RuntimeError(f"CONVSTREAM_CHAOS must be 'bounded' or 'full', not {MODE!r}")

T = TypeVar("T")


def pick(bounded: T, full: T) -> T:
    """The bounded value inside ``make test``, the full one under ``make chaos``."""
    return full if MODE == "full" else bounded


@dataclass
class Result:
    """One row of the chaos table."""

    scenario: str
    faults: int = 0
    events: int = 0
    lost: int | None = None
    duplicated: int | None = None
    dlq: int | None = None
    recovery_s: float | None = None
    notes: list[str] = field(default_factory=list)

    def cells(self) -> list[str]:
        def show(v: object) -> str:
            if v is None:
                return "-"
            return f"{v:.1f}s" if isinstance(v, float) else str(v)

        return [
            self.scenario,
            str(self.faults),
            str(self.events),
            show(self.lost),
            show(self.duplicated),
            show(self.dlq),
            show(self.recovery_s),
            "; ".join(self.notes),
        ]


#: Every scenario's result in this session, in run order (printed by ``tests/chaos/conftest.py``).
RESULTS: list[Result] = []

HEADERS = ["scenario", "faults", "events", "lost", "dup effects", "DLQ", "recovery", "notes"]


def table(results: Sequence[Result]) -> list[str]:
    rows = [HEADERS, *(r.cells() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS) - 1)]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
        if n == 0:
            out.append("  ".join("-" * w for w in widths) + "  -----")
    return out


# -- audit --------------------------------------------------------------------------------------------

AUDIT_SQL = """
CREATE TABLE chaos_offset_log (
    id bigserial PRIMARY KEY, txid bigint NOT NULL, group_id text NOT NULL, topic text NOT NULL,
    partition integer NOT NULL, old_offset bigint, new_offset bigint NOT NULL);
CREATE TABLE chaos_row_log (id bigserial PRIMARY KEY, txid bigint NOT NULL, conversation_id text NOT NULL);
CREATE FUNCTION chaos_log_offset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chaos_offset_log (txid, group_id, topic, partition, old_offset, new_offset)
  VALUES (txid_current(), NEW.group_id, NEW.topic, NEW.partition,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.next_offset END, NEW.next_offset);
  RETURN NULL;
END $$;
CREATE FUNCTION chaos_log_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chaos_row_log (txid, conversation_id) VALUES (txid_current(), NEW.conversation_id);
  RETURN NULL;
END $$;
CREATE TRIGGER chaos_offset_audit AFTER INSERT OR UPDATE ON consumer_offset
  FOR EACH ROW EXECUTE FUNCTION chaos_log_offset();
CREATE TRIGGER chaos_row_audit AFTER INSERT OR UPDATE ON conversation
  FOR EACH ROW EXECUTE FUNCTION chaos_log_row();
"""


@dataclass(frozen=True)
class Audit:
    """What the audit log says about the committed effects."""

    advances: int
    duplicated_ranges: int
    skipped_records: int
    unbatched_writes: int

    @property
    def duplicated(self) -> int:
        return self.duplicated_ranges + self.unbatched_writes


def install_audit(e2e: E2EStack) -> None:
    """Create the audit tables and triggers in the test database (after ``convstream migrate``)."""
    with e2e.connect() as conn:
        conn.execute(AUDIT_SQL)


def audit_counts(e2e: E2EStack) -> Audit:
    """Walk each partition's chain of committed advances (in commit order) and count the anomalies.

    The fence (``UPDATE … WHERE next_offset = start``) makes a committed advance start where the previous
    one ended; a stale batch that got through anyway shows as an advance that does not move forward
    (``new <= old``) while writing rows, or as a chain that does not start where the previous ended.
    """
    with e2e.connect() as conn:
        advances = conn.execute(
            "SELECT o.txid, o.topic, o.partition, o.old_offset, o.new_offset, "
            "EXISTS (SELECT 1 FROM chaos_row_log r WHERE r.txid = o.txid) "
            "FROM chaos_offset_log o WHERE o.group_id = %s ORDER BY o.id",
            (e2e.group,),
        ).fetchall()
        unbatched = conn.execute(
            "SELECT count(*) FROM chaos_row_log r WHERE NOT EXISTS "
            "(SELECT 1 FROM chaos_offset_log o WHERE o.txid = r.txid)"
        ).fetchone()
    duplicated = skipped = 0
    head: dict[tuple[str, int], int] = {}
    moved: dict[int, bool] = {}  # txid -> did any of its advances move forward
    for txid, topic, partition, old, new, wrote in advances:
        key = (topic, partition)
        previous = head.get(key, 0)
        start = previous if old is None else int(old)
        if start > previous:  # records between previous and start were never committed by anyone
            skipped += start - previous
        if start < previous or int(new) < start:  # the chain went back: offsets committed again
            duplicated += 1
        if wrote:
            moved[txid] = moved.get(txid, False) or int(new) > start
        head[key] = int(new)
    # A transaction that wrote rows while none of its partitions moved forward re-applied old records.
    duplicated += sum(1 for forward in moved.values() if not forward)
    return Audit(len(advances), duplicated, skipped, int(unbatched[0]) if unbatched else 0)


def compare_truth(
    rows: Sequence[Mapping[str, Any]],
    truth: Sequence[Mapping[str, Any]],
    ignore: Sequence[str] = DISORDER_IGNORED,
    allowed_extra: frozenset[str] = frozenset(),
) -> tuple[int, list[str]]:
    """(truth rows missing or different, readable details); rows outside the truth count too unless
    allowed."""
    skip = set(ignore)
    have = {r["conversation_id"]: {k: v for k, v in r.items() if k not in skip} for r in rows}
    want = {r["conversation_id"]: {k: v for k, v in r.items() if k not in skip} for r in truth}
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want) - allowed_extra)
    differing = [c for c in sorted(set(want) & set(have)) if have[c] != want[c]]
    details = [f"missing {c}" for c in missing[:5]] + [f"unexpected {c!r}" for c in extra[:5]]
    for c in differing[:5]:
        diff = {k: (have[c].get(k), want[c].get(k)) for k in want[c] if have[c].get(k) != want[c].get(k)}
        details.append(f"{c}: (db, truth) {diff}")
    return len(missing) + len(differing) + len(extra), details


def finish(
    e2e: E2EStack,
    result: Result,
    truth: Sequence[Mapping[str, Any]],
    *,
    ignore: Sequence[str] = DISORDER_IGNORED,
    allowed_extra: frozenset[str] = frozenset(),
    expected_dlq: int = 0,
) -> None:
    """Fill in the end-of-scenario columns, record the result, then assert: nothing lost, nothing doubled,
    offsets at the end, the DLQ as expected."""
    lost, details = compare_truth(e2e.rows(), truth, ignore, allowed_extra)
    audit = audit_counts(e2e)
    result.lost = lost + audit.skipped_records
    result.duplicated = audit.duplicated
    result.dlq = e2e.dlq_records()
    result.events = sum(e2e.end_offsets().values()) + sum(e2e.end_offsets(e2e.queues).values())
    result.notes.append(f"{audit.advances} commits")
    RESULTS.append(result)
    assert result.lost == 0, f"{result.scenario}: {result.lost} lost\n" + "\n".join(details)
    assert audit.duplicated == 0, f"{result.scenario}: duplicated effects {audit}"
    e2e.assert_offsets_at_end()
    assert result.dlq == expected_dlq, f"{result.scenario}: DLQ {result.dlq} != {expected_dlq}"


def recover(e2e: E2EStack, procs: Sequence[Proc], timeout: float, fault_end: float | None = None) -> float:
    """Wait for lag 0 (restarting wedged consumers, see :func:`supervise`); seconds since ``fault_end``."""
    start = time.monotonic() if fault_end is None else fault_end
    e2e.wait_caught_up(timeout, procs)
    return time.monotonic() - start


def supervise(e2e: E2EStack, procs: list[Proc], restart: Any, timeout: float, notes: list[str]) -> float:
    """Like :func:`recover`, but a consumer that exits on its own with 5 (wedged, SPEC §6.4: Kubernetes
    restarts it) is restarted, as the pod would be, and noted. Any other exit fails the test."""
    started = time.monotonic()

    def done() -> bool:
        for i, proc in enumerate(procs):
            if not proc.alive():
                rc = proc.popen.poll()
                if rc != 5:
                    pytest.fail(f"{proc.name} exited {rc}\n{proc.tail()}", pytrace=False)
                notes.append(f"{proc.name} exited 5 (wedged), restarted")
                procs[i] = restart(i)
        return e2e.lag() == 0

    wait_until(done, timeout=timeout, interval=0.5, what="lag 0")
    return time.monotonic() - started


# -- fault proxy ---------------------------------------------------------------------------------------


class FaultProxy:
    """A TCP proxy on 127.0.0.1 (own event loop in a thread) with modes:

    - ``pass``: forward both ways;
    - ``drop``: close every open connection, and close new ones at once (connection reset/refused-like);
    - ``blackhole``: accept, never forward (bytes are held, sockets stay open: the peer sees silence);
    - ``delay``: forward every chunk after ``delay_seconds``.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "pass"
        self.delay_seconds = 0.0
        self.port = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def set(self, mode: str, delay_seconds: float = 0.0) -> None:
        self.delay_seconds = delay_seconds
        self.mode = mode
        if mode == "drop":
            self._loop.call_soon_threadsafe(self._close_all)

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        with contextlib.suppress(Exception):
            self._loop.run_forever()
        server.close()
        self._close_all()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        with contextlib.suppress(Exception):
            self._loop.run_until_complete(asyncio.sleep(0.1))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "drop":
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                while self.mode == "blackhole":
                    await asyncio.sleep(0.05)
                if self.mode == "delay":
                    await asyncio.sleep(self.delay_seconds)
                if self.mode == "drop" or writer.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@contextlib.contextmanager
def window(result: Result) -> Iterator[None]:
    """Count one fault for the block."""
    result.faults += 1
    yield


# -- devstack services ---------------------------------------------------------------------------------


def devstack(action: str, service: str) -> None:
    """``scripts/devstack ACTION SERVICE``; fails the test (with its output) on a non-zero exit."""
    import subprocess

    from tests.fixtures.services import DEVSTACK, ROOT

    proc = subprocess.run(
        [str(DEVSTACK), action, service], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"scripts/devstack {action} {service} exited {proc.returncode}:\n{proc.stderr}\n{proc.stdout}",
            pytrace=False,
        )


def require_devstack(e2e: E2EStack, *services: str) -> None:
    for service in services:
        if e2e.sources.get(service) != "devstack":
            pytest.skip(
                f"{service} is not the local devstack ({e2e.sources.get(service)}): not disturbing it"
            )


def devstack_pid(service: str) -> int:
    """The pid in ``.devstack/<service>/<service>.pid``, checked to belong to this devstack."""
    from pathlib import Path

    from tests.fixtures.services import ROOT

    state = ROOT / ".devstack" / service
    pid = int((state / f"{service}.pid").read_text().strip())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    assert str(state) in cmdline, f"pid {pid} is not the devstack {service}: {cmdline[:200]}"
    return pid


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with contextlib.suppress(OSError):
        return _zombie(pid)
    return False


def _zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"
