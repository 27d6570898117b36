"""A specialised Avro binary reader built from a schema, creating the domain dataclasses directly.

Why: fastavro's generic reader costs ~0.5 µs per field plus a dict per record, and the snapshot schema has
over a hundred fields per event; the consumer's decode budget is a few tens of µs per event. Two engines:

- ``"c"``: the C extension ``consumer.codec._avroread`` interprets a program built once from the schema
  (:mod:`consumer.codec.fastread_program`); a few µs per ~1 KB event. Built by ``pip install`` (optional,
  ``pyproject.toml``: an install without a C compiler still works).
- ``"python"``: straight-line Python generated from the schema (one function per record type, varints
  inlined for the common one-byte case); the fallback, and the reference the C engine is tested against.

``compile_reader(..., engine="auto")`` (the default) uses C when the extension is built and the schema is
not recursive, else Python; :data:`C_AVAILABLE` says whether it is built.

Guarantees:

- Reads exactly the Avro binary encoding of the schema it was built from; the output is what
  ``fastavro.schemaless_reader`` + dict-to-dataclass conversion would give (property-tested in
  ``tests/unit/codec/test_avro.py``), and both engines give equal values of the same types and raise the
  same exception types on the same input (``tests/unit/codec/test_avroread.py``).
- Records map to the dataclasses of the same short name; a field of the schema the dataclass does not have
  is read and dropped; a dataclass field the schema does not have keeps its dataclass default; a null in a
  field whose dataclass default is not None (tuples, maps) becomes that default (a fresh ``dict`` per
  record); arrays become tuples. The rules live in :mod:`consumer.codec.fastread_program`.
- Truncated input, lengths past the end, bad union or enum indexes, varints over 10 bytes and invalid
  UTF-8 raise ``EOFError`` / ``IndexError`` / ``ValueError`` / ``struct.error``; the caller translates
  them. Trailing bytes are reported by the caller.
- A schema the readers do not support raises ``ValueError`` when compiling, never at read time.

Only used when the writer schema is identical (same Parsing Canonical Form) to the one it was built
from; other writers go through fastavro's schema resolution. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from consumer.codec.fastread_program import (
    NullDefault,
    Program,
    RecursiveSchemaError,
    build_program,
    domain_class,
    missing_default,
    null_default,
)

__all__ = ["C_AVAILABLE", "Engine", "Reader", "compile_reader"]

#: ``reader(buf) -> (value, end_position)``
Reader = Callable[[bytes], tuple[Any, int]]
#: ``"c"``, ``"python"``, or ``"auto"``: C when built (and the schema is not recursive), else Python.
Engine = Literal["auto", "c", "python"]


def _load_c_reader() -> Callable[[Program, bytes], tuple[Any, int]] | None:
    try:
        from consumer.codec._avroread import read
    except ImportError:  # not built (installed without a C compiler): the Python engine is used
        return None
    return read


_C_READ: Final = _load_c_reader()
#: Whether the C engine (``consumer.codec._avroread``) is built and importable.
C_AVAILABLE: Final = _C_READ is not None

_DOUBLE: Final = struct.Struct("<d")
_FLOAT: Final = struct.Struct("<f")


def _varint(buf: bytes, pos: int, first: int) -> tuple[int, int]:
    """Continue a zig-zag varint whose first byte (already consumed) had the continuation bit set."""
    result = first & 0x7F
    shift = 7
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _eof(size: int, pos: int, length: int) -> None:
    raise EOFError(f"length {size} at byte {pos} runs past the end ({length} bytes)")


class _Gen:
    """Emits one function per named record; nested unnamed types are inlined."""

    def __init__(self, classes: Mapping[str, type]) -> None:
        self.classes = classes
        self.functions: dict[str, list[str]] = {}
        self.named: dict[str, Any] = {}
        self.tmp = 0
        self.setters: dict[str, Any] = {}

    def var(self) -> str:
        self.tmp += 1
        return f"v{self.tmp}"

    def long(self, out: list[str], ind: str, target: str) -> None:
        out += [
            f"{ind}b = buf[pos]; pos += 1",
            f"{ind}if b & 0x80: {target}, pos = _varint(buf, pos, b)",
            f"{ind}else: {target} = (b >> 1) ^ -(b & 1)",
        ]

    def value(self, schema: Any, out: list[str], ind: str, target: str) -> None:
        if isinstance(schema, str) and schema in self.named:
            schema = self.named[schema]
        if isinstance(schema, list):
            self.union(schema, out, ind, target)
            return
        kind = schema if isinstance(schema, str) else schema["type"]
        if kind == "null":
            out.append(f"{ind}{target} = None")
        elif kind == "boolean":
            out.append(f"{ind}{target} = buf[pos] != 0; pos += 1")
        elif kind in ("int", "long"):
            self.long(out, ind, target)
        elif kind in ("double", "float"):
            fmt = "_DOUBLE" if kind == "double" else "_FLOAT"
            out.append(f"{ind}{target} = {fmt}.unpack_from(buf, pos)[0]; pos += {fmt}.size")
        elif kind in ("string", "bytes"):
            self.long(out, ind, "n")
            decode = ".decode()" if kind == "string" else ""
            out += [
                f"{ind}end = pos + n",
                f"{ind}if n < 0 or end > blen: _eof(n, pos, blen)",
                f"{ind}{target} = buf[pos:end]{decode}; pos = end",
            ]
        elif kind == "record":
            self.record(schema)
            out.append(f"{ind}{target}, pos = {self.fn_name(schema['name'])}(buf, pos)")
        elif kind == "enum":
            self.long(out, ind, "n")
            # A negative index must not pick a symbol from the end (Python indexing).
            out.append(f"{ind}if n < 0: raise IndexError(f'enum index {{n}} out of range')")
            out.append(f"{ind}{target} = {tuple(schema['symbols'])!r}[n]")
        elif kind == "fixed":
            out += [
                f"{ind}end = pos + {schema['size']}",
                f"{ind}if end > blen: _eof({schema['size']}, pos, blen)",
                f"{ind}{target} = buf[pos:end]; pos = end",
            ]
        elif kind in ("array", "map"):
            self.block(schema, out, ind, target)
        else:
            raise ValueError(f"unsupported Avro type {kind!r}")

    def block(self, schema: Any, out: list[str], ind: str, target: str) -> None:
        items, item = self.var(), self.var()
        is_map = schema["type"] == "map"
        out.append(f"{ind}{items} = {{}}" if is_map else f"{ind}{items} = []")
        out.append(f"{ind}while True:")
        self.long(out, ind + "    ", "count")
        out += [
            f"{ind}    if count == 0: break",
            f"{ind}    if count < 0:",
            f"{ind}        count = -count",
        ]
        self.long(out, ind + "        ", "n")
        out.append(f"{ind}    for _ in range(count):")
        inner = ind + "        "
        if is_map:
            key = self.var()
            self.value("string", out, inner, key)
            self.value(schema["values"], out, inner, item)
            out.append(f"{inner}{items}[{key}] = {item}")
        else:
            self.value(schema["items"], out, inner, item)
            out.append(f"{inner}{items}.append({item})")
        out.append(f"{ind}{target} = {items}" if is_map else f"{ind}{target} = tuple({items})")

    def union(self, branches: list[Any], out: list[str], ind: str, target: str) -> None:
        # Branch indexes below 64 are one zig-zag byte (index * 2): compare the byte, skip the varint.
        if len(branches) > 63:
            raise ValueError("unions of more than 63 branches are not supported")
        out.append(f"{ind}b = buf[pos]; pos += 1")
        for index, branch in enumerate(branches):
            keyword = "if" if index == 0 else "elif"
            if branch == "null":
                out.append(f"{ind}{keyword} b == {index * 2}: {target} = None")
                continue
            out.append(f"{ind}{keyword} b == {index * 2}:")
            self.value(branch, out, ind + "    ", target)
        out.append(f"{ind}else: raise ValueError(f'union index byte {{b}} out of range')")

    def fn_name(self, fullname: str) -> str:
        return "read_" + fullname.replace(".", "_")

    def record(self, schema: Any) -> None:
        name = schema["name"]
        self.named[name] = schema
        if name in self.functions:
            return
        self.functions[name] = []  # placeholder: recursive schemas refer to the function by name
        cls = domain_class(self.classes, name)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        # Why not cls(**kwargs): a frozen dataclass __init__ goes through object.__setattr__ per field; the
        # slot descriptors set the same slots in half the time. Every slot is set exactly once below.
        out = [f"def {self.fn_name(name)}(buf, pos):", "    blen = len(buf)", f"    o = _new({cls.__name__})"]
        for avro_field in schema["fields"]:
            target = self.var()
            self.value(avro_field["type"], out, "    ", target)
            domain_field = fields.pop(avro_field["name"], None)
            if domain_field is None:
                continue  # a field the domain does not know: read past it
            default = _default_source(null_default(domain_field))
            if default is not None:
                out.append(f"    if {target} is None: {target} = {default}")
            out.append(f"    {self.setter(cls, domain_field.name)}(o, {target})")
        for missing in fields.values():
            default = _default_source(missing_default(name, cls, missing))
            out.append(f"    {self.setter(cls, missing.name)}(o, {default or 'None'})")
        out.append("    return o, pos")
        self.functions[name] = out

    def setter(self, cls: type, field_name: str) -> str:
        key = f"_set_{cls.__name__}_{field_name}"
        self.setters[key] = getattr(cls, field_name).__set__
        return key


def _default_source(default: NullDefault | None) -> str | None:
    """The expression the generated code evaluates for a default (a factory is called each time)."""
    if default is None:
        return None
    if default.factory is not None:
        factory: Any = default.factory
        return f"{factory.__name__}()"
    return repr(default.value)


def compile_reader(
    parsed_schema: Mapping[str, Any], classes: Mapping[str, type], *, engine: Engine = "auto"
) -> Reader:
    """A reader for a top-level record schema (fastavro-parsed, logical types stripped).

    Args:
        parsed_schema: the writer schema; must be a record.
        classes: dataclasses by record short name, e.g. ``{"ConversationEvent": ConversationEvent, …}``.
        engine: ``"c"``, ``"python"``, or ``"auto"`` (C when built and the schema is not recursive).

    Raises:
        ValueError: a record has no domain class, or a type is not supported (RecursiveSchemaError with
            ``engine="c"`` for a record that contains itself).
        RuntimeError: ``engine="c"`` but the extension is not built.
    """
    if engine != "python":
        if _C_READ is None:
            if engine == "c":
                raise RuntimeError("the C Avro reader (consumer.codec._avroread) is not built")
        else:
            try:
                # partial, not a closure: no Python frame per call on the hot path.
                return functools.partial(_C_READ, build_program(parsed_schema, classes))
            except RecursiveSchemaError:
                if engine == "c":
                    raise
    return _compile_python(parsed_schema, classes)


def _compile_python(parsed_schema: Mapping[str, Any], classes: Mapping[str, type]) -> Reader:
    gen = _Gen(classes)
    gen.named.update(parsed_schema.get("__named_schemas", {}))  # enums and fixed used by name
    gen.record(parsed_schema)
    source = "\n\n".join("\n".join(lines) for lines in gen.functions.values())
    namespace: dict[str, Any] = {
        "_varint": _varint,
        "_eof": _eof,
        "_new": object.__new__,
        **gen.setters,
        "_DOUBLE": _DOUBLE,
        "_FLOAT": _FLOAT,
        **{cls.__name__: cls for cls in classes.values()},
    }
    # Why exec: the generated source is built only from a parsed Avro schema (names are validated Avro
    # identifiers) and is what makes the hot path several times faster than a generic reader.
    exec(compile(source, f"<avro reader {parsed_schema['name']}>", "exec"), namespace)  # noqa: S102
    top: Callable[[bytes, int], tuple[Any, int]] = namespace[gen.fn_name(parsed_schema["name"])]

    def read(buf: bytes) -> tuple[Any, int]:
        return top(buf, 0)

    read.__doc__ = source
    return read
