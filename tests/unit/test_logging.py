"""Logging: JSON lines, structured fields, secrets redacted."""

from __future__ import annotations

import io
import json
import logging

from consumer.observability.logging import configure_logging, register_secret


def _capture(fmt: str) -> tuple[io.StringIO, logging.Logger]:
    stream = io.StringIO()
    configure_logging("INFO", fmt, stream=stream)  # type: ignore[arg-type]
    return stream, logging.getLogger("convstream.test")


def test_json_lines_with_fields() -> None:
    stream, log = _capture("json")
    log.info("batch committed", extra={"events": 12, "partition": 3})
    record = json.loads(stream.getvalue().strip())
    assert record["msg"] == "batch committed"
    assert record["level"] == "info"
    assert record["events"] == 12
    assert record["partition"] == 3
    assert record["ts"].endswith("Z")


def test_auto_is_json_when_not_a_tty() -> None:
    stream, log = _capture("auto")
    log.warning("hello")
    assert json.loads(stream.getvalue())["msg"] == "hello"


def test_human_format() -> None:
    stream, log = _capture("human")
    log.info("started", extra={"port": 9400})
    line = stream.getvalue()
    assert "started" in line
    assert "port=9400" in line


def test_registered_secrets_never_logged() -> None:
    register_secret("tok-ABCDEF123456")
    stream, log = _capture("json")
    log.info("token is tok-ABCDEF123456", extra={"auth": "Bearer tok-ABCDEF123456"})
    try:
        raise RuntimeError("failed with tok-ABCDEF123456")
    except RuntimeError:
        log.exception("boom")
    out = stream.getvalue()
    assert "tok-ABCDEF123456" not in out
    assert out.count("***") >= 3
