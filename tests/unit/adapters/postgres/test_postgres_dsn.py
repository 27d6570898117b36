"""A mistake in the DSN is a configuration error (exit 3), found before any connection attempt."""

from __future__ import annotations

import subprocess
import sys

import pytest

from consumer.adapters.postgres.dsn import check_dsn
from consumer.errors import ConfigError

VAR = "CONVSTREAM_POSTGRES__DSN"


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://u@h/db?sslmode=bogus",
        "host=h sslmode=Require",
        "postgresql://u@h:notaport/db",
        "host=h connect_timeout=ten",
        "postgresql://u@h/db?bogusopt=1",
        "host=h target_session_attrs=writable",
    ],
)
def test_bad_dsns_are_config_errors_naming_the_variable(dsn: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_dsn(dsn, VAR)
    assert info.value.variable == VAR
    assert str(info.value).startswith(VAR)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://postgres@127.0.0.1:15432/convstream",
        "postgresql://u:p@h1:5432,h2:5433/db?sslmode=verify-full&target_session_attrs=read-write",
        "host=/var/run/postgresql dbname=x connect_timeout=5 application_name=x",
    ],
)
def test_good_dsns_pass(dsn: str) -> None:
    check_dsn(dsn, VAR)


@pytest.mark.parametrize(
    "command", [["check", "--only", "postgres"], ["consume", "--until-end"], ["migrate"]]
)
def test_an_invalid_sslmode_exits_3(command: list[str]) -> None:
    env = {
        "CONVSTREAM_POSTGRES__DSN": "postgresql://u:hunter22@127.0.0.1:1/db?sslmode=bogus",
        "CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "consumer.cli", *command], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "sslmode" in proc.stderr
    assert "hunter22" not in proc.stderr + proc.stdout
