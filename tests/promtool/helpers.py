"""Helpers shared by the dashboard and alert tests: promtool, Grafana panel walking, macro substitution."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "DASHBOARDS",
    "ROOT",
    "RULES",
    "RUNBOOK",
    "TESTS",
    "dashboards",
    "panels",
    "prom_queries",
    "promtool",
    "render_prom",
    "render_sql",
    "sql_queries",
]

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "helm" / "convstream" / "dashboards"
RULES = ROOT / "helm" / "convstream" / "rules" / "convstream.rules.yaml"
TESTS = Path(__file__).resolve().parent / "convstream.rules.test.yaml"
RUNBOOK = ROOT / "docs" / "runbook.md"

#: Grafana's built-in Prometheus variables, as the live test evaluates them.
PROM_BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m", "__range_s": "300"}


def promtool() -> str:
    """The promtool binary; fails (never skips) when it is missing: `make test` installs it."""
    found = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
    if found is None:
        pytest.fail(
            "promtool not found (Debian package `prometheus`): run `scripts/devstack up`, which installs it, "
            "or `apt-get install prometheus`",
            pytrace=False,
        )
    return found


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON by file name."""
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def _queries(dashboard: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    out = []
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            if key in target:
                out.append((f"{panel['title']} / {target['refId']}", target[key]))
    return out


def prom_queries(dashboard: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(panel / refId, expr)`` of every Prometheus target."""
    return _queries(dashboard, "expr")


def sql_queries(dashboard: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(panel / refId, rawSql)`` of every SQL target."""
    return _queries(dashboard, "rawSql")


def render_prom(expr: str, variables: Mapping[str, str]) -> str:
    """Substitute ``$var``, ``${var}``, ``${var:fmt}`` (built-ins first, then ``variables``)."""
    values = {**PROM_BUILTINS, **variables}

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", sub, expr)


def render_sql(sql: str, window_seconds: int = 86400) -> str:
    """Grafana's Postgres macros as Grafana expands them, over the last ``window_seconds`` (default 24 h)."""
    window = f"now() - interval '{int(window_seconds)} seconds'"

    def group(match: re.Match[str], alias: bool) -> str:
        column, interval = match.group(1).strip(), match.group(2)
        seconds = _seconds(interval)
        expr = f"to_timestamp(floor(extract(epoch FROM {column}) / {seconds}) * {seconds})"
        return f'{expr} AS "time"' if alias else expr

    sql = re.sub(r"\$__timeGroupAlias\(([^,]+),\s*'([^']+)'\)", lambda m: group(m, True), sql)
    sql = re.sub(r"\$__timeGroup\(([^,]+),\s*'([^']+)'\)", lambda m: group(m, False), sql)
    sql = re.sub(
        r"\$__timeFilter\(([^)]+)\)", lambda m: f"{m.group(1).strip()} BETWEEN {window} AND now()", sql
    )
    sql = sql.replace("$__timeFrom()", window).replace("$__timeTo()", "now()")
    if "$" in sql:
        raise KeyError(f"unsubstituted Grafana variable or macro in {sql!r}")
    return sql


def _seconds(interval: str) -> int:
    number, unit = int(interval[:-1]), interval[-1]
    return number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
