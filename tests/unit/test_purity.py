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

#: Every pure module or package (a package: all of its modules). A name that cannot be found fails the test.
PURE_MODULES = (
    "consumer.domain",
    "consumer.codec",
    "consumer.ports",
    *(
        f"consumer.genesys.{name}"
        for name in (
            "_fast", "_fields", "details", "entries", "enums", "jsonl", "keys", "normalize", "pii",
            "records", "regions", "snapshots", "text", "times",
        )
    ),
)  # fmt: skip
#: The Genesys modules that do I/O (HTTP, websockets, clock, logging), in ``consumer/genesys/cloud/``: every
#: module directly in ``consumer/genesys/`` must be listed above.
GENESYS_IO_MODULES = frozenset(
    {"analytics", "auth", "client", "directory", "metrics", "notifications", "source"}
)
#: Core modules that may log or keep time but must not load a client library, even indirectly: they talk to
#: Kafka and PostgreSQL only through :mod:`consumer.ports`.
CLIENT_FREE_MODULES = (
    "consumer.ports",
    "consumer.consume.batching",
    "consumer.consume.known",
    "consumer.consume.partitions",
)
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


def _found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package does not exist
        return False


def _present() -> list[str]:
    """The pure modules that exist (a missing one fails ``test_every_pure_module_is_found``)."""
    return [m for m in PURE_MODULES if _found(m)]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_every_pure_module_is_found(module: str) -> None:
    assert _found(module), f"{module} is listed as pure but cannot be imported: update PURE_MODULES"


def test_the_missing_module_check_fails_on_a_missing_module() -> None:
    assert not _found("consumer.no_such_module")
    assert not _found("consumer.no_such_package.module")


def test_every_genesys_module_is_classified() -> None:
    listed = {m.rsplit(".", 1)[1] for m in PURE_MODULES if m.startswith("consumer.genesys.")}
    on_disk = {p.stem for p in (ROOT / "consumer" / "genesys").glob("*.py") if p.stem != "__init__"}
    assert listed.isdisjoint(GENESYS_IO_MODULES)
    cloud = {p.stem for p in (ROOT / "consumer" / "genesys" / "cloud").glob("*.py") if p.stem != "__init__"}
    assert on_disk == listed, "classify new Genesys modules as pure (or move I/O ones to genesys/cloud/)"
    assert cloud == GENESYS_IO_MODULES, "classify new Genesys modules as pure or I/O"


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


@pytest.mark.parametrize("module", CLIENT_FREE_MODULES)
def test_core_module_loads_no_client_library(module: str) -> None:
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = json.loads(out.stdout)
    bad = sorted(m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_IMPORTS))
    assert bad == [], f"{module} loads client libraries: {bad}"


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
