"""``convstream demo [--seconds S] [--rate R]``: the whole pipeline on the local stack, live (``make demo``).

Steps (details and guarantees in :mod:`consumer.ops.demo`):

1. Load the settings (the devstack defaults; any ``CONVSTREAM_*`` variable overrides them, e.g. other
   topics or database); create the topics and migrate the database (idempotent).
2. Start ``convstream consume`` (group from the settings, ``convstream`` by default) and publish the
   simulator through the bridge at ``--rate`` events/s for ``--seconds``.
3. Show one live progress line; then let the consumer drain, stop it with SIGTERM, and print a summary
   (conversations by status and last queue, events, DLQ records) and where to look next.
4. Exit 0; 1 when the consumer failed or did not drain; 4 when Kafka, the registry or Postgres is down.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from consumer.observability.logging import configure_logging, register_secret
from consumer.ops.demo import DemoOptions, run_demo
from consumer.settings import load_settings

__all__ = ["DESCRIPTION", "HELP", "NAME", "add_arguments", "run"]

NAME = "demo"
HELP = "run simulator -> bridge -> Kafka -> consumer -> Postgres for a minute with live progress"
DESCRIPTION = __doc__


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seconds``, ``--rate``, ``--seed``, ``--drain-seconds``, ``--log-dir``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--seconds", type=_positive, default=60.0, help="how long to publish (default 60)")
    parser.add_argument("--rate", type=_positive, default=500.0, help="events per second (default 500)")
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
        help="how long the consumer may take to catch up (default 60)",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "convstream-demo",
        help="where the consumer's log goes (default: <tmp>/convstream-demo)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo; see the module docstring."""
    # Step 1.
    settings = load_settings()
    register_secret(settings.postgres.dsn.get_secret_value())
    configure_logging("WARNING", settings.observability.log_format)  # the progress line owns the screen
    seed = args.seed if args.seed is not None else int(time.time())
    options = DemoOptions(
        seconds=args.seconds,
        rate=args.rate,
        seed=seed,
        drain_seconds=args.drain_seconds,
        log_dir=args.log_dir,
    )
    # Steps 2-4.
    return run_demo(settings, options)
