"""Translate psycopg / psycopg_pool errors into convstream errors, by type and SQLSTATE only.

Transient (:class:`~consumer.errors.StoreUnavailableError`, retry with backoff):

- no connection: ``psycopg.OperationalError`` without a SQLSTATE (refused, reset, timed out, the
  connection closed under us), pool timeouts, class ``08`` (connection exception);
- the transaction must be retried: ``40001`` serialization_failure, ``40P01`` deadlock_detected,
  ``40003`` statement_completion_unknown;
- the server is busy or going away: class ``53`` (insufficient resources: ``53300`` too many
  connections, disk full, out of memory), ``57P01`` admin_shutdown, ``57P02`` crash_shutdown,
  ``57P03`` cannot_connect_now, ``57014`` query_canceled (statement timeout, admin cancel);
- ``25006`` read_only_sql_transaction (a replica or a failover in progress), ``55P03``
  lock_not_available.

Everything else (bad SQL, constraint, permission, a missing database) is a
:class:`~consumer.errors.StoreError`, which retrying will not fix. Messages are psycopg's own (they never
contain the password) and are only shown, never inspected.
"""

from __future__ import annotations

import psycopg
from psycopg_pool import PoolTimeout, TooManyRequests

from consumer.errors import ConvstreamError, StoreError, StoreUnavailableError

__all__ = ["TRANSIENT_SQLSTATES", "TRANSIENT_SQLSTATE_CLASSES", "is_transient_sqlstate", "translate"]

#: SQLSTATE classes (first two characters) that are always transient.
TRANSIENT_SQLSTATE_CLASSES: frozenset[str] = frozenset({"08", "53"})

#: Individual SQLSTATEs that are transient.
TRANSIENT_SQLSTATES: frozenset[str] = frozenset(
    {"40001", "40P01", "40003", "57P01", "57P02", "57P03", "57014", "25006", "55P03"}
)


def is_transient_sqlstate(sqlstate: str) -> bool:
    """True when an error with this SQLSTATE is worth retrying unchanged."""
    return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES or sqlstate in TRANSIENT_SQLSTATES


def translate(exc: psycopg.Error, *, action: str = "PostgreSQL") -> ConvstreamError:
    """The convstream error for a psycopg error; raise it ``from exc``.

    Args:
        exc: the psycopg (or psycopg_pool) error.
        action: what was being done, for the message (e.g. ``"write batch"``).
    """
    sqlstate = exc.sqlstate
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, PoolTimeout | TooManyRequests):
        return StoreUnavailableError(f"{action}: no database connection available: {detail}")
    if sqlstate is None:
        if isinstance(exc, psycopg.OperationalError):
            return StoreUnavailableError(f"{action}: cannot reach PostgreSQL: {detail}")
        return StoreError(f"{action}: {type(exc).__name__}: {detail}")
    if is_transient_sqlstate(sqlstate):
        return StoreUnavailableError(f"{action}: {detail} (SQLSTATE {sqlstate})", sqlstate=sqlstate)
    return StoreError(f"{action}: {detail} (SQLSTATE {sqlstate})", sqlstate=sqlstate)
