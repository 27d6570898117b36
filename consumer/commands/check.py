"""``convstream check``: do Kafka, the schema registry and Postgres answer with the current settings?"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

from consumer.adapters.kafka.client import KafkaAdmin
from consumer.adapters.postgres.store import PostgresStore
from consumer.adapters.schema_registry import SchemaRegistry
from consumer.app.settings import command_settings
from consumer.commands._help import exit_codes
from consumer.errors import ConvstreamError, TransientError
from consumer.observability.logging import redact
from consumer.settings import Settings

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "check"
HELP = "check that Kafka, the schema registry and Postgres answer with the current settings"
DESCRIPTION = """\
Check that Kafka, the schema registry and PostgreSQL answer with the current settings, e.g. after
changing them or before starting a deployment. Prints one line per dependency."""
EXAMPLE = """\
convstream check
convstream check --only postgres --timeout 3"""
EXIT_CODES = exit_codes(
    {0: "every dependency answers", 1: "an error other than unreachable (e.g. authentication)"}, 3, 4
)
SETTINGS = ("kafka", "schema_registry", "postgres")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each dependency (default 10)"
    )
    parser.add_argument(
        "--only",
        choices=("kafka", "registry", "postgres"),
        action="append",
        help="check only this dependency (repeatable)",
    )


def _probes(settings: Settings, timeout: float) -> dict[str, tuple[str, Callable[[], None]]]:
    postgres = settings.postgres.model_copy(update={"connect_timeout_seconds": timeout, "pool_min_size": 0})
    registry = settings.schema_registry.model_copy(update={"timeout_seconds": timeout})
    return {
        "kafka": (settings.kafka.bootstrap_servers, KafkaAdmin(settings.kafka, timeout_seconds=timeout).ping),
        "registry": (settings.schema_registry.url, SchemaRegistry(registry).ping),
        "postgres": ("CONVSTREAM_POSTGRES__DSN", PostgresStore(postgres).ping),
    }


def run(args: argparse.Namespace) -> int:
    settings = command_settings(args)
    # The pool retries in the background and warns on each failure; check reports failures itself.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    selected = args.only or ["kafka", "registry", "postgres"]
    worst = 0
    for name, (target, probe) in _probes(settings, args.timeout).items():
        if name not in selected:
            continue
        started = time.monotonic()
        try:
            probe()
        except TransientError as exc:
            print(redact(f"{name:9} unreachable  {exc}"))
            worst = max(worst, 4)
            continue
        except ConvstreamError as exc:
            print(redact(f"{name:9} error        {exc}"))
            worst = max(worst, 1) if worst != 4 else worst
            continue
        print(redact(f"{name:9} ok           {target} ({(time.monotonic() - started) * 1000:.0f} ms)"))
    return worst
