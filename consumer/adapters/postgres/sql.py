"""The SQL of the Postgres adapter, built once per conversation table with ``psycopg.sql``.

The conversation table is a parameter (``PostgresSettings.table``, or a rebuild's shadow table), always
quoted with :class:`psycopg.sql.Identifier`; values are always bound parameters.

Times travel as epoch-millisecond ``bigint`` and become ``timestamptz`` in SQL with exact integer
arithmetic (``timestamptz 'epoch' + ms * interval '1 millisecond'``), so Python never builds datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from psycopg import sql

__all__ = [
    "COLUMNS",
    "CONVERSATION_LOCK_CLASS",
    "QUEUE_LOCK_CLASS",
    "STAGE_TABLE",
    "TIME_COLUMNS",
    "Query",
    "Statements",
    "build_statements",
]

#: A statement: plain or composed with identifiers.
Query = sql.SQL | sql.Composed

#: Staged columns, in COPY / VALUES order, with their staging types.
COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("conversation_id", "text"),
    ("conversation_start", "int8"),
    ("conversation_end", "int8"),
    ("originating_direction", "text"),
    ("original_media_type", "text"),
    ("conversation_initiator", "text"),
    ("calculated_status", "text"),
    ("status_changed_at", "int8"),
    ("last_queue_id", "text"),
    ("last_queue_name", "text"),
    ("external_tag", "text"),
    ("division_ids", "text[]"),
    ("customer_participation", "bool"),
    ("self_served", "bool"),
    ("media_stats_min_conversation_mos", "float8"),
    ("media_stats_min_conversation_rfactor", "float8"),
    ("error_message", "text"),
    ("error_at", "int8"),
    ("state", "text"),
    ("last_event_at", "int8"),
    ("logic_version", "int4"),
    ("folded_digests", "bytea"),
)
TIME_COLUMNS: Final = frozenset(
    {"conversation_start", "conversation_end", "status_changed_at", "last_event_at", "error_at"}
)
#: Written but not staged: derived in SQL from the staged ``last_queue_name`` (the name an event carried).
_DERIVED: Final = ("last_queue_name_from_event",)
#: Columns whose difference makes a row "changed". The error columns are handled apart: a row without an
#: error never clears a stored one (an error mark may have set it), and a null error_at keeps the stored one.
#: ``folded_digests`` (consumer.consume.known) is written with a changed row, but is no reason to write one.
_APART: Final = frozenset({"conversation_id", "error_message", "error_at", "folded_digests"})
_CONTENT: Final = tuple(name for name, _ in COLUMNS if name not in _APART) + _DERIVED

#: The first key of the transaction-scoped advisory locks on queue ids (``pg_advisory_xact_lock(int4,
#: int4)``: this class, ``hashtext(queue_id)``); the two-int form never collides with the migration's
#: one-bigint lock. Rows referencing a queue are written under its lock in shared mode, the queue's
#: directory entry is changed (and its rows refreshed) under it in exclusive mode.
QUEUE_LOCK_CLASS: Final = 0x43565121

#: The first key of the transaction-scoped advisory locks on conversation ids (``hashtext(id)`` second):
#: a batch's write transaction holds them on every conversation it folded or marks, from its version check
#: to its commit, so two consumers never fold one conversation from the same stored state. An advisory
#: lock (rather than ``SELECT … FOR UPDATE``) also covers conversations without a row yet.
CONVERSATION_LOCK_CLASS: Final = 0x43565143

#: Session-local staging table for the COPY write method (created once per connection).
STAGE_TABLE: Final = "convstream_stage"


def _ms_to_ts(expr: sql.Composable) -> sql.Composed:
    return sql.SQL("(timestamptz 'epoch' + {} * interval '1 millisecond')").format(expr)


def _source_exprs() -> list[sql.Composable]:
    """The SELECT expressions turning staged values (``s``) into column values (``_target_names`` order).

    ``last_queue_name`` is the name an event carried, else the directory's (``q``, the queue table joined
    in the same statement, so it reads the directory as of this statement: see ``write_batch``).
    """
    exprs: list[sql.Composable] = []
    for name, _ in COLUMNS:
        value: Query = sql.SQL("s.{}").format(sql.Identifier(name))
        if name in TIME_COLUMNS:
            value = _ms_to_ts(value)
        elif name == "state":
            value = sql.SQL("{}::jsonb").format(value)
        elif name == "last_queue_name":
            value = sql.SQL("COALESCE(s.last_queue_name, q.name)")
        exprs.append(value)
    exprs.append(sql.SQL("(s.last_queue_name IS NOT NULL)"))  # last_queue_name_from_event
    return exprs


def _target_names() -> list[sql.Identifier]:
    return [sql.Identifier(n) for n, _ in COLUMNS] + [sql.Identifier(n) for n in _DERIVED]


def _select_rows(source: sql.Composable) -> sql.Composed:
    """``SELECT`` the row values from ``source`` (aliased ``s``), resolving directory queue names."""
    return sql.SQL(
        "SELECT {exprs}, now(), now() FROM {source} LEFT JOIN queue q ON q.queue_id = s.last_queue_id "
        "ORDER BY s.conversation_id"
    ).format(exprs=sql.SQL(", ").join(_source_exprs()), source=source)


def _upsert(table: sql.Identifier, source: sql.Composable) -> sql.Composed:
    """``INSERT … ON CONFLICT DO UPDATE`` that rewrites only changed rows, never downgrading logic."""
    names = _target_names()
    sets = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in _CONTENT]
    old = sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(n)) for n in _CONTENT)
    new = sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(n)) for n in _CONTENT)
    return sql.SQL(
        "INSERT INTO {table} AS c ({names}, db_when_created, db_last_updated) {source} "
        "ON CONFLICT (conversation_id) DO UPDATE SET {sets}, "
        "folded_digests = EXCLUDED.folded_digests, "
        "error_message = COALESCE(EXCLUDED.error_message, c.error_message), "
        "error_at = CASE WHEN EXCLUDED.error_message IS NULL THEN c.error_at "
        "ELSE COALESCE(EXCLUDED.error_at, c.error_at) END, "
        "db_last_updated = now() "
        "WHERE (c.logic_version IS NULL OR c.logic_version <= EXCLUDED.logic_version) AND ("
        "ROW({old}) IS DISTINCT FROM ROW({new}) "
        "OR (EXCLUDED.error_message IS NOT NULL AND ROW(EXCLUDED.error_message, "
        "COALESCE(EXCLUDED.error_at, c.error_at)) IS DISTINCT FROM ROW(c.error_message, c.error_at))) "
        "RETURNING (xmax = 0) AS inserted"
    ).format(
        table=table,
        names=sql.SQL(", ").join(names),
        source=source,
        sets=sql.SQL(", ").join(sets),
        old=old,
        new=new,
    )


@dataclass(frozen=True, slots=True)
class Statements:
    """Every statement the store runs, for one conversation table."""

    create_stage: Query
    clear_stage: Query
    copy_stage: Query
    upsert_from_stage: Query
    upsert_values: Query
    mark_errors: Query
    load_states: Query
    load_states_versioned: Query
    lock_conversations: Query
    conversation_versions: Query
    load_folded_digests: Query
    refresh_queue_names: Query
    advance_offset: Query
    stored_offsets: Query
    reset_offset: Query
    lock_queues: Query
    lock_queue_ids: Query
    upsert_queues: Query
    queue_names: Query


def build_statements(table_name: str) -> Statements:
    """All statements for the conversation table ``table_name`` (unqualified, quoted as an identifier)."""
    table = sql.Identifier(table_name)
    stage = sql.Identifier(STAGE_TABLE)
    stage_cols = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in COLUMNS
    )
    names = sql.SQL(", ").join(sql.Identifier(n) for n, _ in COLUMNS)
    from_stage = _select_rows(sql.SQL("pg_temp.{} s").format(stage))
    placeholders = sql.SQL(", ").join(sql.SQL("%s::{}").format(sql.SQL(t)) for _, t in COLUMNS)
    values = _select_rows(sql.SQL("(VALUES ({})) AS s ({})").format(placeholders, names))
    return Statements(
        create_stage=sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {stage} ({cols}) ON COMMIT DELETE ROWS").format(
            stage=stage, cols=stage_cols
        ),
        clear_stage=sql.SQL("DELETE FROM pg_temp.{stage}").format(stage=stage),
        copy_stage=sql.SQL("COPY pg_temp.{stage} ({names}) FROM STDIN (FORMAT BINARY)").format(
            stage=stage, names=names
        ),
        upsert_from_stage=sql.SQL(
            "WITH up AS ({upsert}) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"
        ).format(upsert=_upsert(table, from_stage)),
        upsert_values=_upsert(table, values),
        mark_errors=sql.SQL(
            "INSERT INTO {table} AS c "
            "(conversation_id, error_message, error_at, db_when_created, db_last_updated) "
            "SELECT u.id, u.msg, {at}, now(), now() "
            "FROM unnest(%(ids)s::text[], %(msgs)s::text[], %(ats)s::int8[]) AS u(id, msg, at) ORDER BY u.id "
            "ON CONFLICT (conversation_id) DO UPDATE SET error_message = EXCLUDED.error_message, "
            "error_at = EXCLUDED.error_at, db_last_updated = now() "
            "WHERE (c.error_at IS NULL OR c.error_at <= EXCLUDED.error_at) "
            "AND ROW(c.error_message, c.error_at) "
            "IS DISTINCT FROM ROW(EXCLUDED.error_message, EXCLUDED.error_at)"
        ).format(table=table, at=_ms_to_ts(sql.SQL("u.at"))),
        load_states=sql.SQL(
            "SELECT conversation_id, state FROM {table} WHERE conversation_id = ANY(%s) AND state IS NOT NULL"
        ).format(table=table),
        # xmin: the transaction that wrote the row version read; any later write of the row changes it.
        load_states_versioned=sql.SQL(
            "SELECT conversation_id, state, xmin::text::bigint FROM {table} WHERE conversation_id = ANY(%s)"
        ).format(table=table),
        # Same shape as lock_queue_ids: one statement, keys ascending, so lockers never wait in a cycle.
        lock_conversations=sql.SQL(
            "SELECT count(*) FROM (SELECT pg_advisory_xact_lock({cls}, k.key) "
            "FROM (SELECT DISTINCT hashtext(u.id) AS key FROM unnest(%s::text[]) AS u(id) ORDER BY 1) k) l"
        ).format(cls=sql.Literal(CONVERSATION_LOCK_CLASS)),
        conversation_versions=sql.SQL(
            "SELECT conversation_id, xmin::text::bigint FROM {table} WHERE conversation_id = ANY(%s)"
        ).format(table=table),
        load_folded_digests=sql.SQL(
            "SELECT conversation_id, folded_digests FROM {table} WHERE conversation_id = ANY(%s) "
            "AND logic_version = %s AND state IS NOT NULL AND folded_digests IS NOT NULL"
        ).format(table=table),
        refresh_queue_names=sql.SQL(
            "WITH u AS (SELECT * FROM unnest(%(ids)s::text[], %(old)s::text[], %(new)s::text[]) "
            "AS u(id, old, new)), "
            "target AS (SELECT c.conversation_id, u.new FROM {table} c JOIN u ON c.last_queue_id = u.id "
            "WHERE c.last_queue_name IS DISTINCT FROM u.new AND (c.last_queue_name_from_event IS FALSE "
            "OR (c.last_queue_name_from_event IS NULL "
            "AND (c.last_queue_name IS NULL OR c.last_queue_name = u.old))) "
            "ORDER BY c.conversation_id FOR UPDATE OF c) "
            "UPDATE {table} AS c SET last_queue_name = target.new, db_last_updated = now() "
            "FROM target WHERE c.conversation_id = target.conversation_id"
        ).format(table=table),
        advance_offset=sql.SQL(
            "INSERT INTO consumer_offset AS o (group_id, topic, partition, next_offset, updated_at) "
            "VALUES (%(group)s, %(topic)s, %(partition)s, %(next)s, now()) "
            "ON CONFLICT (group_id, topic, partition) DO UPDATE "
            "SET next_offset = EXCLUDED.next_offset, updated_at = now() "
            "WHERE o.next_offset = %(start)s RETURNING o.partition"
        ),
        stored_offsets=sql.SQL(
            "SELECT partition, next_offset FROM consumer_offset WHERE group_id = %s AND topic = %s"
        ),
        # Fenced on the value read before deciding to rewind: an owner that moved it since keeps its move.
        reset_offset=sql.SQL(
            "UPDATE consumer_offset SET next_offset = %(offset)s, updated_at = now() "
            "WHERE group_id = %(group)s AND topic = %(topic)s AND partition = %(partition)s "
            "AND next_offset = %(expected)s"
        ),
        # One statement, keys in ascending order (so two transactions never wait on each other in a
        # cycle); exclusive where the id is flagged, shared otherwise. A key's modes are merged (bool_or).
        lock_queue_ids=sql.SQL(
            "SELECT count(*) FROM (SELECT CASE WHEN k.excl "
            "THEN pg_advisory_xact_lock({cls}, k.key) ELSE pg_advisory_xact_lock_shared({cls}, k.key) END "
            "FROM (SELECT hashtext(u.id) AS key, bool_or(u.excl) AS excl "
            "FROM unnest(%(ids)s::text[], %(excl)s::bool[]) AS u(id, excl) GROUP BY 1 ORDER BY 1) k) l"
        ).format(cls=sql.Literal(QUEUE_LOCK_CLASS)),
        lock_queues=sql.SQL(
            "SELECT queue_id, name FROM queue WHERE queue_id = ANY(%s) ORDER BY queue_id FOR UPDATE"
        ),
        upsert_queues=sql.SQL(
            "INSERT INTO queue AS q (queue_id, name, division_id, updated_at) "
            "SELECT u.id, u.name, u.division, now() "
            "FROM unnest(%(ids)s::text[], %(names)s::text[], %(divisions)s::text[]) AS u(id, name, division) "
            "ORDER BY u.id "
            "ON CONFLICT (queue_id) DO UPDATE SET name = EXCLUDED.name, division_id = EXCLUDED.division_id, "
            "updated_at = now() "
            "WHERE ROW(q.name, q.division_id) IS DISTINCT FROM ROW(EXCLUDED.name, EXCLUDED.division_id) "
            "RETURNING q.queue_id"
        ),
        queue_names=sql.SQL("SELECT queue_id, name FROM queue WHERE queue_id = ANY(%s) AND name IS NOT NULL"),
    )
