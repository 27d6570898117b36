"""URL userinfo (credentials) never shows: not in log lines, not in printed errors, not in ``check``."""

from __future__ import annotations

import argparse
import json
import logging

import pytest

from consumer.commands import check
from consumer.observability.logging import JsonFormatter, redact, redact_url

SECRET_URL = "http://user:s3cr3t-pw@registry.example:8081/apis/ccompat/v7"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (SECRET_URL, "http://***@registry.example:8081/apis/ccompat/v7"),
        ("failed: postgresql://app:pw@db:5432/x (timeout)", "failed: postgresql://***@db:5432/x (timeout)"),
        ("https://token@host/path?a=b@c", "https://***@host/path?a=b@c"),
        ("http://host:80/a@b and mail a@b", "http://host:80/a@b and mail a@b"),  # no userinfo: unchanged
    ],
)
def test_userinfo_is_redacted(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_redact_url_keeps_the_rest_of_the_url() -> None:
    assert redact_url("http://registry:8081") == "http://registry:8081"
    assert redact_url(SECRET_URL).endswith("@registry.example:8081/apis/ccompat/v7")


def test_log_lines_never_carry_url_credentials() -> None:
    record = logging.makeLogRecord(
        {"msg": f"registry unavailable at {SECRET_URL}", "levelno": logging.WARNING, "levelname": "WARNING"}
    )
    record.url = SECRET_URL
    line = JsonFormatter().format(record)
    assert "s3cr3t-pw" not in line
    assert "user:" not in line
    assert json.loads(line)["url"] == "http://***@registry.example:8081/apis/ccompat/v7"


def test_check_shows_the_registry_url_without_its_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(check, "command_settings", lambda args: None)
    monkeypatch.setattr(check, "_probes", lambda settings, timeout: {"registry": (SECRET_URL, lambda: None)})
    assert check.run(argparse.Namespace(only=None, timeout=1.0)) == 0
    out = capsys.readouterr().out
    assert "s3cr3t-pw" not in out
    assert "registry ok" in " ".join(out.split()[:2])
    assert "http://***@registry.example:8081" in out
