"""Schema compatibility checks and registration (``convstream schemas check|register``).

The rule (README): every current schema ``<schema_dir>/<stem>.avsc`` must be BACKWARD_TRANSITIVE
compatible with every released version ``<history_dir>/<stem>/v<N>.avsc`` — data written with any released
version must be readable with the current one.

:func:`check_local` proves it without a registry, in two ways per history version:

1. Static: walk writer (old) and reader (new) schemas together following Avro's resolution rules; a reader
   field missing from the writer needs a default, types must match or promote, union branches must
   resolve, enum symbols must be kept. Each problem names the field, e.g.
   ``ConversationEvent.body.DetailEvent.new_field``. Writer fields the reader dropped are warnings only
   (they break FORWARD, not BACKWARD, compatibility).
2. Dynamic: deterministic sample records (all optionals null; all optionals set, once per union branch) are
   written with the old schema and read with the new one by fastavro.

:func:`check_registry` asks the registry too; :func:`register` registers the current schemas.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import expand_schema

from consumer.adapters.schema_registry import BACKWARD_TRANSITIVE, SchemaRegistry
from consumer.codec.schemas import SCHEMA_STEMS

__all__ = [
    "CheckReport",
    "check_local",
    "check_registry",
    "default_schema_dir",
    "history_versions",
    "register",
]

_PROMOTIONS: Final = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}
_NAMED: Final = frozenset({"record", "enum", "fixed"})
_VERSION_FILE: Final = re.compile(r"^v(\d+)\.avsc$")


@dataclass
class CheckReport:
    """Outcome of a check: ``problems`` fail it (one line each), ``warnings`` and ``notes`` do not."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no problem."""
        return not self.problems


def default_schema_dir() -> Path:
    """The repository's ``schemas/`` when running from a checkout, else the packaged copies."""
    package = Path(__file__).resolve().parent.parent
    repo = package.parent / "schemas"
    return repo if repo.is_dir() else package / "schemas"


def history_versions(history_dir: Path, stem: str) -> list[tuple[int, Path]]:
    """Released versions of ``stem``, oldest first: ``[(1, …/v1.avsc), …]``."""
    directory = history_dir / stem
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _VERSION_FILE.match(p.name))]
    return sorted(found)


# ------------------------------------------------------------------------------------ static rules


def _kind(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        inner = schema["type"]
        return inner if isinstance(inner, str) else _kind(inner)
    return str(schema)


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _names(schema: Mapping[str, Any]) -> set[str]:
    own = str(schema.get("name", ""))
    return {_short(own)} | {_short(str(a)) for a in schema.get("aliases", [])}


def _matches(writer: Any, reader: Any) -> bool:
    """Whether a writer type can be resolved to a reader type at this level (Avro spec rules)."""
    wk, rk = _kind(writer), _kind(reader)
    if rk == "union":
        return any(_matches(writer, branch) for branch in reader)
    if wk in _NAMED or rk in _NAMED:
        return wk == rk and _short(str(writer["name"])) in _names(reader)
    return rk in _PROMOTIONS.get(wk, {wk})


def _reader_branch(writer: Any, reader_union: list[Any]) -> Any | None:
    return next((branch for branch in reader_union if _matches(writer, branch)), None)


class _Static:
    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []

    def compare(self, writer: Any, reader: Any, path: str) -> None:
        wk = _kind(writer)
        if wk == "union":
            for branch in writer:
                self.compare(branch, reader, path)
        elif _kind(reader) == "union":
            self.into_union(writer, reader, path)
        elif not _matches(writer, reader):
            self.problems.append((path, f"changed type from {_describe(writer)} to {_describe(reader)}"))
        elif wk == "record":
            self.record(writer, reader, path)
        elif wk == "array":
            self.compare(writer["items"], reader["items"], f"{path}[]")
        elif wk == "map":
            self.compare(writer["values"], reader["values"], f"{path}{{}}")
        elif wk == "enum":
            lost = [s for s in writer["symbols"] if s not in reader["symbols"]]
            if lost and "default" not in reader:
                self.problems.append((path, f"lost enum symbols {lost} and has no enum default"))
        elif wk == "fixed" and writer["size"] != reader["size"]:
            self.problems.append((path, f"changed fixed size from {writer['size']} to {reader['size']}"))

    def into_union(self, writer: Any, reader: list[Any], path: str) -> None:
        branch = _reader_branch(writer, reader)
        if branch is None:
            self.problems.append((path, f"changed type: {_describe(writer)} is not in {_describe(reader)}"))
            return
        named_branches = [b for b in reader if _kind(b) in _NAMED]
        if _kind(branch) == "record" and len(named_branches) > 1:
            path = f"{path}.{_short(str(branch['name']))}"
        self.compare(writer, branch, path)

    def record(self, writer: Mapping[str, Any], reader: Mapping[str, Any], path: str) -> None:
        by_name = {f["name"]: f for f in writer["fields"]}
        seen: set[str] = set()
        for reader_field in reader["fields"]:
            names = [reader_field["name"], *reader_field.get("aliases", [])]
            writer_field = next((by_name[n] for n in names if n in by_name), None)
            where = f"{path}.{reader_field['name']}"
            if writer_field is None:
                if "default" not in reader_field:
                    self.problems.append((where, "has no default"))
                continue
            seen.add(writer_field["name"])
            self.compare(writer_field["type"], reader_field["type"], where)
        for name, writer_field in by_name.items():
            if name not in seen and "default" not in writer_field:
                self.warnings.append(
                    (f"{path}.{name}", "was removed and had no default (breaks FORWARD only)")
                )


def _describe(schema: Any) -> str:
    kind = _kind(schema)
    if kind == "union":
        return "[" + ", ".join(_describe(b) for b in schema) + "]"
    if kind in _NAMED:
        return f"{kind} {_short(str(schema['name']))}"
    return kind


# ------------------------------------------------------------------------------------ dynamic rules


def _sample(schema: Any, variant: int | None) -> Any:
    """A deterministic value of ``schema``: ``variant`` None sets optionals null, k picks union branch k."""
    kind = _kind(schema)
    if kind == "union":
        non_null = [b for b in schema if _kind(b) != "null"]
        if (variant is None and len(non_null) < len(schema)) or not non_null:
            return None
        branch = non_null[(variant or 0) % len(non_null)]
        value = _sample(branch, variant)
        return (branch["name"], value) if _kind(branch) == "record" and len(non_null) > 1 else value
    if kind == "record":
        return {f["name"]: _sample(f["type"], variant) for f in schema["fields"]}
    if kind == "array":
        return [] if variant is None else [_sample(schema["items"], variant)]
    if kind == "map":
        return {} if variant is None else {"k": _sample(schema["values"], variant)}
    if kind == "enum":
        return schema["symbols"][0]
    if kind == "fixed":
        return b"\0" * int(schema["size"])
    samples: dict[str, Any] = {
        "null": None,
        "boolean": True,
        "int": 7,
        "long": 1_700_000_000_000,
        "float": 1.5,
        "double": 2.5,
        "bytes": b"b",
        "string": "s",
    }
    return samples[kind]


def _union_width(schema: Any) -> int:
    kind = _kind(schema)
    if kind == "union":
        return max([len(schema), *(_union_width(b) for b in schema)])
    if kind == "record":
        return max([1, *(_union_width(f["type"]) for f in schema["fields"])])
    if kind == "array":
        return _union_width(schema["items"])
    if kind == "map":
        return _union_width(schema["values"])
    return 1


def _dynamic(writer_doc: Any, reader_doc: Any) -> str | None:
    writer, reader = parse_schema(writer_doc), parse_schema(reader_doc)
    expanded = expand_schema(writer_doc)
    for variant in [None, *range(_union_width(expanded))]:
        buffer = io.BytesIO()
        schemaless_writer(buffer, writer, _sample(expanded, variant))
        buffer.seek(0)
        try:
            schemaless_reader(buffer, writer, reader)
        except Exception as exc:  # any failure to read is the finding itself
            return f"a sample written with it does not read: {type(exc).__name__}: {exc}"
    return None


# ------------------------------------------------------------------------------------ checks


def _compare_versions(label: str, version: str, old_doc: Any, new_doc: Any, report: CheckReport) -> None:
    prefix = f"{label} is not backward compatible with history {version}"
    static = _Static()
    static.compare(expand_schema(old_doc), expand_schema(new_doc), _short(str(new_doc.get("name", "?"))))
    report.problems += [f"{prefix}: field {where} {why}" for where, why in static.problems]
    report.warnings += [
        f"{label} vs history {version}: field {where} {why}" for where, why in static.warnings
    ]
    if not static.problems and (finding := _dynamic(old_doc, new_doc)) is not None:
        report.problems.append(f"{prefix}: {finding}")


def check_local(
    schema_dir: Path, history_dir: Path | None = None, stems: tuple[str, ...] = SCHEMA_STEMS
) -> CheckReport:
    """Check every current schema against every released version of it (see the module docstring).

    Args:
        schema_dir: directory holding ``<stem>.avsc``.
        history_dir: directory holding ``<stem>/v<N>.avsc``; defaults to ``schema_dir / "history"``.
        stems: which schemas to check.
    """
    history_dir = history_dir if history_dir is not None else schema_dir / "history"
    report = CheckReport()
    for stem in stems:
        current_path = schema_dir / f"{stem}.avsc"
        label = _label(current_path)
        try:
            new_doc = json.loads(current_path.read_text(encoding="utf-8"))
            parse_schema(new_doc)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"{label}: cannot load: {exc}")
            continue
        versions = history_versions(history_dir, stem)
        if not versions:
            report.notes.append(f"{label}: no released versions under {history_dir / stem}")
        for number, path in versions:
            old_doc = json.loads(path.read_text(encoding="utf-8"))
            _compare_versions(label, f"v{number}", old_doc, new_doc, report)
        report.notes.append(f"{label}: checked against {len(versions)} released version(s)")
    return report


def _label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def check_registry(registry: SchemaRegistry, subjects: Mapping[str, str], schema_dir: Path) -> CheckReport:
    """Ask the registry whether each current schema is compatible with every version of its subject.

    Args:
        subjects: schema stem -> subject, e.g. ``{"queue": "genesys.routing.queues-value"}``.

    A subject whose compatibility level is not BACKWARD_TRANSITIVE is a problem (the registry would accept
    breaking changes); a subject that does not exist yet is a note.
    """
    report = CheckReport()
    for stem, subject in subjects.items():
        text = (schema_dir / f"{stem}.avsc").read_text(encoding="utf-8")
        versions = registry.versions(subject)
        if not versions:
            report.notes.append(f"registry: {subject} has no versions yet (nothing to check)")
            continue
        level = registry.compatibility(subject)
        if level != BACKWARD_TRANSITIVE:
            report.problems.append(
                f"registry: {subject} compatibility is {level or 'unset (registry default)'}, "
                f"expected {BACKWARD_TRANSITIVE}; run `convstream schemas register`"
            )
        for version in versions:
            if not registry.check_compatibility(subject, text, version):
                report.problems.append(
                    f"registry: {stem}.avsc is not compatible with {subject} version {version}"
                )
        report.notes.append(f"registry: {subject}: checked against {len(versions)} version(s)")
    return report


def register(registry: SchemaRegistry, subjects: Mapping[str, str], schema_dir: Path) -> dict[str, int]:
    """Register each current schema under its subject and set the subject to BACKWARD_TRANSITIVE
    (:meth:`SchemaRegistry.register_backward_transitive`, the steps the bridge follows too).

    Returns:
        subject -> schema id.
    """
    ids: dict[str, int] = {}
    for stem, subject in subjects.items():
        text = (schema_dir / f"{stem}.avsc").read_text(encoding="utf-8")
        ids[subject] = registry.register_backward_transitive(subject, text)
    return ids
