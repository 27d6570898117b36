"""Real-time simulator runs: determinism up to the start instant, wall-clock pacing, stop, the commands."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from consumer.cli import main
from consumer.simulate import SimMessage, Simulation, SimulationOptions, live, paced
from consumer.simulate.wire import iso_ms, iso_s

_ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
#: Two start instants of the same seed, 417 days and an odd number of milliseconds apart.
_START_A, _START_B = 1_765_000_000_123, 1_801_028_123_456
_DISORDER: dict[str, Any] = {"duplicate_rate": 0.1, "reorder_window": 12, "drop_rate": 0.2,
                             "eventbridge": 0.3, "detail_events": 0.5}  # fmt: skip


def _shifted(value: Any, delta: int) -> Any:
    """``value`` with every timestamp moved by ``delta`` ms (ISO strings, ``eventTime`` epoch ms)."""
    if isinstance(value, dict):
        out = {k: (v + delta if k == "eventTime" else _shifted(v, delta)) for k, v in value.items()}
        if "detail" in out and "time" in out:  # EventBridge's outer whole-second time follows detail's
            out["time"] = iso_s(_ms(out["detail"]["timestamp"]))
        return out
    if isinstance(value, list):
        return [_shifted(v, delta) for v in value]
    if isinstance(value, str) and _ISO_MS.match(value):
        return iso_ms(_ms(value) + delta)
    return value


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _run(start_ms: int, **extra: Any) -> list[SimMessage]:
    options = live(SimulationOptions(seed=11, conversations=150, arrival_rate=1.5, **extra), start_ms)
    return list(Simulation(options))


@pytest.mark.parametrize("extra", [{}, _DISORDER], ids=["in_order", "disorder"])
def test_same_seed_two_start_instants_are_the_same_events_shifted(extra: dict[str, Any]) -> None:
    a, b = _run(_START_A, **extra), _run(_START_B, **extra)
    delta = _START_B - _START_A
    assert len(a) == len(b) > 300
    assert b[0].received_at >= _START_B
    for x, y in zip(a, b, strict=True):
        assert y.received_at == x.received_at + delta
        assert y.conversation_id == x.conversation_id
        assert y.message == _shifted(x.message, delta)
    assert a != b  # the shift is real: timestamps differ


def test_live_starts_now_and_keeps_every_other_option() -> None:
    base = SimulationOptions(seed=4, arrival_rate=2.0, handle_time_s=12, realtime=True)
    before = time.time_ns() // 1_000_000
    options = live(base)
    after = time.time_ns() // 1_000_000
    assert before <= options.start_ms <= after
    assert options.realtime
    assert options.unbounded
    assert (options.seed, options.arrival_rate, options.handle_time_s) == (4, 2.0, 12)


def test_a_stopping_rule_is_needed_unless_realtime() -> None:
    with pytest.raises(ValueError, match="or realtime"):
        SimulationOptions(seed=1)
    assert SimulationOptions(seed=1, realtime=True).unbounded


def test_an_endless_run_keeps_no_finished_conversations() -> None:
    sim = Simulation(live(SimulationOptions(seed=2, arrival_rate=5.0, handle_time_s=10, realtime=True), 0))
    messages = list(itertools.islice(iter(sim), 3000))
    assert len(messages) == 3000
    assert sim.stats["conversations"] > 100
    assert sim._engine.conversations == []
    with pytest.raises(RuntimeError, match="to the end"):
        sim.truth()


class FakeClock:
    """Epoch-ms clock advanced only by the stop event's waits (so pacing is observable without sleeping)."""

    def __init__(self, now: int) -> None:
        self.now = now
        self.waits: list[float] = []

    def __call__(self) -> int:
        return self.now


class SteppingEvent(threading.Event):
    """A stop event whose ``wait`` advances the fake clock instead of sleeping; set after ``stop_at``."""

    def __init__(self, clock: FakeClock, stop_at: int | None = None) -> None:
        super().__init__()
        self.clock, self.stop_at = clock, stop_at

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.clock.waits.append(timeout)
        target = self.clock.now + round(timeout * 1000)
        if self.stop_at is not None and target >= self.stop_at:
            self.clock.now = self.stop_at
            self.set()
            return True
        self.clock.now = target
        return False


def _msg(received_at: int) -> SimMessage:
    return SimMessage({"n": received_at}, received_at, "c")


def test_paced_yields_each_message_when_the_clock_reaches_it() -> None:
    clock = FakeClock(1_000)
    stop = SteppingEvent(clock)
    seen = []
    for message in paced([_msg(900), _msg(1_000), _msg(2_500), _msg(2_400), _msg(4_000)], stop, clock):
        assert clock.now >= message.received_at  # never early
        seen.append((message.received_at, clock.now))
    assert seen == [(900, 1_000), (1_000, 1_000), (2_500, 2_500), (2_400, 2_500), (4_000, 4_000)]
    assert clock.waits == [1.5, 1.5]  # no wait for a message already due (reordered behind a later one)


def test_paced_ends_promptly_when_stopped_while_waiting() -> None:
    clock = FakeClock(0)
    stop = SteppingEvent(clock, stop_at=3_000)
    out = [m.received_at for m in paced((_msg(t) for t in range(0, 100_000, 1_000)), stop, clock)]
    assert out == [0, 1_000, 2_000]  # the message due at the stop instant and later ones are not yielded


def test_paced_against_the_real_clock_is_not_early() -> None:
    options = live(
        SimulationOptions(seed=3, arrival_rate=20.0, handle_time_s=5, mix={"chat": 1}, realtime=True)
    )
    stop = threading.Event()
    for count, message in enumerate(paced(Simulation(options), stop), start=1):
        assert time.time_ns() // 1_000_000 >= message.received_at
        if count == 20:
            break
    assert time.time_ns() // 1_000_000 - options.start_ms < 10_000


def test_simulate_realtime_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "o.jsonl")
    assert main(["simulate", "--out", out, "--realtime", "--start", "2025-01-01T00:00:00Z"]) == 2
    assert "--start and --realtime" in capsys.readouterr().err
    assert main(["simulate", "--out", out, "--realtime", "--truth", str(tmp_path / "t")]) == 2
    assert "--truth" in capsys.readouterr().err


def test_simulate_realtime_runs_until_sigterm_then_flushes_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "live.jsonl"
    started = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "consumer.cli", "simulate", "--out", str(out), "--realtime", "--seed", "9",
         "--arrival-rate", "20", "--handle-time", "5", "--mix", "chat=1", "--duplicate-rate", "0.1"],
        stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.time() + 30
        while time.time() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 10):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
        written_before = out.read_bytes().count(b"\n")
        assert written_before >= 10, "lines are flushed as they happen"
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(lines) >= written_before
    received = [_ms(m["receivedAt"]) for m in lines]
    assert min(received) >= int(started * 1000) - 1_000  # the simulated clock is the wall clock from now
    assert max(received) <= int(time.time() * 1000)  # nothing from the future
    assert b"simulate: " in err


def _parsed_options(*argv: str) -> SimulationOptions:
    from consumer.cli import build_parser
    from consumer.commands import simulate as simulate_command

    args = build_parser().parse_args(["simulate", "--out", "-", *argv])
    return simulate_command.options_from_args(args)


def test_realtime_seed_is_the_start_instant_unless_given() -> None:
    before = time.time_ns() // 1_000_000
    options = _parsed_options("--realtime", "--arrival-rate", "2")
    assert options.realtime
    assert options.unbounded, "runs until stopped"
    assert options.seed == options.start_ms >= before  # a restarted live run never repeats conversation ids
    seeded = _parsed_options("--realtime", "--seed", "5")
    assert seeded.seed == 5
    assert _parsed_options().seed == 1
    assert _parsed_options().conversations == 1000


def test_bridge_takes_the_realtime_flag() -> None:
    from consumer.cli import build_parser
    from consumer.commands import bridge as bridge_command

    args = build_parser().parse_args(["bridge", "--source", "simulator", "--realtime", "--seed", "3"])
    options = bridge_command._simulation_options(args)
    assert options.realtime
    assert options.unbounded
    assert options.seed == 3
    assert bridge_command._check_usage(args, "simulator") is None
    args = build_parser().parse_args(["bridge", "--source", "simulator", "--realtime", "--workers", "2"])
    assert "--workers 1" in str(bridge_command._check_usage(args, "simulator"))
