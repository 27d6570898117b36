"""The rules that map an Avro schema onto the domain dataclasses, and the *program* the C reader runs.

:mod:`consumer.codec.fastread` has two engines for one decoding: Python source generated from the schema,
and ``consumer.codec._avroread`` (C) interpreting a program built here. Both take their rules from this
module (:func:`domain_class`, :func:`null_default`, :func:`missing_default`), so they agree by
construction; ``tests/unit/codec/test_avroread.py`` checks that they agree byte for byte.

A program is an immutable nested tuple (the encoding is also documented at the top of
``consumer/codec/_avroread.c``)::

    node  := (OP_NULL,) | (OP_BOOLEAN,) | (OP_LONG,) | (OP_FLOAT,) | (OP_DOUBLE,) | (OP_STRING,)
           | (OP_BYTES,) | (OP_ENUM, symbols) | (OP_FIXED, size) | (OP_ARRAY, items: node)
           | (OP_MAP, values: node) | (OP_UNION, (node, ...)) | (OP_RECORD, cls, (field, ...))
    field := (node | None, slot: member descriptor | None, factory: callable | None, default)

``int`` and ``long`` are both ``OP_LONG``. A record field the class lacks has slot ``None`` (read and
dropped); a class field the schema lacks has node ``None``; a ``None`` value becomes ``factory()`` when
there is a factory (a fresh ``dict`` per record), else ``default``. Fields are in schema order, then the
class fields the schema lacks.

Guarantees:

- A named type (record, enum, fixed) is resolved wherever its name is used; each record is one tuple,
  shared by every place that uses it.
- What the generated reader rejects is rejected here with ``ValueError``: a record without a domain class,
  a class that is not a slots dataclass without ``__post_init__``, a required class field the schema lacks,
  an unsupported type, a union of more than 63 branches. A recursive schema (a record containing itself)
  raises :class:`RecursiveSchemaError`: a finite tuple cannot describe it (the Python engine can read it).

Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = [
    "OP_ARRAY",
    "OP_BOOLEAN",
    "OP_BYTES",
    "OP_DOUBLE",
    "OP_ENUM",
    "OP_FIXED",
    "OP_FLOAT",
    "OP_LONG",
    "OP_MAP",
    "OP_NULL",
    "OP_RECORD",
    "OP_STRING",
    "OP_UNION",
    "NullDefault",
    "Program",
    "RecursiveSchemaError",
    "build_program",
    "domain_class",
    "missing_default",
    "null_default",
]

# The opcodes; the C module exports the same values (a test checks they agree).
OP_NULL: Final = 0
OP_BOOLEAN: Final = 1
OP_LONG: Final = 2
OP_FLOAT: Final = 3
OP_DOUBLE: Final = 4
OP_STRING: Final = 5
OP_BYTES: Final = 6
OP_ENUM: Final = 7
OP_FIXED: Final = 8
OP_ARRAY: Final = 9
OP_MAP: Final = 10
OP_UNION: Final = 11
OP_RECORD: Final = 12

#: A program node (see the module docstring).
Program = tuple[Any, ...]

_PRIMITIVES: Final[Mapping[str, Program]] = {
    "null": (OP_NULL,),
    "boolean": (OP_BOOLEAN,),
    "int": (OP_LONG,),
    "long": (OP_LONG,),
    "float": (OP_FLOAT,),
    "double": (OP_DOUBLE,),
    "string": (OP_STRING,),
    "bytes": (OP_BYTES,),
}
MAX_UNION_BRANCHES: Final = 63


class RecursiveSchemaError(ValueError):
    """A record contains itself: only the generated Python reader can read it."""


@dataclasses.dataclass(frozen=True, slots=True)
class NullDefault:
    """What a ``None`` read for a dataclass field becomes: ``factory()`` if set, else ``value``."""

    factory: Callable[[], Any] | None
    value: Any = None


def domain_class(classes: Mapping[str, type], record_name: str) -> type:
    """The dataclass of a record (by short name), checked to be buildable slot by slot.

    Raises:
        ValueError: no class, or not a slots dataclass without ``__post_init__``.
    """
    cls = classes.get(record_name.rsplit(".", 1)[-1])
    if cls is None:
        raise ValueError(f"no domain class for record {record_name}")
    # Why: both engines create the object without __init__ and set the slots directly.
    if hasattr(cls, "__post_init__") or not hasattr(cls, "__slots__"):
        raise ValueError(f"{cls.__name__} must be a slots dataclass without __post_init__")
    return cls


def null_default(f: dataclasses.Field[Any]) -> NullDefault | None:
    """The default that replaces a ``None`` value of ``f`` (``None`` when ``None`` stays ``None``)."""
    if f.default_factory is not dataclasses.MISSING:
        return NullDefault(factory=f.default_factory)
    if f.default is dataclasses.MISSING or f.default is None:
        return None
    return NullDefault(factory=None, value=f.default)


def missing_default(record_name: str, cls: type, f: dataclasses.Field[Any]) -> NullDefault | None:
    """The value of a class field the schema does not have (``None`` means ``None``).

    Raises:
        ValueError: the field has no default, so the record cannot be built from this schema.
    """
    default = null_default(f)
    if default is None and f.default is dataclasses.MISSING:
        raise ValueError(f"{record_name} lacks {f.name}, which {cls.__name__} requires")
    return default


def _slot(cls: type, name: str) -> Any:
    # The C reader stores through the descriptor's slot offset, and only for the class that defines it.
    descriptor = cls.__dict__.get(name)
    if not isinstance(descriptor, types.MemberDescriptorType):
        raise ValueError(f"{cls.__name__}.{name} is not a slot defined by {cls.__name__} itself")
    return descriptor


def _field(
    node: Program | None, cls: type, f: dataclasses.Field[Any], default: NullDefault | None
) -> Program:
    if default is None:
        return (node, _slot(cls, f.name), None, None)
    return (node, _slot(cls, f.name), default.factory, default.value)


class _Builder:
    def __init__(self, classes: Mapping[str, type], named: Mapping[str, Any]) -> None:
        self.classes = classes
        self.named: dict[str, Any] = dict(named)
        self.records: dict[str, Program] = {}
        self.building: set[str] = set()

    def node(self, schema: Any) -> Program:
        if isinstance(schema, str) and schema in self.named:
            schema = self.named[schema]
        if isinstance(schema, list):
            return self.union(schema)
        kind = schema if isinstance(schema, str) else schema["type"]
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind]
        if kind in ("record", "enum", "fixed"):
            self.named[schema["name"]] = schema
        if kind == "record":
            return self.record(schema)
        if kind == "enum":
            return (OP_ENUM, tuple(schema["symbols"]))
        if kind == "fixed":
            return (OP_FIXED, int(schema["size"]))
        if kind == "array":
            return (OP_ARRAY, self.node(schema["items"]))
        if kind == "map":
            return (OP_MAP, self.node(schema["values"]))
        raise ValueError(f"unsupported Avro type {kind!r}")

    def union(self, branches: list[Any]) -> Program:
        # The readers compare the one-byte branch index (index * 2), which covers 63 branches.
        if len(branches) > MAX_UNION_BRANCHES:
            raise ValueError(f"unions of more than {MAX_UNION_BRANCHES} branches are not supported")
        return (OP_UNION, tuple(self.node(branch) for branch in branches))

    def record(self, schema: Any) -> Program:
        name = schema["name"]
        if name in self.records:
            return self.records[name]
        if name in self.building:
            raise RecursiveSchemaError(f"record {name} contains itself")
        self.building.add(name)
        cls = domain_class(self.classes, name)
        class_fields = {f.name: f for f in dataclasses.fields(cls)}
        fields: list[Program] = []
        for avro_field in schema["fields"]:
            node = self.node(avro_field["type"])
            f = class_fields.pop(avro_field["name"], None)
            fields.append((node, None, None, None) if f is None else _field(node, cls, f, null_default(f)))
        fields += [_field(None, cls, f, missing_default(name, cls, f)) for f in class_fields.values()]
        program = (OP_RECORD, cls, tuple(fields))
        self.records[name] = program
        self.building.discard(name)
        return program


def build_program(parsed_schema: Mapping[str, Any], classes: Mapping[str, type]) -> Program:
    """The program of a top-level record schema (fastavro-parsed, logical types stripped).

    Raises:
        ValueError: as the generated reader (see the module docstring); RecursiveSchemaError for a record
            that contains itself.
    """
    if parsed_schema.get("type") != "record":
        raise ValueError("the top-level schema must be a record")
    return _Builder(classes, parsed_schema.get("__named_schemas", {})).record(parsed_schema)
