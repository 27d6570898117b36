"""Check a PostgreSQL connection string before connecting: a mistake in it is a configuration error.

libpq reports a bad option value (``sslmode=bogus``, ``port=abc``) only when connecting, as the same
``OperationalError`` without SQLSTATE as a refused connection, so it would be retried and exit 4
("unreachable"). Parsing the DSN here first turns it into a :class:`~consumer.errors.ConfigError` (exit 3)
that names the variable to fix. Only values libpq accepts from a closed set, or integers, are checked;
anything else is left to libpq.
"""

from __future__ import annotations

from typing import Final

import psycopg
from psycopg.conninfo import conninfo_to_dict

from consumer.errors import ConfigError

__all__ = ["check_dsn"]

#: libpq connection options whose value is one of a closed set (PostgreSQL 17 documentation).
_CHOICES: Final[dict[str, frozenset[str]]] = {
    "sslmode": frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}),
    "gssencmode": frozenset({"disable", "prefer", "require"}),
    "channel_binding": frozenset({"disable", "prefer", "require"}),
    "target_session_attrs": frozenset(
        {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}
    ),
    "load_balance_hosts": frozenset({"disable", "random"}),
    "sslcertmode": frozenset({"disable", "allow", "require"}),
    "sslnegotiation": frozenset({"postgres", "direct"}),
}
#: Options whose value is an integer (``port`` may list one per host, comma-separated).
_INTEGERS: Final = frozenset(
    {"port", "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
     "tcp_user_timeout"}
)  # fmt: skip


def check_dsn(dsn: str, variable: str) -> None:
    """Raise :class:`ConfigError` (naming ``variable``) if ``dsn`` cannot be a libpq connection string."""
    try:
        options = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:  # not parsable, or an unknown option
        raise ConfigError(f"{variable}: not a valid connection string: {exc}", variable=variable) from exc
    for name, value in options.items():
        text = str(value)
        allowed = _CHOICES.get(name)
        if allowed is not None and text not in allowed:
            raise ConfigError(
                f"{variable}: invalid {name} value {text!r}; one of {', '.join(sorted(allowed))}",
                variable=variable,
            )
        if name in _INTEGERS and not all(part.strip().isdigit() for part in text.split(",") if part.strip()):
            raise ConfigError(f"{variable}: invalid {name} value {text!r}; an integer", variable=variable)
