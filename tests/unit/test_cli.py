"""CLI: --help everywhere, documented exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from consumer import cli
from consumer.errors import BrokerUnavailableError, ConfigError, ConvstreamError, WedgedError


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


@pytest.mark.parametrize("command", cli.COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: convstream" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == cli.EXIT_USAGE
    assert "usage" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command"])
    assert exit_info.value.code == 2


def test_config_error_is_one_line_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONVSTREAM_POSTGRES__POOL_MAX_SIZE", "zero")
    assert cli.main(["check"]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "CONVSTREAM_POSTGRES__POOL_MAX_SIZE" in err


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError("bad", variable="CONVSTREAM_X"), cli.EXIT_CONFIG),
        (WedgedError("stuck"), 5),
        (BrokerUnavailableError("down"), cli.EXIT_UNAVAILABLE),
        (ConvstreamError("other"), cli.EXIT_FAILURE),
    ],
)
def test_exit_code_for_each_error_class(error: ConvstreamError, code: int) -> None:
    # The one mapping: main() and the bridge's worker processes both use it.
    assert cli.exit_code_for(error) == code


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(tmp_path: Path) -> None:
    """`convstream fold FILE | head -1`: the command stops quietly (exit 0), no BrokenPipeError traceback."""
    sim = tmp_path / "sim.jsonl"
    subprocess.run(
        [sys.executable, "-m", "consumer.cli", "simulate", "--conversations", "1500", "--seed", "7",
         "--out", str(sim)],
        check=True, capture_output=True,
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "consumer.cli", "fold", str(sim)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = proc.stdout.readline()  # rows are far more than a pipe buffer: the writer must block, then fail
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0, err
    assert first.startswith(b'{"conversation_id"')
    assert "Traceback" not in err, err
    assert "BrokenPipeError" not in err, err
