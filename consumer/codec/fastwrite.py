"""A specialised Avro binary writer generated from a schema, reading the domain dataclasses directly.

The mirror of :mod:`consumer.codec.fastread`. Why: ``fastavro.schemaless_writer`` validates every union
value against each branch and walks a dict per record; with ~150 union fields per snapshot event that is
well over 100 µs per event, most of the bridge's budget. This module turns the parsed schema into
straight-line Python (one function per record type, one-byte varints inlined) that appends the encoding of
each field to one ``bytearray``.

Guarantees:

- The output is byte-identical to ``fastavro.schemaless_writer`` given the record dicts the codec used to
  build (property-tested in ``tests/unit/codec/test_fastwrite.py``): zig-zag varint ``int``/``long``,
  length-prefixed UTF-8 strings, union branch index, arrays and maps as one block (count, items, 0; an
  empty one as a lone 0), little-endian IEEE doubles, booleans as one byte.
- Records with a domain class are read by attribute (``event.body.participants``); records without one
  (the ``Queue`` record) are read from a mapping by key. Union ``["null", T]`` writes null for ``None`` and,
  when ``T`` is an array or map, for an empty container (so empty tuples/maps travel as one null byte, as
  :func:`consumer.codec.avro.encode_event` always did). A union of records picks the branch by the exact
  class of the value.
- A value that does not fit the schema (a ``str`` where a ``long`` is expected, a long outside 64 bits, a
  non-bool in a boolean, an unknown body class) raises ``ValueError``, ``TypeError``, ``AttributeError``
  or ``struct.error``; the caller translates them. Domain types are trusted otherwise (mypy checks them).
- ``memo`` records (``compile_writer(..., memo=("Participant",))``) remember the bytes of the last
  :data:`MEMO_SIZE` objects they wrote, by identity, holding each object so its id cannot be reused; a
  later write of the *same object* copies the bytes. Only for frozen domain classes whose fields are never
  mutated (the normalizer shares one ``Participant`` across the snapshots that repeat it).
- A schema feature the generator does not support (fixed, enum, unions other than the two shapes above, a
  record field the domain class lacks without a null default) raises ``ValueError`` when compiling, never
  silently at write time.

Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

__all__ = ["MEMO_SIZE", "Writer", "compile_writer"]

#: ``writer(value) -> bytes``: the schemaless Avro body of ``value``.
Writer = Callable[[Any], bytes]

_DOUBLE: Final = struct.Struct("<d")
_FLOAT: Final = struct.Struct("<f")
_LONG_MIN: Final = -(2**63)
_LONG_MAX: Final = 2**63 - 1
_INT_MIN: Final = -(2**31)
_INT_MAX: Final = 2**31 - 1
#: Objects remembered per memo record (cleared when full).
MEMO_SIZE: Final = 8192


def _zigzag(n: int, low: int = _LONG_MIN, high: int = _LONG_MAX) -> bytes:
    """The zig-zag varint of ``n`` (any size; the generated code inlines the one-byte case)."""
    if type(n) is not int and not isinstance(n, int):
        raise TypeError(f"expected an integer, got {type(n).__name__}")
    if n < low or n > high:
        raise ValueError(f"{n} does not fit the Avro type ({low}..{high})")
    n = (n << 1) ^ (n >> 63)
    # Why the unrolled branch: epoch-millisecond times (~1.7e12) zig-zag to 6 bytes, and they are most
    # of the multi-byte longs written.
    if 0x800000000 <= n < 0x40000000000:
        return bytes(
            (
                (n & 0x7F) | 0x80,
                (n >> 7 & 0x7F) | 0x80,
                (n >> 14 & 0x7F) | 0x80,
                (n >> 21 & 0x7F) | 0x80,
                (n >> 28 & 0x7F) | 0x80,
                n >> 35,
            )
        )
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _zigzag_int(n: int) -> bytes:
    return _zigzag(n, _INT_MIN, _INT_MAX)


def _boolean(value: object) -> int:
    if value is True:
        return 1
    if value is False:
        return 0
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


def _bad_branch(value: object, names: str) -> None:
    raise ValueError(f"{type(value).__name__} is none of the union's records ({names})")


class _Gen:
    """Emits one function per named record; nested unnamed types are inlined."""

    def __init__(self, classes: Mapping[str, type], memo: Collection[str] = ()) -> None:
        self.classes = classes
        self.memo = memo
        self.functions: dict[str, list[str]] = {}
        self.named: dict[str, Any] = {}
        self.globals: dict[str, Any] = {}
        self.tmp = 0

    def var(self) -> str:
        self.tmp += 1
        return f"v{self.tmp}"

    def resolve(self, schema: Any) -> Any:
        if isinstance(schema, str) and schema in self.named:
            return self.named[schema]
        return schema

    def kind(self, schema: Any) -> str:
        schema = self.resolve(schema)
        if isinstance(schema, list):
            return "union"
        return schema if isinstance(schema, str) else str(schema["type"])

    def value(self, schema: Any, out: list[str], ind: str, src: str) -> None:
        """Append the code writing the expression ``src`` (a plain name) of type ``schema``."""
        schema = self.resolve(schema)
        kind = self.kind(schema)
        if kind == "union":
            self.union(schema, out, ind, src)
        elif kind == "null":
            out.append(f"{ind}if {src} is not None: raise TypeError('expected None')")
        elif kind == "boolean":
            out.append(f"{ind}out.append(_boolean({src}))")
        elif kind == "long":
            out += [
                f"{ind}if -64 <= {src} < 64: out.append(({src} << 1) ^ ({src} >> 63))",
                f"{ind}else: out += _zigzag({src})",
            ]
        elif kind == "int":
            out += [
                f"{ind}if -64 <= {src} < 64: out.append(({src} << 1) ^ ({src} >> 63))",
                f"{ind}else: out += _zigzag_int({src})",
            ]
        elif kind in ("double", "float"):
            packer = "_DOUBLE" if kind == "double" else "_FLOAT"
            out.append(f"{ind}out += {packer}.pack({src})")
        elif kind in ("string", "bytes"):
            data = f"{src}.encode()" if kind == "string" else f"bytes({src})"
            out += [
                f"{ind}b = {data}; n = len(b)",
                f"{ind}if n < 64: out.append(n << 1)",
                f"{ind}else: out += _zigzag(n)",
                f"{ind}out += b",
            ]
        elif kind == "record":
            self.record(schema)
            out.append(f"{ind}{self.fn_name(schema['name'])}({src}, out)")
        elif kind in ("array", "map"):
            self.block(schema, out, ind, src)
        else:
            raise ValueError(f"unsupported Avro type {kind!r}")

    def block(self, schema: Any, out: list[str], ind: str, src: str) -> None:
        # fastavro writes a non-empty array/map as one block: count, items, then the 0 terminator.
        count, key, item = self.var(), self.var(), self.var()
        out += [
            f"{ind}{count} = len({src})",
            f"{ind}if {count}:",
            f"{ind}    if {count} < 64: out.append({count} << 1)",
            f"{ind}    else: out += _zigzag({count})",
        ]
        if schema["type"] == "map":
            out.append(f"{ind}    for {key}, {item} in {src}.items():")
            self.value("string", out, ind + "        ", key)
            self.value(schema["values"], out, ind + "        ", item)
        else:
            out.append(f"{ind}    for {item} in {src}:")
            self.value(schema["items"], out, ind + "        ", item)
        out.append(f"{ind}out.append(0)")

    def union(self, branches: list[Any], out: list[str], ind: str, src: str) -> None:
        if len(branches) > 63:
            raise ValueError("unions of more than 63 branches are not supported")
        kinds = [self.kind(b) for b in branches]
        if len(branches) == 2 and kinds[0] == "null" and kinds[1] not in ("null", "union"):
            # An empty container travels as null (one byte), as the dict-based encoder always did.
            empty = f" or not {src}" if kinds[1] in ("array", "map") else ""
            out += [f"{ind}if {src} is None{empty}: out.append(0)", f"{ind}else:", f"{ind}    out.append(2)"]
            self.value(branches[1], out, ind + "    ", src)
            return
        if all(k in ("record", "null") for k in kinds) and kinds.count("null") <= 1:
            self.record_union(branches, out, ind, src)
            return
        raise ValueError(f"unsupported union {kinds}")

    def record_union(self, branches: list[Any], out: list[str], ind: str, src: str) -> None:
        cls_var, names = self.var(), []
        out.append(f"{ind}{cls_var} = type({src})")
        keyword = "if"
        for index, branch in enumerate(branches):
            branch = self.resolve(branch)
            if branch == "null":
                out.append(f"{ind}{keyword} {src} is None: out.append(0)")
            else:
                cls = self.class_for(branch["name"])
                if cls is None:
                    raise ValueError(f"a union branch needs a domain class: {branch['name']}")
                names.append(cls.__name__)
                self.globals[cls.__name__] = cls
                out.append(f"{ind}{keyword} {cls_var} is {cls.__name__}:")
                out.append(f"{ind}    out.append({index * 2})")
                self.value(branch, out, ind + "    ", src)
            keyword = "elif"
        out.append(f"{ind}else: _bad_branch({src}, {', '.join(names)!r})")

    def class_for(self, fullname: str) -> type | None:
        return self.classes.get(fullname.rsplit(".", 1)[-1])

    def fn_name(self, fullname: str) -> str:
        return "write_" + fullname.replace(".", "_")

    def record(self, schema: Any) -> None:
        name = schema["name"]
        self.named[name] = schema
        if name in self.functions:
            return
        self.functions[name] = []  # placeholder: recursive schemas refer to the function by name
        cls = self.class_for(name)
        attrs = {f.name for f in dataclasses.fields(cls)} if cls is not None else None
        out = [f"def {self.fn_name(name)}(o, out):"]
        for avro_field in schema["fields"]:
            target = self.var()
            field_name = avro_field["name"]
            if attrs is None:
                out.append(f"    {target} = o[{field_name!r}]")
            elif field_name in attrs:
                out.append(f"    {target} = o.{field_name}")
            elif avro_field.get("default", ...) is None and self.kind(avro_field["type"]) == "union":
                out.append(f"    {target} = None")  # a field the domain does not have: its null default
            else:
                raise ValueError(
                    f"{cls.__name__ if cls else name} lacks {field_name}, which has no null default"
                )
            self.value(avro_field["type"], out, "    ", target)
        if len(out) == 1:
            out.append("    pass")
        short = name.rsplit(".", 1)[-1]
        if short in self.memo and cls is not None:
            out = self.memoized(out, short)
        self.functions[name] = out

    def memoized(self, out: list[str], short: str) -> list[str]:
        """Wrap a record function's body: copy the bytes of an object written before (same identity)."""
        table = f"_memo_{short}"
        self.globals[table] = {}
        self.globals["_MEMO_SIZE"] = MEMO_SIZE
        return [
            out[0],
            f"    hit = {table}.get(id(o))",
            "    if hit is not None and hit[0] is o:",
            "        out += hit[1]",
            "        return",
            "    start = len(out)",
            *out[1:],
            f"    if len({table}) >= _MEMO_SIZE: {table}.clear()",
            f"    {table}[id(o)] = (o, bytes(out[start:]))",
        ]


def compile_writer(
    parsed_schema: Mapping[str, Any], classes: Mapping[str, type], memo: Collection[str] = ()
) -> Writer:
    """Generate a writer for a top-level record schema (fastavro-parsed, logical types stripped).

    Args:
        parsed_schema: the schema to write; must be a record.
        classes: dataclasses by record short name; a record without one is read from a mapping by key.
        memo: record short names (with a frozen class) whose bytes are remembered by object identity.

    Raises:
        ValueError: a type or union shape is not supported, or a class lacks a field without a null default.
    """
    gen = _Gen(classes, memo)
    gen.record(parsed_schema)
    source = "\n\n".join("\n".join(lines) for lines in gen.functions.values())
    namespace: dict[str, Any] = {
        "_zigzag": _zigzag,
        "_zigzag_int": _zigzag_int,
        "_boolean": _boolean,
        "_bad_branch": _bad_branch,
        "_DOUBLE": _DOUBLE,
        "_FLOAT": _FLOAT,
        **gen.globals,
    }
    # Why exec: the generated source is built only from a parsed Avro schema (names are validated Avro
    # identifiers) and is what makes the hot path several times faster than a generic writer.
    exec(compile(source, f"<avro writer {parsed_schema['name']}>", "exec"), namespace)  # noqa: S102
    top: Callable[[Any, bytearray], None] = namespace[gen.fn_name(parsed_schema["name"])]

    def write(value: Any) -> bytes:
        out = bytearray()
        top(value, out)
        return bytes(out)

    write.__doc__ = source
    return write
