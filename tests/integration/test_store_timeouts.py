"""Server-side timeouts on the runtime connections: a blocked statement becomes a transient error."""

from __future__ import annotations

import psycopg
import pytest
from pydantic import SecretStr

from consumer.adapters.postgres.store import PostgresStore
from consumer.errors import StoreUnavailableError
from consumer.ops.migrate import migrate
from consumer.ports import BatchWrite, PartitionAdvance
from consumer.settings import PostgresSettings
from tests.integration.test_postgres_store import GROUP, TOPIC, make_write

pytestmark = pytest.mark.integration


def test_runtime_sessions_carry_the_timeouts(pg_database: str) -> None:
    migrate(pg_database)
    settings = PostgresSettings(
        dsn=SecretStr(pg_database), statement_timeout_seconds=2.5, idle_in_transaction_timeout_seconds=30
    )
    with PostgresStore(settings) as store, store._connection("test") as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("2500ms",)
        assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("30s",)
    assert PostgresSettings().statement_timeout_seconds == 60


def test_a_blocked_batch_write_times_out_as_transient(pg_database: str) -> None:
    migrate(pg_database)
    settings = PostgresSettings(dsn=SecretStr(pg_database), statement_timeout_seconds=1)
    with PostgresStore(settings) as store:
        store.write_batch(BatchWrite(GROUP, [PartitionAdvance(TOPIC, 0, 0, 1)], rows=[make_write("c1")]))
        with psycopg.connect(pg_database) as holder:  # another session holds the partition's offset row
            holder.execute("SELECT 1 FROM consumer_offset FOR UPDATE")
            with pytest.raises(StoreUnavailableError) as info:
                store.write_batch(
                    BatchWrite(GROUP, [PartitionAdvance(TOPIC, 0, 1, 2)], rows=[make_write("c1")])
                )
            holder.rollback()
        assert info.value.sqlstate == "57014"
        assert store.stored_offsets(GROUP, TOPIC) == {0: 1}
