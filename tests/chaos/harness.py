"""Chaos harness: run length, the audit that detects duplicated effects, devstack faults, the results table.

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
  Not counted, but noted: a partition slice advanced ``X -> X`` inside a transaction that moved another
  partition forward. That is a batch which carried records below the committed offset (redelivered after
  a pause/seek) and folded them again; the fold is idempotent and only changed rows are written, so the
  effect is nil -- reported as "re-folded" in the notes.
- *DLQ*: records on the dead-letter topic.
- *recovery*: seconds from the end of the last fault to lag 0 over both topics (Postgres offsets equal
  the end offsets).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from tests.fixtures.e2e import DISORDER_IGNORED, E2EStack, Proc

__all__ = [
    "MODE",
    "RESULTS",
    "Audit",
    "Result",
    "audit_counts",
    "compare_truth",
    "devstack",
    "devstack_pid",
    "finish",
    "install_audit",
    "measure",
    "pick",
    "pid_gone",
    "recover",
    "require_devstack",
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
    examples: tuple[str, ...] = ()
    refolded: int = 0

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
    duplicated = skipped = refolded = 0
    head: dict[tuple[str, int], int] = {}
    moved: dict[int, bool] = {}  # txid -> did any of its advances move forward
    examples: list[str] = []
    refold_examples: list[str] = []
    seen: dict[int, list[str]] = {}
    for txid, topic, partition, old, new, wrote in advances:
        key = (topic, partition)
        previous = head.get(key, 0)
        start = previous if old is None else int(old)
        if start > previous:  # records between previous and start were never committed by anyone
            skipped += start - previous
        if start < previous or int(new) < start:  # the chain went back: offsets committed again
            duplicated += 1
            examples.append(f"tx {txid} {topic}[{partition}] {previous}: {old}->{new}")
        if wrote:
            moved[txid] = moved.get(txid, False) or int(new) > start
            if old is not None and int(new) == start:
                refolded += 1
                refold_examples.append(f"{topic.rsplit('.', 1)[-1]}[{partition}] {old}->{new} tx {txid}")
        seen.setdefault(txid, []).append(f"{topic.rsplit('.', 1)[-1]}[{partition}] {old}->{new}")
        head[key] = int(new)
    examples += [f"tx {t} wrote rows, advances {seen[t]}" for t, fwd in moved.items() if not fwd][:5]
    # A transaction that wrote rows while none of its partitions moved forward re-applied old records.
    duplicated += sum(1 for forward in moved.values() if not forward)
    return Audit(
        len(advances),
        duplicated,
        skipped,
        int(unbatched[0]) if unbatched else 0,
        tuple(examples[:8]),
        refolded,
    )


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


def measure(
    e2e: E2EStack,
    result: Result,
    truth: Sequence[Mapping[str, Any]],
    *,
    ignore: Sequence[str] = DISORDER_IGNORED,
    allowed_extra: frozenset[str] = frozenset(),
) -> tuple[Audit, list[str]]:
    """Fill in the end-of-scenario columns and record the result (before any assertion can fail)."""
    lost, details = compare_truth(e2e.rows(), truth, ignore, allowed_extra)
    audit = audit_counts(e2e)
    result.lost = lost + audit.skipped_records
    result.duplicated = audit.duplicated
    result.dlq = e2e.dlq_records()
    result.events = sum(e2e.end_offsets().values()) + sum(e2e.end_offsets(e2e.queues).values())
    result.notes.append(f"{audit.advances} advances")
    if audit.refolded:
        result.notes.append(f"{audit.refolded} re-folded already-committed partition slices (idempotent)")
    if os.environ.get("CONVSTREAM_CHAOS_DEBUG"):
        result.notes.append(f"audit {audit}")
    RESULTS.append(result)
    return audit, details


def finish(
    e2e: E2EStack,
    result: Result,
    truth: Sequence[Mapping[str, Any]],
    *,
    ignore: Sequence[str] = DISORDER_IGNORED,
    allowed_extra: frozenset[str] = frozenset(),
    expected_dlq: int = 0,
    measured: tuple[Audit, list[str]] | None = None,
) -> None:
    """Measure (unless done), then assert: nothing lost, nothing doubled, offsets at the end, the DLQ as
    expected."""
    audit, details = measured or measure(e2e, result, truth, ignore=ignore, allowed_extra=allowed_extra)
    assert result.lost == 0, f"{result.scenario}: {result.lost} lost\n" + "\n".join(details)
    assert audit.duplicated == 0, f"{result.scenario}: duplicated effects {audit}"
    e2e.assert_offsets_at_end()
    assert result.dlq == expected_dlq, f"{result.scenario}: DLQ {result.dlq} != {expected_dlq}"


def recover(e2e: E2EStack, procs: Sequence[Proc], timeout: float, fault_end: float | None = None) -> float:
    """Wait for lag 0 (failing if one of ``procs`` exits); seconds since ``fault_end`` (default: now)."""
    start = time.monotonic() if fault_end is None else fault_end
    e2e.wait_caught_up(timeout, procs)
    return time.monotonic() - start


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
