"""``convstream demo [--seconds S]``: the whole pipeline on the local stack with a live contact center.

``make demo`` runs it after starting the local stack.

Steps (details and guarantees in :mod:`consumer.ops.demo`):

1. Load the settings (the devstack defaults; any ``CONVSTREAM_*`` variable overrides them, e.g. other
   topics or database); create the topics and migrate the database (idempotent).
2. Start ``convstream consume`` (group from the settings, ``convstream`` by default) and publish the
   simulator in real time through the bridge for ``--seconds``: its clock is the wall clock, customers
   arrive at ``--arrival-rate`` per second and agents talk ``--handle-time`` seconds on average.
3. Show one live progress line (the contact center now: waiting, connected, wrap-up …); then let the
   consumer drain, stop it with SIGTERM, and print a summary (conversations by status and last queue,
   events, DLQ records) and where to look next (Prometheus with a ready query, ``convstream status``, SQL).
4. Exit 0; 1 when the consumer failed or did not drain; 4 when Kafka, the registry or Postgres is down.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from consumer.app.settings import command_settings
from consumer.commands._help import exit_codes
from consumer.observability.logging import configure_logging, register_secret
from consumer.ops.demo import DemoOptions, run_demo

__all__ = ["DESCRIPTION", "HELP", "NAME", "add_arguments", "run"]

NAME = "demo"
HELP = "run a live contact center: simulator -> bridge -> Kafka -> consumer -> Postgres, with live progress"
DESCRIPTION = """\
Run the whole pipeline on the local stack with a live, simulated contact center: the simulator
publishes through the bridge to Kafka in real time, a consumer folds the events into PostgreSQL, and
one progress line shows the contact center as it is now. At the end the consumer catches up and stops,
and a summary (conversations by status and last queue, events, dead letters) says where to look next
(Prometheus, `convstream status`, SQL). Creates the topics and tables it needs."""
EXAMPLE = """\
convstream demo --seconds 120 --arrival-rate 2"""
EXIT_CODES = exit_codes(
    {0: "the demo ran and the consumer caught up", 1: "the consumer failed or did not catch up in time"},
    3,
    4,
)
SETTINGS: tuple[str, ...] = ()
OTHER_SETTINGS = ("kafka", "schema_registry", "postgres", "topics", "consumer", "observability")


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seconds``, the contact center's shape, ``--seed``, ``--drain-seconds``, ``--log-dir``, …"""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    defaults = DemoOptions()
    parser.add_argument(
        "--seconds", type=_positive, default=60.0, metavar="S", help="how long to publish (default 60)"
    )
    parser.add_argument("--arrival-rate", type=_positive, default=defaults.arrival_rate, metavar="PER_SECOND",
                        help=f"new conversations per second (default {defaults.arrival_rate:g})")  # fmt: skip
    parser.add_argument("--handle-time", type=_positive, default=defaults.handle_time_s, metavar="SECONDS",
                        help=f"mean agent handle time (default {defaults.handle_time_s:g})")  # fmt: skip
    parser.add_argument("--agents", type=_count, default=defaults.agents, metavar="N",
                        help=f"agents answering (default {defaults.agents})")  # fmt: skip
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="simulator seed (default: the clock, so each run adds new conversations)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=_positive,
        default=60.0,
        metavar="S",
        help="how long the consumer may take to catch up (default 60)",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "convstream-demo",
        metavar="DIR",
        help="where the consumer's log goes (default: <tmp>/convstream-demo)",
    )
    parser.add_argument(
        "--prometheus-url",
        metavar="URL",
        default=defaults.prometheus_url,
        help=f"the Prometheus the final hints link to (default {defaults.prometheus_url}, the local stack)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo; see the module docstring."""
    # Step 1.
    settings = command_settings(args)
    register_secret(settings.postgres.dsn.get_secret_value())
    configure_logging("WARNING", settings.observability.log_format)  # the progress line owns the screen
    seed = args.seed if args.seed is not None else int(time.time())
    options = DemoOptions(
        seconds=args.seconds,
        arrival_rate=args.arrival_rate,
        handle_time_s=args.handle_time,
        agents=args.agents,
        seed=seed,
        drain_seconds=args.drain_seconds,
        log_dir=args.log_dir,
        prometheus_url=args.prometheus_url,
    )
    # Steps 2-4.
    return run_demo(settings, options)
