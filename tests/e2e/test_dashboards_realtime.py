"""The dashboards on a live contact center: the real-time simulator (`convstream bridge --source simulator
--realtime`, as docker compose and the chart's simulator values run it) feeds a real `convstream consume`
for a short while, and every dashboard query, evaluated over the dashboard's own default time range ending
now, returns data; the "oldest waiting" and latency panels read seconds (within the simulated run), not the
years a simulator calendar starting in 2025 would show.

The Genesys-only panels (WebSocket, heartbeats, gaps, API) need a Genesys bridge: a small fake Genesys Cloud
replays a simulation in real time (speed 1) to a `bridge --source genesys` next to it, as in
tests/e2e/test_dashboards_live.py. Scraped by the devstack Prometheus (consumer on a port in 9400-9409,
bridges in 9410-9419, every second). Figures seen are printed (run with ``-s``) for the notes.
"""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import pytest

from consumer.simulate import SimulationOptions
from tests.fakes.genesys import FAST_BRIDGE_ENV, FakeGenesys
from tests.fixtures.e2e import E2EStack
from tests.fixtures.services import wait_until
from tests.promtool.helpers import dashboards, prom_queries, render_prom, render_sql, sql_queries

pytestmark = pytest.mark.e2e

#: A small, busy contact center: 3 arrivals/s on 6 agents with 5 s handle times, so within seconds some
#: conversations wait, some talk and some have ended; a few duplicates and some reordering, as in compose.
LIVE_ARGS = ("--source", "simulator", "--realtime", "--seed", "23", "--arrival-rate", "3", "--handle-time",
             "5", "--agents", "6", "--sim-queues", "3", "--duplicate-rate", "0.02", "--reorder-window", "8",
             "--progress-seconds", "0")  # fmt: skip
#: Bounds of the panels that measure time: the pipeline's latency, and how long the table may go unwritten.
LATENCY_BOUND_SECONDS = 60.0
#: Prometheus range-query step over the dashboard range (Grafana's interval for a few hours is similar).
STEP_SECONDS = 15


def scraped_ports(low: int, high: int, count: int) -> list[int]:
    """``count`` distinct free ports in a range the devstack Prometheus scrapes (held while choosing)."""
    held: list[socket.socket] = []
    try:
        for port in range(low, high + 1):
            if len(held) == count:
                break
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
        if len(held) < count:
            pytest.fail(
                f"fewer than {count} free ports in {low}-{high} (the devstack Prometheus scrapes those)"
            )
        return [s.getsockname()[1] for s in held]
    finally:
        for sock in held:
            sock.close()


def _get(url: str, path: str, **params: str) -> dict[str, Any]:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}{path}?{query}", timeout=15) as response:
        return dict(json.loads(response.read()))


def instant(url: str, expr: str) -> list[dict[str, Any]]:
    answer = _get(url, "/api/v1/query", query=expr)
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def has_data(url: str, expr: str) -> bool:
    return bool(instant(url, expr))


def dashboard_range_seconds(dashboard: Mapping[str, Any]) -> int:
    """The dashboard's default time range (``now-6h`` .. ``now``) in seconds."""
    time_range = dashboard["time"]
    assert time_range["to"] == "now", time_range
    match = re.fullmatch(r"now-(\d+)([smhd])", time_range["from"])
    assert match, time_range
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def over_range(url: str, expr: str, seconds: int) -> list[dict[str, Any]]:
    """The series of ``expr`` over the last ``seconds`` ending now (what the panel would draw)."""
    end = time.time()
    answer = _get(
        url, "/api/v1/query_range", query=expr, start=f"{end - seconds:.3f}", end=f"{end:.3f}",
        step=str(STEP_SECONDS),
    )  # fmt: skip
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def test_dashboards_show_the_live_contact_center_now(e2e: E2EStack, prometheus_url: str) -> None:
    genesys_options = SimulationOptions(
        seed=24, conversations=40, arrival_rate=2.0, handle_time_s=5, queues=2, agents=4
    )
    (cport,), (sport, gport) = scraped_ports(9400, 9409, 1), scraped_ports(9410, 9419, 2)
    with FakeGenesys(genesys_options, speed=1, heartbeat_seconds=0.3) as fake:
        started = time.time()
        live = e2e.spawn("bridge", *LIVE_ARGS, name="live", CONVSTREAM_OBSERVABILITY__METRICS_PORT=str(sport))
        genesys = e2e.spawn(
            "bridge", "--source", "genesys", name="genesys",
            CONVSTREAM_OBSERVABILITY__METRICS_PORT=str(gport), **fake.env(), **FAST_BRIDGE_ENV,
        )  # fmt: skip
        consumer = e2e.consumer(CONVSTREAM_OBSERVABILITY__METRICS_PORT=str(cport))
        procs = (live, genesys, consumer)
        instances = {
            p.name: f"127.0.0.1:{port}" for p, port in zip(procs, (sport, gport, cport), strict=True)
        }
        c_instance = instances["consume"]

        def alive() -> None:
            for proc in procs:
                if not proc.alive():
                    pytest.fail(f"{proc.name} exited\n{proc.tail()}", pytrace=False)

        def scraped() -> bool:
            alive()
            return all(has_data(prometheus_url, f'up{{instance="{i}"}} == 1') for i in instances.values())

        wait_until(
            scraped, timeout=120, interval=0.5, what="Prometheus to scrape the consumer and both bridges"
        )
        fake.start_stream()

        def recent(expr: str) -> bool:
            return has_data(prometheus_url, expr)

        def live_enough() -> bool:
            alive()
            published = 'increase(convstream_bridge_events_published_total{{instance="{}"}}[1m]) > 0'
            return (
                _statuses(e2e).keys() >= {"ended", "waiting_in_queue"}
                and recent(f'increase(convstream_events_total{{instance="{c_instance}"}}[1m]) > 0')
                and all(recent(published.format(instances[b])) for b in ("live", "genesys"))
                and recent(
                    f'count_over_time(convstream_lag_refresh_timestamp_seconds{{instance="{c_instance}"}}[1m])'
                    " > 5"
                )
                and recent(
                    "increase(convstream_event_to_row_latency_seconds_count"
                    f'{{instance="{c_instance}"}}[1m]) > 0'
                )
            )

        wait_until(
            live_enough, timeout=180, interval=1.0, what="a live contact center in Prometheus and Postgres"
        )
        # The compose healthcheck and the chart's probes of the live bridge: /livez and /readyz answer 200.
        for path in ("/livez", "/readyz"):
            with urllib.request.urlopen(f"http://127.0.0.1:{sport}{path}", timeout=5) as response:
                assert response.status == 200, path
        variables = {
            "job": "convstream",
            "instance": c_instance,
            "consumergroup": e2e.group,
            "topic": f"{e2e.events}|{e2e.queues}",
            "bridge_job": "convstream-bridge",
        }
        failures, figures = _check_every_query(e2e, prometheus_url, variables)
        run_seconds = time.time() - started
        figures["run_seconds"] = round(run_seconds, 1)
        figures["statuses"] = _statuses(e2e)
        print(f"\nlive dashboard figures: {json.dumps(figures, default=str)}")
        assert not failures, "\n".join(failures)

        # "Oldest waiting": a conversation of this run, so at most the run's length: seconds, not years.
        oldest = figures["oldest_waiting_seconds"]
        assert 0 < oldest <= run_seconds + 2, figures
        assert figures["waiting_by_queue_oldest_seconds"], figures
        assert all(0 < s <= run_seconds + 2 for s in figures["waiting_by_queue_oldest_seconds"]), figures
        assert 0 <= figures["seconds_since_last_write"] <= LATENCY_BOUND_SECONDS, figures
        # Event-to-row latency: commit time minus event time, the pipeline's seconds (buckets up to 1 h).
        assert figures["event_to_row_latency_seconds"], figures
        for quantile, value in figures["event_to_row_latency_seconds"].items():
            assert 0 < value <= LATENCY_BOUND_SECONDS, (quantile, figures)
        for proc in procs:
            assert proc.terminate() == 0, f"{proc.name} did not exit 0 on SIGTERM\n{proc.tail()}"


def _check_every_query(
    e2e: E2EStack, url: str, variables: Mapping[str, str]
) -> tuple[list[str], dict[str, Any]]:
    """Every PromQL target over the dashboard's range, every SQL target with its macros over the same
    range; returns the failures and the figures of the time-measuring panels."""
    failures: list[str] = []
    figures: dict[str, Any] = {"queries": 0}
    for name, dashboard in dashboards().items():
        seconds = dashboard_range_seconds(dashboard)
        for where, expr in prom_queries(dashboard):
            figures["queries"] += 1
            rendered = render_prom(expr, variables)
            if not over_range(url, rendered, seconds):
                failures.append(f"{name}: {where}: no data over the last {seconds} s: {rendered}")
            elif where.startswith("Event-to-row latency"):
                values = [float(s["value"][1]) for s in instant(url, rendered)]
                figures.setdefault("event_to_row_latency_seconds", {})[where] = (
                    max(values) if values else None
                )
        for where, sql in sql_queries(dashboard):
            figures["queries"] += 1
            try:
                with e2e.connect() as conn:
                    cursor = conn.execute(render_sql(sql, window_seconds=seconds))
                    columns = [d.name for d in cursor.description or ()]
                    rows = cursor.fetchall()
            except Exception as exc:
                failures.append(f"{name}: {where}: {type(exc).__name__}: {exc}")
                continue
            if not rows:
                failures.append(f"{name}: {where}: no rows over the last {seconds} s")
                continue
            _figures(figures, columns, rows)
    assert figures["queries"] > 40
    return failures, figures


def _figures(figures: dict[str, Any], columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """The values of the panels that measure time, by their column names."""
    for column in ("oldest_waiting_seconds", "seconds_since_last_write"):
        if columns == [column]:
            figures[column] = float(rows[0][0])
    if "oldest_wait_seconds" in columns:
        at, waiting = columns.index("oldest_wait_seconds"), columns.index("waiting")
        figures["waiting_by_queue_oldest_seconds"] = [float(r[at]) for r in rows if r[waiting]]


def _statuses(e2e: E2EStack) -> dict[str, int]:
    with e2e.connect() as conn:
        rows = conn.execute("SELECT calculated_status, count(*) FROM conversation GROUP BY 1").fetchall()
    return {str(status): int(n) for status, n in rows}
