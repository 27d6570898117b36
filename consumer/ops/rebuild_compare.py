"""``convstream rebuild --compare N``: a sampled row diff between the live table and the shadow."""

from __future__ import annotations

from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from consumer.adapters.postgres.errors import translate
from consumer.settings import PostgresSettings

__all__ = ["IGNORED", "compare_sample"]

#: Bookkeeping columns that differ by construction (when and by whom a row was written, raw state).
IGNORED: Final = frozenset({"db_when_created", "db_last_updated", "state", "last_queue_name_from_event"})
#: Differences listed in full (the count covers all of them).
_SHOWN: Final = 20


def compare_sample(settings: PostgresSettings, live: str, shadow: str, n: int) -> tuple[int, list[str]]:
    """Compare ``n`` random live rows with the shadow; returns (rows compared, difference lines).

    A line is ``<id>: missing in shadow`` or ``<id>: <column> live=<v> shadow=<v>`` (first
    :data:`_SHOWN` rows with differences, then a summary line).
    """
    query = sql.SQL(
        "SELECT l.conversation_id AS id, to_jsonb(l) AS live, to_jsonb(s) AS shadow "
        "FROM (SELECT * FROM {live} ORDER BY random() LIMIT %s) l "
        "LEFT JOIN {shadow} s USING (conversation_id)"
    ).format(live=sql.Identifier(live), shadow=sql.Identifier(shadow))
    try:
        with (
            psycopg.connect(settings.dsn.get_secret_value(), autocommit=True) as conn,
            conn.cursor(row_factory=dict_row) as cur,
        ):
            rows = cur.execute(query, (n,)).fetchall()
    except psycopg.Error as exc:
        raise translate(exc, action="compare samples") from exc
    lines: list[str] = []
    differing = 0
    for row in rows:
        diff = _diff(row["live"], row["shadow"])
        if diff:
            differing += 1
            if differing <= _SHOWN:
                lines += [f"{row['id']}: {d}" for d in diff]
    if differing:
        lines.append(f"{differing} of {len(rows)} sampled rows differ")
    return len(rows), lines


def _diff(live: dict[str, Any], shadow: dict[str, Any] | None) -> list[str]:
    if shadow is None:
        return ["missing in shadow"]
    return [
        f"{key} live={live.get(key)!r} shadow={shadow.get(key)!r}"
        for key in sorted(set(live) | set(shadow))
        if key not in IGNORED and live.get(key) != shadow.get(key)
    ]
