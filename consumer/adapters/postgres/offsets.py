"""``consumer_offset`` and ``replay_request`` outside the write path: what replay and the replay watch use.

:class:`OffsetStore` holds one lazily opened autocommit connection (no network in ``__init__``; a broken
connection is dropped and reopened on the next call) and raises only convstream errors (see
:mod:`consumer.adapters.postgres.errors`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

import orjson
import psycopg

from consumer.adapters.postgres.errors import translate
from consumer.settings import PostgresSettings

__all__ = ["UNDEFINED_TABLE", "OffsetStore"]

#: SQLSTATE of a missing table (``replay_request`` before migration 0003).
UNDEFINED_TABLE: Final = "42P01"

_UPSERT_OFFSET: Final = (
    "INSERT INTO consumer_offset AS o (group_id, topic, partition, next_offset, updated_at) "
    "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (group_id, topic, partition) DO UPDATE "
    "SET next_offset = EXCLUDED.next_offset, updated_at = now()"
)
_BUMP: Final = (
    "INSERT INTO replay_request AS r (group_id, generation, requested_at, detail) "
    "VALUES (%s, 1, now(), %s::jsonb) ON CONFLICT (group_id) DO UPDATE "
    "SET generation = r.generation + 1, requested_at = now(), detail = EXCLUDED.detail "
    "RETURNING generation"
)


class OffsetStore:
    """Stored offsets of a group, the replay's offset change, and the replay generation.

    Thread-safe (one connection, serialised by a lock).
    """

    def __init__(self, settings: PostgresSettings, *, application_name: str = "convstream-replay") -> None:
        self._settings = settings
        self._app = application_name
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()

    @contextmanager
    def _connection(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(
                        self._settings.dsn.get_secret_value(),
                        autocommit=True,
                        connect_timeout=max(1, round(self._settings.connect_timeout_seconds)),
                        application_name=self._app,
                    )
                yield self._conn
            except psycopg.Error as exc:
                if self._conn is not None and self._conn.broken:
                    self._conn = None
                raise translate(exc, action=action) from exc

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> OffsetStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stored(self, group_id: str, topic: str) -> dict[int, int]:
        """Partition -> next offset stored for ``group_id`` on ``topic``."""
        with self._connection("read offsets") as conn:
            rows = conn.execute(
                "SELECT partition, next_offset FROM consumer_offset WHERE group_id = %s AND topic = %s",
                (group_id, topic),
            ).fetchall()
        return {int(p): int(o) for p, o in rows}

    def replay(self, group_id: str, targets: Mapping[tuple[str, int], int], detail: Mapping[str, Any]) -> int:
        """Write ``targets`` as the group's stored offsets and bump its replay generation, atomically.

        The offsets are written unconditionally (not fenced): a batch a running consumer has in flight
        then fails its fence (see :mod:`consumer.ops.replay`). Returns the new generation.
        """
        params = [(group_id, t, p, o) for (t, p), o in sorted(targets.items())]
        with self._connection("write replay offsets") as conn, conn.transaction():
            with conn.cursor() as cur:
                cur.executemany(_UPSERT_OFFSET, params)
            row = conn.execute(_BUMP, (group_id, orjson.dumps(dict(detail)).decode())).fetchone()
        assert row is not None
        return int(row[0])

    def generation(self, group_id: str) -> int:
        """The group's replay generation (0 before any replay).

        Raises:
            StoreError: with ``sqlstate`` :data:`UNDEFINED_TABLE` before migration 0003.
            StoreUnavailableError: PostgreSQL cannot be reached.
        """
        with self._connection("read replay generation") as conn:
            row = conn.execute(
                "SELECT generation FROM replay_request WHERE group_id = %s", (group_id,)
            ).fetchone()
        return 0 if row is None else int(row[0])
