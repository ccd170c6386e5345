"""One field's rule applied to values: a record's value at a time, or a CSV column at a time.

`ValueRule.problem` is the reference: it says, for one value, what rule it breaks, in the words a
row error uses. `ValueRule.column_ok` answers, for a column of plain CSV text, whether every value
passes; it never explains, since a column that fails is read again record by record. The
hypothesis tests in tests/handlers/core/test_values.py hold the two to the same answers.

How values are read:
- string, decimal and integer values are trimmed of surrounding whitespace before they are
  checked (CSV writers often pad); date, date-time and boolean values are checked as written;
- a JSON integer is a string's digits (an id written 17 is the id "17");
- a value is empty when it is null or "" (for the trimmed types: blank). An empty
  value is accepted when the field allows it and checked no further; otherwise a string or any
  field says "must not be empty" and the other types say what their value must be.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date, datetime
from decimal import Decimal
from itertools import compress
from operator import itemgetter
from typing import Any

from .jsonout import JsonNumber
from .patterns import compile_pattern
from .schema import FieldRule

# [0-9], not \d: \d matches every script's digits, and Decimal would accept them.
PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?\Z")
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_BOOLEANS = frozenset({"true", "false"})
# A column of dates is judged by its values' shapes (each ASCII digit read as 0) and by the distinct
# texts at fixed places: days, hours, minutes, seconds, offsets. Only shapes whose values the reference
# (`datetime.fromisoformat`) surely accepts when those parts are in range are judged so: a time
# hh:mm:ss, 3 or 6 decimals, Z or an offset. Any other value is left to the reference, one by one.
_AS_ZEROS = str.maketrans("0123456789", "0000000000")
# The shapes (see `_AS_ZEROS`) of plain decimals and integers: a column is judged by its distinct shapes.
_DECIMAL_SHAPE = re.compile(r"[+-]?0+(?:\.0+)?").fullmatch
_INTEGER_SHAPE = re.compile(r"[+-]?0+").fullmatch
_DAY_SHAPE = "0000-00-00"
_TIME_SHAPE = re.compile(r"0000-00-00T00:00:00(?:\.000|\.000000)?(Z|[+-]00:00)?").fullmatch
_DAY = itemgetter(slice(0, 10))
_HOUR = itemgetter(slice(11, 13))
_MINUTE = itemgetter(slice(14, 16))
_SECOND = itemgetter(slice(17, 19))
_OFFSET_HOUR = itemgetter(slice(-5, -3))
_OFFSET_MINUTE = itemgetter(slice(-2, None))
# A float's error on a decimal's value is far below this share of it (a relative 1e-16 at most).
_FLOAT_MARGIN = 1e-9
_DATE_CACHE_LIMIT = 100_000
_ENUM_SHOWN = 10

NOT_A_DECIMAL = "must be a plain decimal such as -12.50"
NOT_AN_INTEGER = "must be an integer such as 42"
NOT_A_STRING = "must be a string"
NOT_A_BOOLEAN = "must be true or false"
NOT_A_DATE = "must be a date written YYYY-MM-DD"
NOT_A_DATE_TIME = "must be a date-time written YYYY-MM-DDThh:mm:ss"
MUST_NOT_BE_EMPTY = "must not be empty"


def parse_amount(value: Any) -> Decimal | None:
    """The exact amount of a CSV text or JSON value, or None when it is not a plain decimal.

    A JSON number is read from its text, as a string amount is: an integer of any length is a
    plain decimal; an exponent (`1e5`) is not, and is never expanded.
    """
    kind = type(value)
    if kind is str:
        text = value.strip()
        return Decimal(text) if PLAIN_DECIMAL.match(text) else None
    if kind is JsonNumber:
        text = value.text
        return Decimal(text) if PLAIN_DECIMAL.match(text) else None
    if kind is Decimal:
        return value if value.is_finite() else None
    if kind is int:
        return Decimal(value)
    return None


def date_problem(value: Any) -> str | None:
    """Why `value` is not an ISO 8601 calendar date (or a date-time starting with one), or None."""
    if type(value) is not str:
        return NOT_A_DATE
    match = _DATE.match(value)
    if not match:
        return NOT_A_DATE
    try:
        date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return "is not a real calendar day"
    if len(value) > 10:
        if value[10] != "T":
            return "must be a date YYYY-MM-DD or a date-time YYYY-MM-DDThh:mm:ss"
        try:
            datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        except ValueError:
            return "has a time that is not ISO 8601"
    return None


def _text(value: Any) -> str | None:
    """The text of a string-like value (a string, or an integer standing for its digits), else None."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is JsonNumber:
        return value.text if value.is_integer else None
    if kind is int:
        return str(value)
    return None


class ValueRule:
    """A field's rule, ready to check values: `problem` for one, `column_ok` for a CSV column."""

    def __init__(self, rule: FieldRule) -> None:
        self.rule = rule
        self.name = rule.name
        self.type = rule.type
        self.empty_ok = rule.empty
        self.unique = rule.unique
        kind = rule.type
        self._minimum = None if rule.minimum is None else self._order(str(rule.minimum))
        self._maximum = None if rule.maximum is None else self._order(str(rule.maximum))
        self._pattern = compile_pattern(rule.pattern) if rule.pattern else None
        self._match = self._pattern.regex.fullmatch if self._pattern else None
        self._enum = frozenset(rule.enum) if rule.enum is not None else None
        self._good_dates: set[str] = set()  # values that are dates (date-times), bounds aside
        self._good_days: set[str] = set()  # YYYY-MM-DD texts that are real days
        self.trimmed = kind in ("string", "decimal", "integer", "any")
        # A string with no rule but presence: its column check needs no trimmed copy of the values.
        self._plain_string = kind == "string" and not (
            rule.min_length or rule.max_length is not None or rule.pattern or rule.enum
        )

    def _order(self, text: str) -> Any:
        if self.type == "date":
            return text[:10]
        return Decimal(text)

    # --- one value ---------------------------------------------------------------------------

    def is_empty(self, value: Any) -> bool:
        """True for null and "" (and, for the types read trimmed, text that is blank)."""
        if value is None or value == "":
            return True
        return self.trimmed and type(value) is str and not value.strip()

    def problem(self, value: Any) -> str | None:
        """What rule a present value breaks, in a row error's words, or None when it passes."""
        if self.is_empty(value):
            if self.empty_ok:
                return None
            if self.type == "any":
                return MUST_NOT_BE_EMPTY
            if self.type == "string":
                return NOT_A_STRING if value is None else MUST_NOT_BE_EMPTY
        kind = self.type
        if kind == "any":
            return None
        if kind == "string":
            text = _text(value)
            if text is None:
                return NOT_A_STRING
            return self._string_problem(text.strip())
        if kind == "decimal":
            amount = parse_amount(value)
            if amount is None:
                return NOT_A_DECIMAL
            return self._bound_problem(amount, str(value).strip() if type(value) is str else str(value))
        if kind == "integer":
            text = _text(value) if type(value) is not str else value.strip()
            if text is None or not _INTEGER.match(text):
                return NOT_AN_INTEGER
            # Compared as Decimals: exact at any length (int() refuses over 4,300 digits).
            return self._bound_problem(Decimal(text), text)
        if kind == "boolean":
            if type(value) is bool or value in _BOOLEANS:
                return None
            return NOT_A_BOOLEAN
        return self._date_problem(value)

    def _string_problem(self, text: str) -> str | None:
        rule = self.rule
        if rule.min_length is not None and len(text) < rule.min_length:
            return f"must be at least {rule.min_length} characters long"
        if rule.max_length is not None and len(text) > rule.max_length:
            return f"must be at most {rule.max_length} characters long"
        if self._match is not None and not self._match(text):
            return f"must match the pattern {rule.pattern}"
        return self._enum_problem(text)

    def _enum_problem(self, text: str) -> str | None:
        if self._enum is None or text in self._enum:
            return None
        listed = self.rule.enum or ()
        shown = ", ".join(listed[:_ENUM_SHOWN]) + (
            f" (or {len(listed) - _ENUM_SHOWN} more)" if len(listed) > _ENUM_SHOWN else ""
        )
        return f"must be one of {shown}"

    def _bound_problem(self, value: Any, text: str) -> str | None:
        """Why `value` (a Decimal, or a date's YYYY-MM-DD day) is out of bounds, else its `enum` problem."""
        low, high = ("on or after", "on or before") if self.type == "date" else ("at least", "at most")
        if self._minimum is not None and value < self._minimum:
            return f"must be {low} {self.rule.minimum}"
        if self._maximum is not None and value > self._maximum:
            return f"must be {high} {self.rule.maximum}"
        return self._enum_problem(text)

    def _date_problem(self, value: Any) -> str | None:
        message = self._shape_problem(value)
        if message:
            return message
        return self._bound_problem(value[:10], value)

    def _shape_problem(self, value: Any) -> str | None:
        """Why a value is not a date (or a date-time) at all, bounds aside; good ones are remembered."""
        if type(value) is str and value in self._good_dates:
            return None
        message = date_problem(value)
        if message:
            return message
        if self.type == "date-time" and len(value) <= 10:
            return NOT_A_DATE_TIME
        if len(self._good_dates) < _DATE_CACHE_LIMIT:
            self._good_dates.add(value)
        return None

    def key(self, value: Any) -> str:
        """The text two values are compared by for uniqueness, as a CSV cell holds it: trimmed, a number as
        written, a JSON boolean as `true` or `false`."""
        kind = type(value)
        if kind is str:
            text: str = value
        elif kind is JsonNumber:
            text = value.text
        elif kind is bool:
            text = "true" if value else "false"
        else:
            text = str(value)
        return text.strip() if self.trimmed else text

    # --- a column of CSV text ----------------------------------------------------------------

    def column_ok(self, values: list[str]) -> bool:
        """True when every value of a plain CSV column passes (as `problem` would say of each)."""
        kind = self.type
        if kind == "any":
            return self.empty_ok or all(map(str.strip, values))
        if self._plain_string and not self.empty_ok:
            return all(map(str.strip, values))
        if kind == "boolean":
            return _BOOLEANS.issuperset(set(values).difference(("",)) if self.empty_ok else values)
        if kind in ("date", "date-time"):
            return self._dates_ok(values)
        texts = list(map(str.strip, values))
        if self.empty_ok:
            texts = list(compress(texts, texts))
        elif not all(texts):
            return False
        if kind == "string":
            return self._strings_ok(texts)
        if kind == "decimal":
            if not _all_shaped(texts, _DECIMAL_SHAPE):
                return False
            return self._bounds_ok(texts)
        if not _all_shaped(texts, _INTEGER_SHAPE):
            return False
        return self._bounds_ok(texts)

    def _dates_ok(self, values: list[str]) -> bool:
        """`column_ok` of a date or date-time column, value by distinct value.

        Values not seen before are checked at once when they all have a shape of the fast pattern
        (which admits only times the reference accepts), leaving their days to the reference;
        otherwise each by the reference. The bounds are compared to the days of them all.
        """
        distinct = set(values)
        if self.empty_ok:
            distinct.discard("")
        if self._enum is not None:
            return all(self._date_problem(v) is None for v in distinct)
        unseen = list(distinct.difference(self._good_dates))
        if unseen and self._shapes_ok(unseen):
            if len(self._good_dates) + len(unseen) <= _DATE_CACHE_LIMIT:
                self._good_dates.update(unseen)
        elif any(self._shape_problem(v) for v in unseen):
            return False
        if not distinct or (self._minimum is None and self._maximum is None):
            return True
        return _within(set(map(_DAY, distinct)), self._minimum, self._maximum)

    def _shapes_ok(self, values: list[str]) -> bool:
        """True when every value has a judged shape (see `_AS_ZEROS`) and its parts are in range; False
        says only that the reference must look at each value."""
        shapes = _shapes(values)
        if shapes is None:
            return False
        timed = [_TIME_SHAPE(shape) for shape in shapes if shape != _DAY_SHAPE]
        if None in timed or (self.type == "date-time" and _DAY_SHAPE in shapes):
            return False
        if not self._real_days(set(map(_DAY, values))):
            return False
        if timed:
            hours, minutes = set(map(_HOUR, values)), set(map(_MINUTE, values))
            seconds = set(map(_SECOND, values))
            if max(hours) > "23" or max(minutes) > "59" or max(seconds) > "59":
                return False
            if any(match is not None and match[1] not in (None, "Z") for match in timed):
                offsets = [v for v in values if v[-6:-5] in ("+", "-") and len(v) > 19]
                if max(map(_OFFSET_HOUR, offsets)) > "23" or max(map(_OFFSET_MINUTE, offsets)) > "59":
                    return False
        return True

    def _real_days(self, days: set[str]) -> bool:
        """True when each YYYY-MM-DD text is a real calendar day (the reference's check)."""
        for day in days.difference(self._good_days):
            if date_problem(day) is not None:
                return False
            if len(self._good_days) < _DATE_CACHE_LIMIT:
                self._good_days.add(day)
        return True

    def _strings_ok(self, texts: list[str]) -> bool:
        rule = self.rule
        bounded = rule.min_length is not None or rule.max_length is not None
        if bounded and texts and not _within(list(map(len, texts)), rule.min_length, rule.max_length):
            return False
        if self._pattern is not None and not self._pattern.matches_all(texts):
            return False
        return self._enum is None or self._enum.issuperset(texts)

    def _bounds_ok(self, texts: list[str]) -> bool:
        """Decimals and integers alike, as Decimals: exact at any length."""
        low, high = self._minimum, self._maximum
        bounded = texts and (low is not None or high is not None)
        if bounded and not self._far_inside(texts) and not _within(list(map(Decimal, texts)), low, high):
            return False
        return self._enum is None or self._enum.issuperset(texts)

    def _far_inside(self, texts: list[str]) -> bool:
        """True when every decimal is surely within the bounds: its binary float, within a billionth of
        itself, is clear of them. Only an answer of True is used (any value near a bound is compared
        exactly, as Decimals); a float never decides a value, only spares the exact comparison."""
        floats = list(map(float, texts))
        if self._minimum is not None:
            low = float(self._minimum)
            if not min(floats) > low + abs(low) * _FLOAT_MARGIN + _FLOAT_MARGIN:
                return False
        if self._maximum is not None:
            high = float(self._maximum)
            if not max(floats) < high - abs(high) * _FLOAT_MARGIN - _FLOAT_MARGIN:
                return False
        return True


def _all_shaped(texts: list[str], shape: Any) -> bool:
    """True when every text, each ASCII digit read as 0, has a shape `shape` matches whole.

    Digits are the only characters read as 0, so a text has a shape of digits where it has digits and
    its own characters elsewhere: a pattern over the digit 0 matches it as the same pattern over
    [0-9] matches the text. The distinct shapes are few: one match each, not one a value.
    """
    if not texts:
        return True
    shapes = _shapes(texts)
    return shapes is not None and all(map(shape, shapes))


def _shapes(texts: list[str]) -> set[str] | None:
    """The distinct shapes of `texts` (each ASCII digit read as 0), from one join; None when a text holds
    a line feed, which no shape (nor the reference) takes and which would split it into two shapes."""
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1:
        return None
    return set(joined.translate(_AS_ZEROS).split("\n"))


def _within(values: Collection[Any], minimum: Any, maximum: Any) -> bool:
    """True when no value is below `minimum` nor above `maximum` (None: no bound); `values` is not empty."""
    return (minimum is None or min(values) >= minimum) and (maximum is None or max(values) <= maximum)


def value_problem(rule: FieldRule, value: Any) -> str | None:
    """What rule `value` breaks under `rule`, ignoring its `enum` (used to check an enum's values)."""
    from dataclasses import replace

    return ValueRule(replace(rule, enum=None)).problem(value)


__all__ = ["NOT_A_DECIMAL", "PLAIN_DECIMAL", "ValueRule", "date_problem", "parse_amount", "value_problem"]
