"""JSON Lines output that writes Decimal values as exact JSON numbers."""

from __future__ import annotations

from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any

_LITERALS = {True: "true", False: "false"}


def encode(value: Any) -> str:
    """One JSON value as text; a Decimal is written in plain notation from its own digits."""
    kind = type(value)
    if kind is str:
        text: str = encode_basestring_ascii(value)
        return text
    if kind is Decimal:
        return format(value, "f")
    if kind is dict:
        return "{" + ",".join(encode_basestring_ascii(str(k)) + ":" + encode(v) for k, v in value.items()) + "}"
    if kind is list:
        return "[" + ",".join(encode(v) for v in value) + "]"
    if value is None:
        return "null"
    if kind is bool:
        return _LITERALS[value]
    if kind is int:
        return int.__repr__(value)
    if isinstance(value, Decimal):  # ExponentDecimal, in a field that passes through
        return format(value, "f")
    raise TypeError(f"cannot write a {kind.__name__} as JSON")


class LineEncoder:
    """Encodes records of a repeating key layout fast: one cached `%` template per layout.

    A file's records nearly always share their keys, so the keys are written once per layout
    and each string value costs one C call; anything else goes through `encode`.
    """

    __slots__ = ("_templates",)

    def __init__(self) -> None:
        self._templates: dict[tuple[str, ...], str] = {}

    def __call__(self, record: dict[str, Any]) -> str:
        """The record as one line of JSON, without the newline."""
        keys = tuple(record)
        template = self._templates.get(keys)
        if template is None:
            body = ",".join(encode_basestring_ascii(str(k)).replace("%", "%%") + ":%s" for k in keys)
            template = self._templates[keys] = "{" + body + "}"
        strings = encode_basestring_ascii
        return template % tuple(
            [
                strings(v) if type(v) is str else format(v, "f") if type(v) is Decimal else encode(v)
                for v in record.values()
            ]
        )
