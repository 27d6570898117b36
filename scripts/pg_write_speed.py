#!/usr/bin/env python3
"""Compare PostgresStore write methods: binary COPY -> temp table -> upsert vs pipelined executemany.

For each method, in a fresh database of its own (created and dropped here), it runs three phases of
``--batches`` batches of ``--rows`` rows with a ~``--state-bytes`` state JSON, each batch one
``write_batch`` (fenced offset advance + rows, one transaction):

- ``insert``: new conversations;
- ``update``: the same conversations, every row changed (status, queue, state);
- ``replay``: the same rows again -> no row rewritten (change detection only).

It prints rows/s per method and phase (median of ``--repeat`` runs) and, with ``--json``, writes them.
Methods run alternately so drift on a shared machine hits both alike.

Usage::

    .venv/bin/python scripts/pg_write_speed.py [--dsn postgresql://postgres@127.0.0.1:15432/postgres]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pydantic import SecretStr

from consumer.adapters.postgres.store import PostgresStore
from consumer.domain import LOGIC_VERSION, ConversationRow
from consumer.ops.migrate import migrate
from consumer.ports import BatchWrite, PartitionAdvance, RowWrite, WriteMethod
from consumer.settings import PostgresSettings

__all__ = ["main"]

METHODS: tuple[WriteMethod, ...] = ("copy", "executemany")
T0 = 1_700_000_000_000


def _state(cid: str, version: int, size: int, count: int | None = None) -> dict[str, Any]:
    """A state-shaped JSON document of about ``size`` bytes (``count`` participants when given)."""
    if count is None:
        count = 1
        while len(json.dumps(_state(cid, version, size, count))) < size:
            count += 1
    participants = {
        f"p{i}": {
            "purpose": "agent" if i % 2 else "customer",
            "connected_time": T0 + i * 1000 + version,
            "communications": {f"c{i}": {"state": "connected", "media_type": "voice", "v": version}},
        }
        for i in range(count)
    }
    return {"format": 1, "conversation_id": cid, "logic_version": LOGIC_VERSION, "participants": participants}


def _rows(ids: list[str], version: int, state_bytes: int) -> list[RowWrite]:
    status = "waiting_in_queue" if version == 0 else "connected"
    count = len(_state(ids[0], version, state_bytes)["participants"])
    out = []
    for n, cid in enumerate(ids):
        row = ConversationRow(
            conversation_id=cid,
            conversation_start=T0 + n,
            conversation_end=None,
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            calculated_status=status,
            status_changed_at=T0 + n + version,
            last_queue_id=f"queue-{n % 50}",
            last_queue_name=f"Queue {n % 50}",
            external_tag=None,
            division_ids=("division-a",),
            customer_participation=None,
            self_served=None,
            media_stats_min_conversation_mos=4.2,
            media_stats_min_conversation_rfactor=None,
            error_message=None,
            last_event_at=T0 + n + version,
            logic_version=LOGIC_VERSION,
        )
        out.append(RowWrite(row, _state(cid, version, state_bytes, count)))
    return out


def _database(server: str, name: str, create: bool) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        else:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return psycopg.conninfo.make_conninfo(server, dbname=name)


def _run_method(server: str, method: WriteMethod, args: argparse.Namespace) -> dict[str, float]:
    name = f"convstream_speed_{uuid.uuid4().hex[:8]}"
    dsn = _database(server, name, create=True)
    try:
        migrate(dsn)
        batches = [[f"conv-{b:04d}-{i:05d}" for i in range(args.rows)] for b in range(args.batches)]
        phases = {
            "insert": [_rows(ids, 0, args.state_bytes) for ids in batches],
            "update": [_rows(ids, 1, args.state_bytes) for ids in batches],
        }
        phases["replay"] = phases["update"]
        rates: dict[str, float] = {}
        offset = 0
        settings = PostgresSettings(dsn=SecretStr(dsn), pool_min_size=1, pool_max_size=1)
        with PostgresStore(settings, write_method=method) as store:
            store.ping()
            for phase, data in phases.items():
                started = time.perf_counter()
                for rows in data:
                    advance = PartitionAdvance("bench", 0, offset, offset + len(rows))
                    result = store.write_batch(BatchWrite("bench", [advance], rows=rows))
                    offset = advance.next_offset
                    expected = {"insert": "inserted", "update": "updated", "replay": "unchanged"}[phase]
                    assert getattr(result, expected) == len(rows), (phase, result)
                elapsed = time.perf_counter() - started
                rates[phase] = args.rows * args.batches / elapsed
        return rates
    finally:
        _database(server, name, create=False)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; print a table; optionally write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:15432/postgres", help="server DSN")
    parser.add_argument("--rows", type=int, default=2000, help="rows per batch")
    parser.add_argument("--batches", type=int, default=50, help="batches per phase")
    parser.add_argument("--state-bytes", type=int, default=1000, help="approximate state JSON size")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method (median reported)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    sample = len(json.dumps(_rows(["conv-x"], 0, args.state_bytes)[0].state_json))
    runs: dict[WriteMethod, list[dict[str, float]]] = {m: [] for m in METHODS}
    for i in range(args.repeat):
        for method in METHODS if i % 2 == 0 else tuple(reversed(METHODS)):
            runs[method].append(_run_method(args.dsn, method, args))
            print(f"run {i + 1} {method}: " + ", ".join(f"{k} {v:,.0f}" for k, v in runs[method][-1].items()))
    medians = {m: {p: statistics.median(r[p] for r in rs) for p in rs[0]} for m, rs in runs.items()}
    with psycopg.connect(args.dsn) as conn:
        version = conn.execute("SHOW server_version").fetchone()
    print(f"\nrows/s (median of {args.repeat}); {args.batches} batches x {args.rows} rows, state {sample} B")
    print(f"{'method':<12} {'insert':>10} {'update':>10} {'replay':>10}")
    for method, rates in medians.items():
        print(f"{method:<12} " + " ".join(f"{rates[p]:>10,.0f}" for p in ("insert", "update", "replay")))
    if args.json:
        report = {
            "conditions": {
                "rows_per_batch": args.rows,
                "batches": args.batches,
                "state_bytes": sample,
                "repeat": args.repeat,
                "server_version": version[0] if version else None,
                "python": platform.python_version(),
                "machine": platform.platform(),
            },
            "rows_per_second": medians,
            "runs": runs,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
