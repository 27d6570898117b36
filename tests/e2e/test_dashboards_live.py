"""Every dashboard query against live data: the pipeline under the simulator (the fake Genesys Cloud replays
the simulator over a real WebSocket to a real `convstream bridge --source genesys`, a real `convstream
consume` writes Postgres), scraped by the devstack Prometheus (consumer on a port in 9400-9409, bridge in
9410-9419). Every PromQL target must return data, every SQL target must run and return rows."""

from __future__ import annotations

import json
import socket
import urllib.parse
import urllib.request
from typing import Any

import pytest

from consumer.simulate import SimulationOptions
from tests.fakes.genesys import FAST_BRIDGE_ENV, FakeGenesys
from tests.fixtures.e2e import E2EStack
from tests.fixtures.services import wait_until
from tests.promtool.helpers import dashboards, prom_queries, render_prom, render_sql, sql_queries

pytestmark = pytest.mark.e2e

BRIDGE_ENV = FAST_BRIDGE_ENV


def scraped_port(low: int, high: int) -> int:
    """A free port the devstack Prometheus scrapes (it scrapes the whole range every second)."""
    for port in range(low, high + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {low}-{high} (the devstack Prometheus scrapes only those)")


def prom_query(url: str, expr: str) -> dict[str, Any]:
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=10) as response:
        return dict(json.loads(response.read()))


def has_data(url: str, expr: str) -> bool:
    answer = prom_query(url, expr)
    return answer["status"] == "success" and bool(answer["data"]["result"])


def test_every_dashboard_query_returns_data(e2e: E2EStack, prometheus_url: str) -> None:
    options = SimulationOptions(
        seed=5, conversations=80, arrival_rate=2.0, handle_time_s=10, queues=3, agents=8
    )
    cport, bport = scraped_port(9400, 9409), scraped_port(9410, 9419)
    with FakeGenesys(options, speed=20, heartbeat_seconds=0.3) as fake:
        bridge = e2e.spawn(
            "bridge", "--source", "genesys", name="bridge",
            CONVSTREAM_OBSERVABILITY__METRICS_PORT=str(bport), **fake.env(), **BRIDGE_ENV,
        )  # fmt: skip
        consumer = e2e.consumer(CONVSTREAM_OBSERVABILITY__METRICS_PORT=str(cport))
        procs = (bridge, consumer)
        c_instance, b_instance = f"127.0.0.1:{cport}", f"127.0.0.1:{bport}"

        def scraped() -> bool:
            for proc in procs:
                if not proc.alive():
                    pytest.fail(f"{proc.name} exited\n{proc.tail()}", pytrace=False)
            return has_data(prometheus_url, f'up{{instance="{c_instance}"}} == 1') and has_data(
                prometheus_url, f'up{{instance="{b_instance}"}} == 1'
            )

        wait_until(
            scraped, timeout=120, interval=0.5, what="Prometheus to scrape the consumer and the bridge"
        )
        fake.start_stream()
        # Traffic through both processes, ended conversations in Postgres, and enough scrapes for rate().
        wait_until(
            lambda: (
                e2e.committed() > 0
                and has_data(
                    prometheus_url, f'increase(convstream_events_total{{instance="{c_instance}"}}[1m]) > 0'
                )
                and has_data(
                    prometheus_url,
                    f'increase(convstream_bridge_events_published_total{{instance="{b_instance}"}}[1m]) > 0',
                )
                and has_data(
                    prometheus_url,
                    f'count_over_time(convstream_lag_refresh_timestamp_seconds{{instance="{c_instance}"}}[1m])'
                    " > 5",
                )
                and _ended(e2e)
            ),
            timeout=240,
            interval=1.0,
            what="traffic in Prometheus and ended conversations in Postgres",
        )
        variables = {
            "job": "convstream",
            "instance": c_instance,
            "consumergroup": e2e.group,
            "topic": f"{e2e.events}|{e2e.queues}",
            "bridge_job": "convstream-bridge",
        }
        failures = []
        checked = 0
        for name, dashboard in dashboards().items():
            for where, expr in prom_queries(dashboard):
                rendered = render_prom(expr, variables)
                answer = prom_query(prometheus_url, rendered)
                checked += 1
                if answer.get("status") != "success" or not answer["data"]["result"]:
                    failures.append(f"{name}: {where}: {rendered} -> {answer}")
            for where, sql in sql_queries(dashboard):
                checked += 1
                try:
                    with e2e.connect() as conn:
                        rows = conn.execute(render_sql(sql)).fetchall()
                except Exception as exc:
                    failures.append(f"{name}: {where}: {type(exc).__name__}: {exc}")
                    continue
                if not rows:
                    failures.append(f"{name}: {where}: no rows")
        assert checked > 40
        assert not failures, "\n".join(failures)
        for proc in procs:
            proc.terminate()


def _ended(e2e: E2EStack) -> bool:
    with e2e.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE calculated_status = 'ended'), count(*) FROM conversation"
        ).fetchone()
        queues = conn.execute("SELECT count(*) FROM queue").fetchone()
    return bool(row and row[0] > 0 and queues and queues[0] > 0)
