"""Which values of the settings are secrets: each one is redacted from every log line and error message."""

from __future__ import annotations

from consumer.observability.logging import register_secret
from consumer.settings import Settings

__all__ = ["register_settings_secrets"]


def _dsn_password(dsn: str) -> str | None:
    from psycopg.conninfo import conninfo_to_dict

    try:
        value = conninfo_to_dict(dsn).get("password")
    except Exception:  # an unparsable DSN is reported by the command that uses it
        return None
    return str(value) if value else None


def register_settings_secrets(settings: Settings) -> None:
    """Every secret in ``settings`` (and a DSN's password on its own) is redacted from logs and errors."""
    pg, genesys = settings.postgres, settings.genesys
    secrets = (
        settings.kafka.sasl_password,
        settings.kafka.ssl_key_password,
        settings.schema_registry.basic_auth_password,
        pg.dsn,
        pg.migration_dsn,
        genesys.client_secret,
        genesys.pii.hash_key,
    )
    for secret in secrets:
        if secret is not None:
            register_secret(secret.get_secret_value())
    for dsn in (pg.dsn, pg.migration_dsn):
        if dsn is not None:
            register_secret(_dsn_password(dsn.get_secret_value()))
