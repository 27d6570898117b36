"""PostgreSQL over TLS (sslmode=verify-full) and least-privilege roles, real server (docs/security.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from pydantic import SecretStr

from consumer.adapters.postgres.errors import translate
from consumer.adapters.postgres.store import PostgresStore
from consumer.errors import StoreError, StoreUnavailableError
from consumer.ports import BatchWrite
from consumer.settings import PostgresSettings
from tests.fixtures.security import security_env
from tests.fixtures.services import ROOT, make_unique_name
from tests.integration.test_postgres_store import GROUP, Offsets, make_write

pytestmark = pytest.mark.integration


def _with(dsn: str, *, host: str | None = None, user: str | None = None, query: str = "") -> str:
    parts = urllib.parse.urlsplit(dsn)
    netloc = f"{user or parts.username}@{host or parts.hostname}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


def _ca() -> str:
    return security_env("postgres", "CONVSTREAM_TEST_POSTGRES_CA")["CONVSTREAM_TEST_POSTGRES_CA"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_verify_full_connects_and_the_session_is_encrypted(pg_database: str, host: str) -> None:
    query = urllib.parse.urlencode({"sslmode": "verify-full", "sslrootcert": _ca()})
    dsn = _with(pg_database, host=host, query=query)
    with PostgresStore(PostgresSettings(dsn=SecretStr(dsn), connect_timeout_seconds=5)) as store:
        store.ping()
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    assert row == (True,)


def test_verify_full_with_another_ca_fails_clearly(pg_database: str, tmp_path: Path) -> None:
    _ca()  # skip unless the server has TLS
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k"),
         "-out", str(tmp_path / "other-ca.pem"), "-days", "1", "-subj", "/CN=some other CA"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    query = urllib.parse.urlencode({"sslmode": "verify-full", "sslrootcert": str(tmp_path / "other-ca.pem")})
    settings = PostgresSettings(dsn=SecretStr(_with(pg_database, query=query)), connect_timeout_seconds=3)
    with PostgresStore(settings) as store, pytest.raises(StoreUnavailableError) as info:
        store.ping()
    assert "certificate verify failed" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.fixture
def runtime_role(postgres_dsn: str) -> Iterator[str]:
    """A LOGIN role that is a member of convstream_runtime (created if missing), dropped afterwards."""
    name = make_unique_name("rt")
    with psycopg.connect(postgres_dsn, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'convstream_runtime'").fetchone()
        if not exists:
            conn.execute("CREATE ROLE convstream_runtime NOLOGIN")
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE convstream_runtime").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def test_migration_role_migrates_and_runtime_role_writes_but_cannot_ddl(
    pg_database: str, runtime_role: str
) -> None:
    runtime_dsn = _with(pg_database, user=runtime_role)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSTREAM_")}
    env["CONVSTREAM_POSTGRES__DSN"] = runtime_dsn
    env["CONVSTREAM_POSTGRES__MIGRATION_DSN"] = pg_database
    proc = subprocess.run(
        [sys.executable, "-m", "consumer.cli", "migrate"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    settings = PostgresSettings(dsn=SecretStr(runtime_dsn), connect_timeout_seconds=5)
    with PostgresStore(settings) as store:
        store.write_batch(BatchWrite(GROUP, [Offsets().advance()], rows=[make_write("c1"), make_write("c2")]))
        assert set(store.conversation_rows(["c1", "c2"])) == {"c1", "c2"}
    for statement in (
        "DROP TABLE conversation",
        "ALTER TABLE conversation ADD COLUMN x int",
        "CREATE TABLE evil (x int)",
        "DELETE FROM conversation",
    ):
        with psycopg.connect(runtime_dsn, autocommit=True, connect_timeout=5) as conn:
            try:
                conn.execute(statement)
            except psycopg.Error as exc:
                error = translate(exc, action=statement)
            else:
                pytest.fail(f"the runtime role could run {statement!r}")
        assert isinstance(error, StoreError)
        assert error.sqlstate == "42501", (statement, error)
