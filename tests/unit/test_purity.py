"""The pure core (docs/CONTRIBUTING.md): no I/O clients imported, no clock, randomness or logging used."""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

PURE_MODULES = ("consumer.domain", "consumer.codec", "consumer.genesys.normalize")
FORBIDDEN_IMPORTS = (
    "confluent_kafka", "psycopg", "psycopg_pool", "httpx", "httpx2", "requests", "prometheus_client",
    "websockets", "websocket", "aiohttp", "urllib3", "socket", "ssl", "http.client", "asyncio",
)  # fmt: skip
FORBIDDEN_CALLS = {
    ("time", "time"), ("time", "time_ns"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "sleep"),
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
}  # fmt: skip
FORBIDDEN_NAMESPACES = {"random", "logging", "secrets", "os", "subprocess"}
FORBIDDEN_BUILTINS = {"open", "print", "input"}
ROOT = Path(__file__).resolve().parents[2]


def _present() -> list[str]:
    present = [m for m in PURE_MODULES if importlib.util.find_spec(m.rsplit(".", 1)[0]) is not None]
    return [m for m in present if importlib.util.find_spec(m) is not None]


def test_domain_is_checked() -> None:
    assert "consumer.domain" in _present()


@functools.cache
def _loaded() -> tuple[str, ...]:
    """Every module loaded by importing the pure core in a fresh interpreter."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {_present()!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return tuple(json.loads(out.stdout))


def test_importing_the_pure_core_pulls_in_no_io_client() -> None:
    bad = sorted(m for m in _loaded() if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_IMPORTS))
    assert bad == [], f"pure core imports I/O modules: {bad}"


def _sources() -> list[Path]:
    """The pure modules and every ``consumer`` module they import (all of it must be pure)."""
    files: set[Path] = set()
    for module in _present():
        spec = importlib.util.find_spec(module)
        assert spec is not None
        assert spec.origin is not None
        origin = Path(spec.origin)
        files.update(origin.parent.rglob("*.py") if origin.name == "__init__.py" else [origin])
    for module in _loaded():
        if module == "consumer" or module.startswith("consumer."):
            spec = importlib.util.find_spec(module)
            if spec is not None and spec.origin is not None and spec.origin.endswith(".py"):
                files.add(Path(spec.origin))
    return sorted(files)


def _violations(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in FORBIDDEN_CALLS or node.value.id in FORBIDDEN_NAMESPACES:
                found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            if (node.value.attr, node.attr) in FORBIDDEN_CALLS:
                found.append(f"{node.lineno}: ….{node.value.attr}.{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FORBIDDEN_BUILTINS
        ):
            found.append(f"{node.lineno}: {node.func.id}()")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{node.lineno}: import {n}" for n in names if n.split(".")[0] in FORBIDDEN_NAMESPACES]
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_source_uses_no_clock_randomness_logging_or_io(path: Path) -> None:
    assert _violations(ast.parse(path.read_text(), str(path))) == []


def test_the_scan_catches_violations() -> None:
    src = (
        "import random\nimport time\nx = time.time()\ny = datetime.datetime.now()\n"
        "logging.info('x')\nopen('f')\n"
    )
    assert len(_violations(ast.parse(src))) == 5
