"""Migration files: discovery, checksums and template rendering (no database)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from consumer.errors import StoreError
from consumer.ops.migrate import discover, render


def test_files_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in discover()]
    assert versions == list(range(1, len(versions) + 1))
    assert discover()[0].name == "init"


def test_checksum_is_the_sha256_of_the_file() -> None:
    first = discover()[0]
    assert first.checksum == hashlib.sha256(first.text.encode()).hexdigest()


def test_render_quotes_the_table_and_derived_index_names() -> None:
    text = render(discover()[0], "conv_live").as_string()
    assert 'CREATE TABLE IF NOT EXISTS "conv_live"' in text
    assert '"conv_live_waiting_idx"' in text
    assert "{conversation" not in text


def test_unknown_placeholder_is_refused() -> None:
    bad = dataclasses.replace(discover()[0], text="SELECT {other}")
    with pytest.raises(StoreError, match="unknown placeholder"):
        render(bad, "conversation")
