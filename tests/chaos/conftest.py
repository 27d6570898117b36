"""The chaos table: one line per scenario run in this session, printed after the test summary."""

from __future__ import annotations

from typing import Any

from tests.chaos.harness import MODE, RESULTS, table

__all__ = ["pytest_terminal_summary"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    terminalreporter.section(f"chaos results ({MODE})")
    for line in table(RESULTS):
        terminalreporter.write_line(line)
