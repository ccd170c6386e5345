"""Checked rows a column at a time, with each written value's JSON text ready for the writer's template."""

from __future__ import annotations

import re
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii

from .schema import Schema

# Any character `encode_basestring_ascii` would escape (controls, `"`, `\`, DEL, non-ASCII): a string
# without one is written between quotes as it is.
_UNSAFE = re.compile(r"[^ !#-\[\]-~]").search


def writer_filled(schema: Schema) -> frozenset[str]:
    """Columns the writer fills itself (from `columns`, or a constant): they need no text."""
    return frozenset({schema.amount_field, schema.currency_field or "currency", "fee", "processed_at"})


@dataclass(frozen=True)
class EncodedBlock:
    """Rows that passed every rule (or were already validated), for `_Writer.write_block`.

    `columns` maps each field, in the records' key order, to its values as a CSV cell would hold
    them (the amount's text, `""` for an empty or null currency); `texts` maps each other written
    field to its values' JSON text, except the fields in `raw`, whose `columns` values are written
    between quotes as they are. The fields in `numbers` hold JSON numbers only (their texts).
    """

    columns: dict[str, list[str]]
    rows: int
    texts: dict[str, list[str]]
    raw: frozenset[str]
    numbers: frozenset[str] = frozenset()

    def head(self, rows: int) -> EncodedBlock:
        """The first `rows` rows."""
        return EncodedBlock(
            {name: values[:rows] for name, values in self.columns.items()},
            rows,
            {name: values[:rows] for name, values in self.texts.items()},
            self.raw,
            self.numbers,
        )


def string_texts(values: list[str]) -> list[str] | None:
    """The JSON texts of a column of strings, or None when they can be written as they are."""
    if not _UNSAFE("".join(values)):
        return None
    return list(map(encode_basestring_ascii, values))


__all__ = ["EncodedBlock", "string_texts", "writer_filled"]
