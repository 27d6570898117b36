"""Logging: JSON lines by default, a human format on a TTY; secrets never reach a log line.

Every record is one JSON object with ``ts`` (UTC, ms), ``level``, ``logger``, ``msg`` and any fields passed
through ``extra={...}``. Values registered with :func:`register_secret` are replaced by ``***`` in the
message and in every field before the line is written, and so is the userinfo of every URL
(``http://user:password@host`` -> ``http://***@host``), registered or not.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from typing import Any, Literal, TextIO

__all__ = ["JsonFormatter", "configure_logging", "redact", "redact_url", "register_secret"]

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_secrets: set[str] = set()
#: ``scheme://userinfo@``: the userinfo (credentials) of a URL, up to the last ``@`` before the host.
_URL_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/?#@\"']+@")
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Never let ``value`` appear in a log line (tokens, passwords, client secrets)."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret and URL userinfo replaced by ``***`` (for lines printed
    outside logging)."""
    return _redact(text)


def redact_url(url: str) -> str:
    """``url`` without its userinfo (``scheme://***@host…``), for showing a configured URL."""
    return _URL_USERINFO.sub(r"\1***@", url)


def _redact(text: str) -> str:
    if "://" in text:
        text = _URL_USERINFO.sub(r"\1***@", text)
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)  # a longer secret may contain a shorter one
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        payload: dict[str, Any] = {
            "ts": f"{ts}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update(_extra_fields(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return _redact(json.dumps(payload, default=str, ensure_ascii=False))


class HumanFormatter(logging.Formatter):
    """``HH:MM:SS level logger: message key=value …`` for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = " ".join(f"{k}={v}" for k, v in _extra_fields(record).items())
        line = f"{ts} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        if fields:
            line = f"{line}  {fields}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return _redact(line)


def configure_logging(
    level: str = "INFO",
    fmt: Literal["auto", "json", "human"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Send all logs to ``stream`` (stderr by default) in the chosen format; idempotent."""
    out = stream if stream is not None else sys.stderr
    human = fmt == "human" or (fmt == "auto" and out.isatty())
    handler = logging.StreamHandler(out)
    handler.setFormatter(HumanFormatter() if human else JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpx2", "httpcore", "urllib3", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
