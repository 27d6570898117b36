"""Issue 6, end to end: fake Genesys Cloud -> ``convstream bridge --source genesys`` -> Kafka ->
``convstream consume`` -> Postgres, compared row by row with the simulator's ground truth.

Every hop is a real process or service: the bridge and the consumers are ``convstream`` subprocesses
(:class:`tests.fixtures.e2e.E2EStack`: unique topics, group and migrated database), Kafka, the schema
registry and Postgres are the real ones, Genesys is :class:`tests.fakes.genesys.FakeGenesys` driven by the
simulator with ``simulated_times=True`` (snapshots carry the simulator's own 2025 timestamps; only the
pacing follows the wall clock, ``speed`` times faster).

What is compared (every ``conversation`` column that ``convstream fold`` and the truth share):

- **Exactly**: ``conversation_id, calculated_status, last_queue_id, last_queue_name, conversation_start,
  conversation_end, originating_direction, original_media_type, conversation_initiator, external_tag,
  self_served, customer_participation, division_ids, logic_version``. They depend only on the bodies'
  contents, which the fake delivers unchanged (simulated times included) and which its analytics API turns
  into detail records that fold to the same values, so a gap backfill cannot hide behind a tolerance.
- **For plausibility only**: ``status_changed_at`` and ``last_event_at``. They are event times, and a
  notification snapshot's event time is the later of its body's times and the *receive* time; the
  simulated body times are in the past, so the bridge's wall clock decides them (a backfilled record is
  stamped at backfill time too). They must be set, ordered (``status_changed_at <= last_event_at``) and
  inside the test's wall-clock window.
- Not compared: ``db_last_updated`` and other bookkeeping columns (no truth exists for them).

Also: nothing lands in the DLQ, ``consumer_offset`` reaches the end offsets, and known secret values (the
OAuth client secret, every access token the fake issued, the Postgres password if any) appear in none of
the bridge's or consumers' output, ``/metrics`` scrapes or ``--help`` texts.

The fault scenario scales the issue's 30 s socket drop down to 3 s of refused reconnects (the simulation
runs 10x faster, so that is 30 s of simulated traffic lost by the socket and recovered by the backfill).
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from consumer.simulate import SimulationOptions
from tests.fakes.genesys import CLIENT_SECRET, FAST_BRIDGE_ENV, FakeGenesys
from tests.fixtures.e2e import E2EStack, Proc, assert_rows_match
from tests.fixtures.services import wait_until

pytestmark = pytest.mark.e2e

#: Columns the truth has that only the receive time decides for notification snapshots (module docstring).
RECEIVE_TIME_KEYS = ("status_changed_at", "last_event_at")
RECONNECTS = "convstream_bridge_websocket_reconnects_total"

GENESYS_ENV = {**FAST_BRIDGE_ENV, "CONVSTREAM_OBSERVABILITY__LOG_LEVEL": "INFO"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Served:
    """A spawned ``convstream`` process with a known metrics port."""

    def __init__(self, stack: E2EStack, args: tuple[str, ...], name: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.proc: Proc = stack.spawn(
            *args, name=name, **env, CONVSTREAM_OBSERVABILITY__METRICS_PORT=str(self.port)
        )
        self.scrapes: list[str] = []

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            text = str(response.read().decode())
        self.scrapes.append(text)
        return text

    def value(self, name: str) -> float:
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in self.metrics().splitlines()
            if line.startswith(name) and not line.startswith("#")
        )

    def ready(self) -> bool:
        if not self.proc.alive():
            pytest.fail(f"{self.proc.name} exited\n{self.proc.tail()}", pytrace=False)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def output(self) -> str:
        return self.proc.stdout.read_text(errors="replace") + self.proc.stderr.read_text(errors="replace")


def options(seed: int) -> SimulationOptions:
    return SimulationOptions(
        seed=seed, conversations=60, arrival_rate=1.0, handle_time_s=20, queues=4, agents=10
    )


def start_bridge(stack: E2EStack, fake: FakeGenesys) -> Served:
    bridge = Served(stack, ("bridge", "--source", "genesys"), "bridge", {**GENESYS_ENV, **fake.env()})
    wait_until(bridge.ready, 60, 0.1, "the bridge connected")
    return bridge


def final_gap(bridge: Served, fake: FakeGenesys) -> None:
    """After the stream: one last drop, so whatever was in flight is covered by a final gap backfill."""
    wait_until(fake.stream_done.is_set, 120, 0.1, "the fake's stream to end")
    gaps = bridge.value("convstream_bridge_gaps_total")
    fake.drop_sockets()
    wait_until(
        lambda: bridge.ready()
        and bridge.value("convstream_bridge_gaps_total") > gaps
        and bridge.value("convstream_bridge_gaps_open") == 0,
        60, 0.1, "the final gap backfilled",
    )  # fmt: skip


def consume_until_end(stack: E2EStack) -> str:
    done = stack.run("consume", "--until-end", timeout=110)
    return done.stdout + done.stderr


def help_texts(stack: E2EStack, fake: FakeGenesys) -> str:
    """``--help`` of the commands involved, run with the secrets in the environment."""
    texts = []
    for args in (("--help",), ("bridge", "--help"), ("consume", "--help"), ("backfill", "--help")):
        done = subprocess.run(
            stack.command(*args), env=stack.env(**fake.env()), capture_output=True, text=True, timeout=60,
            check=True,
        )  # fmt: skip
        texts.append(done.stdout + done.stderr)
    return "".join(texts)


def check_rows(stack: E2EStack, fake: FakeGenesys, window: tuple[datetime, datetime]) -> None:
    """The table equals the truth on the exact columns; the receive-time columns are plausible."""
    truth = fake.truth()
    assert len({t["calculated_status"] for t in truth}) >= 3  # not merely "everything ended"
    rows = stack.rows()
    assert_rows_match(rows, truth, ignore=RECEIVE_TIME_KEYS)
    low, high = window
    for cid, raw in stack.raw_rows().items():
        changed, last = raw["status_changed_at"], raw["last_event_at"]
        assert changed is not None, cid
        assert last is not None, cid
        assert low <= changed <= last <= high, (cid, changed, last, window)
    assert stack.dlq_records() == 0
    stack.assert_offsets_at_end()


def check_secrets(fake: FakeGenesys, stack: E2EStack, *texts: str) -> None:
    secrets = [CLIENT_SECRET, *fake.issued]
    password = urlsplit(stack.dsn).password
    if password:
        secrets.append(password)
    assert len(fake.issued) >= 1
    leaks = [(s[:6] + "…", i) for i, text in enumerate(texts) for s in secrets if s in text]
    assert not leaks, f"secrets found in captured output (secret prefix, text index): {leaks}"


def wall_now() -> datetime:
    return datetime.fromtimestamp(time.time()).astimezone()


def test_steady_state_bridge_to_postgres_equals_truth(e2e: E2EStack) -> None:
    stack, start = e2e, wall_now()
    with FakeGenesys(options(21), speed=10, heartbeat_seconds=0.3, simulated_times=True) as fake:
        bridge = start_bridge(stack, fake)
        fake.start_stream()
        wait_until(fake.stream_done.is_set, 90, 0.1, "the fake's stream to end")
        # Steady state: nothing lost, and every snapshot the fake sent is in Kafka (one event each).
        wait_until(lambda: sum(stack.end_offsets().values()) >= fake.sent, 60, 0.1, "every snapshot in Kafka")
        exposition = bridge.metrics()
        assert bridge.proc.terminate() == 0, bridge.proc.tail()
        assert fake.lost == 0
        assert fake.sent > 0
        # One event per delivered snapshot, plus the start-up gap's backfill (whatever existed by then).
        backfilled = sum(
            float(line.rsplit(" ", 1)[1])
            for line in exposition.splitlines()
            if line.startswith("convstream_bridge_backfilled_conversations_total ")
        )
        assert sum(stack.end_offsets().values()) == fake.sent + backfilled
        consumed = consume_until_end(stack)
        check_rows(stack, fake, (start, wall_now()))
        check_secrets(fake, stack, bridge.output(), exposition, consumed, help_texts(stack, fake))


def test_faults_bridge_to_postgres_equals_truth_after_gap_backfills(e2e: E2EStack) -> None:
    stack, start = e2e, wall_now()
    with FakeGenesys(options(22), speed=10, heartbeat_seconds=0.3, simulated_times=True) as fake:
        bridge = start_bridge(stack, fake)
        # A live consumer follows the stream (its /metrics scraped); `consume --until-end` finishes it.
        live = Served(stack, ("consume",), "consume-live", {})
        fake.start_stream()
        wait_until(lambda: fake.sent > 20, 60, 0.05, "traffic")
        lost = fake.lost
        fake.drop_sockets(refuse_seconds=3.0)  # abrupt drop; reconnects refused for 3 s (30 s simulated)
        wait_until(lambda: fake.lost > lost and bridge.ready(), 60, 0.1, "recovery from the drop")
        fake.socket_closing()
        wait_until(
            lambda: bridge.value(f'{RECONNECTS}{{reason="socket_closing"}}') >= 1, 30, 0.1, "socket_closing"
        )
        fake.expire_channels()  # reconnect answers 404: a new channel
        wait_until(
            lambda: bridge.value("convstream_bridge_channels_created_total") >= 2, 30, 0.1, "channel 2"
        )
        fake.inject_429(3, retry_after=0.2)
        fake.revoke_tokens(kill_channels=True)  # 401 on the next call; the channel dies too
        wait_until(
            lambda: bridge.value("convstream_bridge_channels_created_total") >= 3, 30, 0.1, "channel 3"
        )
        final_gap(bridge, fake)
        assert bridge.value("convstream_bridge_token_refreshes_total") >= 2
        assert bridge.value("convstream_bridge_api_rate_limited_total") == 3
        assert bridge.value("convstream_bridge_backfilled_conversations_total") > 0
        assert bridge.proc.terminate() == 0, bridge.proc.tail()
        wait_until(live.ready, 60, 0.2, "the live consumer ready")
        stack.wait_caught_up(90, [live.proc])
        live_exposition = live.metrics()
        assert live.proc.terminate() == 0, live.proc.tail()
        consumed = consume_until_end(stack)
        assert fake.lost > 0  # the socket really missed events …
        check_rows(stack, fake, (start, wall_now()))  # … and Postgres still equals the truth
        assert bridge.proc.logged("gap backfilled") >= 2
        texts = (bridge.output(), *bridge.scrapes, live.output(), live_exposition, consumed)
        check_secrets(fake, stack, *texts, help_texts(stack, fake))
