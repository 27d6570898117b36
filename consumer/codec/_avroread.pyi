"""Type stub of the C extension built from ``consumer/codec/_avroread.c`` (see that file's header)."""

from typing import Any, Final

OP_NULL: Final[int]
OP_BOOLEAN: Final[int]
OP_LONG: Final[int]
OP_FLOAT: Final[int]
OP_DOUBLE: Final[int]
OP_STRING: Final[int]
OP_BYTES: Final[int]
OP_ENUM: Final[int]
OP_FIXED: Final[int]
OP_ARRAY: Final[int]
OP_MAP: Final[int]
OP_UNION: Final[int]
OP_RECORD: Final[int]
MAX_DEPTH: Final[int]

def read(program: tuple[Any, ...], buf: bytes | bytearray | memoryview, /) -> tuple[Any, int]:
    """Decode the value described by ``program`` from the start of ``buf``; returns ``(value, end)``."""
