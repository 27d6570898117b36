"""``convstream migrate`` against a real PostgreSQL: idempotence, concurrency, drift, least privilege."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import threading
from collections.abc import Iterator

import psycopg
import psycopg.errors
import psycopg.sql
import pytest
from pydantic import SecretStr

from consumer.adapters.postgres.store import PostgresStore
from consumer.commands import migrate as migrate_command
from consumer.domain import LOGIC_VERSION, ConversationRow, ConversationState, state_to_json
from consumer.errors import StoreError
from consumer.ops.migrate import LOCK_KEY, MigrationReport, discover, migrate
from consumer.ports import BatchWrite, PartitionAdvance, RowWrite
from consumer.settings import PostgresSettings

pytestmark = pytest.mark.integration


def tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def history(dsn: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
        ).fetchall()
    return [(int(v), str(n), str(c)) for v, n, c in rows]


def test_migrate_creates_the_schema_and_twice_is_a_no_op(pg_database: str) -> None:
    first = migrate(pg_database)
    assert [m.version for m in first.applied] == [m.version for m in discover()]
    assert {"conversation", "queue", "consumer_offset", "schema_migrations"} <= tables(pg_database)
    recorded = history(pg_database)

    second = migrate(pg_database)
    assert second.applied == ()
    assert second.already_applied == tuple(m.version for m in discover())
    assert history(pg_database) == recorded


def test_dry_run_changes_nothing(pg_database: str) -> None:
    report = migrate(pg_database, dry_run=True)
    assert report.dry_run
    assert [m.version for m in report.applied] == [m.version for m in discover()]
    assert tables(pg_database) == set()


def test_command_applies_and_reports(
    pg_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONVSTREAM_POSTGRES__DSN", pg_database)
    assert migrate_command.run(argparse.Namespace(dry_run=True)) == 0
    assert "pending 0001_init" in capsys.readouterr().out
    assert migrate_command.run(argparse.Namespace(dry_run=False)) == 0
    assert "applied 0001_init" in capsys.readouterr().out
    assert migrate_command.run(argparse.Namespace(dry_run=False)) == 0
    assert "0 applied" in capsys.readouterr().out


def test_concurrent_migrations_apply_once(pg_database: str) -> None:
    reports: list[MigrationReport] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(migrate(pg_database))
        except BaseException as exc:  # re-raised in the test thread
            failures.append(exc)

    with psycopg.connect(pg_database, autocommit=True) as holder:
        # Hold the migration lock so both runners are provably waiting at the same point.
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        waiting = 0
        while waiting < 2 and not failures:
            row = holder.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()
            waiting = int(row[0]) if row else 0
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        for t in threads:
            t.join()
    assert not failures
    applied = sorted(len(r.applied) for r in reports)
    assert applied == [0, len(discover())]
    assert [v for v, _, _ in history(pg_database)] == [m.version for m in discover()]


def test_changed_checksum_is_refused(pg_database: str) -> None:
    migrate(pg_database)
    original = discover()[0]
    edited_text = original.text + "\n-- edited after release\n"
    edited = dataclasses.replace(
        original, text=edited_text, checksum=hashlib.sha256(edited_text.encode()).hexdigest()
    )
    extra = dataclasses.replace(original, version=9999, name="later", text="SELECT 1", checksum="x")
    with pytest.raises(StoreError, match="changed after it was applied"):
        migrate(pg_database, files=[edited, extra])
    assert [v for v, _, _ in history(pg_database)] == [m.version for m in discover()]  # nothing applied


def test_other_table_name_is_refused_after_migration(pg_database: str) -> None:
    migrate(pg_database)
    with pytest.raises(StoreError, match="CONVSTREAM_POSTGRES__TABLE"):
        migrate(pg_database, table="conversation_v2")


def test_table_name_comes_from_settings(pg_database: str) -> None:
    migrate(pg_database, table="conv_live")
    assert "conv_live" in tables(pg_database)
    assert "conversation" not in tables(pg_database)
    with psycopg.connect(pg_database) as conn:
        indexes = {
            r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'conv_live'")
        }
    assert "conv_live_waiting_idx" in indexes


def _server_has_lz4(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    try:
        with conn.transaction():
            conn.execute("SET LOCAL default_toast_compression = lz4")
    except (
        psycopg.errors.InvalidParameterValue,  # built without LZ4: not a value of the setting
        psycopg.errors.FeatureNotSupported,
        psycopg.errors.UndefinedObject,  # before 14: no such setting
    ):
        return False
    return True


@pytest.mark.parametrize("table", ["conversation", "it's odd"])
def test_state_is_compressed_with_lz4_where_the_server_has_it(pg_database: str, table: str) -> None:
    migrate(pg_database, table=table)
    ident = psycopg.sql.Identifier(table)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        lz4 = _server_has_lz4(conn)
        # A compressible 10 KB document: stored compressed, with the column's method.
        conn.execute(
            psycopg.sql.SQL(
                "INSERT INTO {} (conversation_id, state) "
                "VALUES ('c1', jsonb_build_object('pad', repeat('ab', 5000)))"
            ).format(ident)
        )
        row = conn.execute(
            psycopg.sql.SQL("SELECT pg_column_compression(state), state->>'pad' FROM {}").format(ident)
        ).fetchone()
    assert row is not None
    assert row[0] == ("lz4" if lz4 else "pglz")
    assert row[1] == "ab" * 5000


@pytest.fixture
def runtime_conn(pg_database: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    migrate(pg_database)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("SET ROLE convstream_runtime")
        yield conn


def test_runtime_role_cannot_run_ddl(runtime_conn: psycopg.Connection[tuple[object, ...]]) -> None:
    for statement in (
        "CREATE TABLE sneaky (a int)",
        "DROP TABLE conversation",
        "ALTER TABLE queue ADD COLUMN x int",
        "TRUNCATE consumer_offset",
        "DELETE FROM queue",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            runtime_conn.execute(statement)


def test_runtime_role_can_write_rows(runtime_conn: psycopg.Connection[tuple[object, ...]]) -> None:
    runtime_conn.execute("INSERT INTO queue (queue_id, name) VALUES ('q1', 'Sales')")
    runtime_conn.execute("UPDATE queue SET name = 'Sales 2' WHERE queue_id = 'q1'")
    row = runtime_conn.execute("SELECT name FROM queue").fetchone()
    assert row == ("Sales 2",)


@pytest.mark.parametrize("method", ["copy", "executemany"])
def test_store_works_as_the_runtime_role(pg_database: str, method: str) -> None:
    migrate(pg_database)
    sep = "&" if "?" in pg_database else "?"
    dsn = f"{pg_database}{sep}options=-c%20role%3Dconvstream_runtime"
    row = ConversationRow(
        "c1", 1, None, None, None, None, "active", 1, None, None, None, (), None, None, None, None, None, 1,
        LOGIC_VERSION,
    )  # fmt: skip
    write = RowWrite(row, state_to_json(ConversationState(conversation_id="c1")))
    settings = PostgresSettings(dsn=SecretStr(dsn), connect_timeout_seconds=5)
    with PostgresStore(settings, write_method=method) as store:  # type: ignore[arg-type]
        result = store.write_batch(BatchWrite("g", [PartitionAdvance("t", 0, 0, 1)], rows=[write]))
        assert result.inserted == 1
        assert store.stored_offsets("g", "t") == {0: 1}
        assert set(store.load_states(["c1"])) == {"c1"}
