"""The layers import one way only (README "Repository layout"): a module never imports a higher layer.

From the top: the command line, the composition roots (``app``), operations (``ops``), the two loops
(``consume``, ``bridge``), the I/O edges (adapters, observability, the simulator, the Genesys Cloud client,
runtime tuning), the pure core (Genesys normalization, codec, domain, ports), and at the bottom errors and
settings. Imports inside functions count too: a lazy import is still an edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Module prefix -> layer (higher imports lower; the longest matching prefix wins).
LAYERS: dict[str, int] = {
    "consumer.cli": 7,
    "consumer.commands": 7,
    "consumer.app": 6,
    "consumer.ops": 5,
    "consumer.consume": 4,
    "consumer.bridge": 4,
    "consumer.adapters": 3,
    "consumer.observability": 3,
    "consumer.simulate": 3,
    "consumer.genesys.cloud": 3,
    "consumer.runtime": 3,
    "consumer.genesys": 2,
    "consumer.codec": 2,
    "consumer.domain": 2,
    "consumer.ports": 2,
    "consumer.errors": 1,
    "consumer.settings": 1,
    "consumer.settings_fields": 1,
    "consumer": 1,
}
#: Packages of one layer that must not import each other either (the two loops are independent).
SIBLINGS_APART = (("consumer.consume", "consumer.bridge"),)


def _layer(module: str) -> tuple[int, str]:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best], best


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # ``from consumer.x import y``: y may be a submodule
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return [(line, m) for line, m in found if m == "consumer" or m.startswith("consumer.")]


def _upward(importer: str, source: str) -> list[str]:
    """The imports in ``source`` (the text of module ``importer``) that go up a layer or sideways."""
    level, group = _layer(importer)
    bad: dict[int, str] = {}  # one finding per import statement
    for line, imported in _imports(ast.parse(source)):
        their_level, their_group = _layer(imported)
        apart = any({group, their_group} == set(pair) for pair in SIBLINGS_APART)
        if their_level > level or apart:
            bad.setdefault(
                line, f"{importer}:{line} imports {imported} (layer {their_level}, its own {level})"
            )
    return list(bad.values())


SOURCES = sorted((ROOT / "consumer").rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    assert _upward(_module_name(path), path.read_text()) == []


def test_every_module_has_a_layer() -> None:
    """A new top-level module or package must be placed in :data:`LAYERS` (it would fall to the bottom)."""
    unplaced = [m for m in map(_module_name, SOURCES) if _layer(m)[1] == "consumer" and m != "consumer"]
    assert unplaced == []


@pytest.mark.parametrize(
    ("importer", "source"),
    [
        ("consumer.ops.rebuild", "def f():\n    from consumer.commands.consume import build_pipeline\n"),
        ("consumer.genesys.cloud.source", "from consumer.bridge.publish import BadLine\n"),
        ("consumer.observability.metrics", "import consumer.bridge.publish\n"),
        ("consumer.bridge.workers", "from consumer import cli\n"),
        ("consumer.consume.pipeline", "from consumer.bridge.sources import file_items\n"),
        ("consumer.codec.avro", "from consumer.adapters.kafka.client import KafkaAdmin\n"),
    ],
)
def test_the_check_catches_an_upward_import(importer: str, source: str) -> None:
    assert len(_upward(importer, source)) == 1


def test_downward_imports_pass() -> None:
    source = (
        "from consumer.ports import Record\nfrom consumer.errors import ConfigError\nimport consumer.domain\n"
    )
    assert _upward("consumer.consume.batching", source) == []
