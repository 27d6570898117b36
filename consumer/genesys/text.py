"""Text repair for Genesys payloads: lone UTF-16 surrogates -> U+FFFD.

Why: JSON may carry a lone surrogate escape (``"\\ud800"``, seen when a backend truncates a string in the
middle of an emoji). ``json`` decodes it to a Python ``str`` that cannot be encoded as UTF-8, so hashing,
Avro-encoding, storing or printing it would fail. Normalization repairs such strings (keys and values)
to U+FFFD, the Unicode replacement character, as any UTF-8 decoder does with broken input; a well-formed
surrogate pair (``"\\ud83d\\ude00"``) is one character after ``json`` and stays as it is.

Pure module: no I/O.
"""

from __future__ import annotations

from typing import Final

__all__ = ["REPLACEMENT", "has_lone_surrogate", "repair_surrogates", "repair_text"]

#: U+FFFD, what a lone surrogate becomes.
REPLACEMENT: Final = "\ufffd"
#: Bound on the nesting :func:`repair_surrogates` walks (JSON from ``json.loads`` is far shallower).
_MAX_DEPTH: Final = 200


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` cannot be encoded as UTF-8 (it holds a lone surrogate)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def repair_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (the same object when there is none)."""
    if not has_lone_surrogate(text):
        return text
    # UTF-16 with surrogatepass keeps the code units; decoding with "replace" turns the unpaired ones
    # (and only those) into U+FFFD.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def repair_surrogates(value: object, _depth: int = 0) -> object:
    """A copy of the JSON value ``value`` with every string (keys included) repaired by
    :func:`repair_text`; unchanged containers are returned as they are.

    Raises:
        RecursionError: nested deeper than any Genesys payload (the caller rejects the message).
    """
    if type(value) is str:
        return repair_text(value)
    if _depth > _MAX_DEPTH:
        raise RecursionError("JSON nested too deeply")
    if isinstance(value, dict):
        items = [
            (repair_text(k) if type(k) is str else k, repair_surrogates(v, _depth + 1))
            for k, v in value.items()
        ]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items(), strict=True)):
            return value
        return dict(items)
    if isinstance(value, list):
        repaired = [repair_surrogates(item, _depth + 1) for item in value]
        if all(r is item for r, item in zip(repaired, value, strict=True)):
            return value
        return repaired
    return value
