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
    raise TypeError(f"cannot write a {kind.__name__} as JSON")
