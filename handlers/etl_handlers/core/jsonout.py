"""JSON Lines output that writes Decimal values as exact JSON numbers and JSON numbers as they were read."""

from __future__ import annotations

from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any

_LITERALS = {True: "true", False: "false"}
_NOT_INTEGER = frozenset(".eE")


class JsonNumber:
    """A JSON number kept as its own text, so it is written back exactly as read (`1e5`, `1.50`, `-0`).

    Converting costs time and memory that grow with the number's exponent (`1e999999999` is a
    billion digits as a plain decimal) and Python's `int` refuses more than 4,300 digits, so the
    readers convert nothing: the amount is read from the text once the rules have checked its form.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    @property
    def is_integer(self) -> bool:
        """True when the number is written as an integer: no fraction, no exponent."""
        return _NOT_INTEGER.isdisjoint(self.text)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"JsonNumber({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is JsonNumber and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def encode(value: Any) -> str:
    """One JSON value as text; a Decimal is written in plain notation from its own digits.

    It recurses once per level of nesting: the readers refuse records nested deeper than
    `readers.MAX_DEPTH`, so what they yield is far from Python's recursion limit.
    """
    kind = type(value)
    if kind is str:
        text: str = encode_basestring_ascii(value)
        return text
    if kind is JsonNumber:
        number: str = value.text
        return number
    if kind is Decimal:
        return format(value, "f")
    # Loops rather than generator expressions: one stack frame per level, not two.
    if kind is dict:
        members = []
        for key, member in value.items():
            members.append(encode_basestring_ascii(str(key)) + ":" + encode(member))
        return "{" + ",".join(members) + "}"
    if kind is list:
        items = []
        for item in value:
            items.append(encode(item))
        return "[" + ",".join(items) + "]"
    if value is None:
        return "null"
    if kind is bool:
        return _LITERALS[value]
    if kind is int:
        return int.__repr__(value)
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
