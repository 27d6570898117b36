"""Lag metrics and the commit-stall alert against the real stack.

A backlog is produced while no consumer runs; the consumer starts while ``consumer_offset`` is locked by an
open transaction (``LOCK TABLE … IN EXCLUSIVE MODE``: writes wait, plain reads do not), so its loop blocks
on its first commit. The lag monitor still reports the lag from Postgres and the broker — records > 0 and
seconds rising — and the ConvstreamCommitsStalled expression, evaluated on the devstack Prometheus with its
windows scaled down from 5m to 15s, becomes true. Releasing the lock lets the consumer catch up: both lag
gauges fall to 0."""

from __future__ import annotations

import re
import socket
import urllib.request
from typing import Any

import pytest
import yaml

from tests.e2e.test_dashboards_live import has_data, scraped_port
from tests.fixtures.e2e import E2EStack
from tests.fixtures.services import wait_until
from tests.promtool.helpers import RULES

pytestmark = pytest.mark.e2e

_SAMPLE = re.compile(r"^(convstream_consumer_lag_(?:records|seconds))\{([^}]*)\} (\S+)$")


def lag_samples(port: int, topic: str) -> dict[str, dict[str, float]]:
    """``{"records"|"seconds": {partition: value}}`` of ``topic`` from the consumer's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    out: dict[str, dict[str, float]] = {"records": {}, "seconds": {}}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        if labels.get("topic") == topic:
            out[match.group(1).rsplit("_", 1)[1]][labels["partition"]] = float(match.group(3))
    return out


def stall_expression(window: str, group: str) -> str:
    """ConvstreamCommitsStalled's expression with its 5m window replaced, restricted to ``group``."""
    doc = yaml.safe_load(RULES.read_text())
    rule = next(r for g in doc["groups"] for r in g["rules"] if r.get("alert") == "ConvstreamCommitsStalled")
    expr = str(rule["expr"]).replace("[5m]", f"[{window}]").replace("offset 5m", f"offset {window}")
    assert window in expr
    ours = f'group by (consumergroup) (convstream_consumer_lag_records{{consumergroup="{group}"}})'
    return f"({expr}) and on (consumergroup) {ours}"


def _port_is_ours(port: int) -> None:
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} taken"


def test_lag_rises_while_stuck_the_stall_alert_fires_and_lag_falls_to_zero(
    e2e: E2EStack, prometheus_url: str
) -> None:
    # A backlog while no consumer runs.
    sim = e2e.simulate(conversations=150, seed=11)
    e2e.bridge(sim.out, queues=sim.queues)
    backlog = sum(e2e.end_offsets().values())
    assert backlog > 0
    port = scraped_port(9400, 9409)
    _port_is_ours(port)
    locker: Any = e2e.connect()
    locker.autocommit = False
    locker.execute("LOCK TABLE consumer_offset IN EXCLUSIVE MODE")
    try:
        consumer = e2e.consumer(
            CONVSTREAM_OBSERVABILITY__METRICS_PORT=str(port), CONVSTREAM_CONSUMER__WEDGE_TIMEOUT_SECONDS="900"
        )

        def lagging() -> dict[str, dict[str, float]] | None:
            if not consumer.alive():
                pytest.fail(f"consumer exited\n{consumer.tail()}", pytrace=False)
            try:
                samples = lag_samples(port, e2e.events)
            except OSError:
                return None
            records = sum(samples["records"].values())
            return samples if records == backlog and max(samples["seconds"].values(), default=0) > 0 else None

        first = wait_until(
            lagging, timeout=90, interval=0.5, what="lag records = backlog and lag seconds > 0"
        )
        assert e2e.committed() == 0  # the loop really is blocked: nothing committed
        oldest = max(first["seconds"].values())
        wait_until(
            lambda: max(lag_samples(port, e2e.events)["seconds"].values()) > oldest + 1,
            timeout=30,
            interval=0.5,
            what="lag seconds to keep rising while stuck",
        )
        expr = stall_expression("15s", e2e.group)
        wait_until(
            lambda: has_data(prometheus_url, expr),
            timeout=120,
            interval=1.0,
            what="the ConvstreamCommitsStalled expression (15s windows) to be true",
        )
        assert consumer.alive()
    finally:
        locker.rollback()
        locker.close()

    def caught_up() -> bool:
        samples = lag_samples(port, e2e.events)
        return (
            len(samples["records"]) > 0
            and sum(samples["records"].values()) == 0
            and max(samples["seconds"].values()) == 0
        )

    wait_until(caught_up, timeout=120, interval=0.5, what="lag records and seconds to fall to 0")
    assert e2e.lag() == 0
    wait_until(
        lambda: not has_data(prometheus_url, stall_expression("15s", e2e.group)),
        timeout=60,
        interval=1.0,
        what="the stall expression to clear",
    )
    assert consumer.terminate() == 0
