"""Control totals: a sender's control record for a data file, and the file's own totals to compare with it.

A control record is a JSON object beside its data file, at `<data key>.control.json`:
`{"record_count": 3, "amount_totals": {"USD": "123.45", "JPY": "5000"}}`. Amounts are plain
decimals, written as strings or JSON numbers, read exactly. A data file completes only when its
number of data records and its sum of amounts per currency equal the record's exactly (as
numbers: "10.5" equals "10.50"); a currency missing from one side counts as a total of 0 there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any

from .config import CONTROL_SUFFIX
from .currencies import looks_like_code
from .values import PLAIN_DECIMAL

#: The largest control record read, in bytes: a count and a total per currency fit in far less.
MAX_CONTROL_BYTES = 64 * 1024
_KEYS = ("record_count", "amount_totals")
# Exact sums at any size: a total is never rounded.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


class _Integer(str):
    """A JSON integer's text (a count must be one, not a string of digits)."""


class _Number(str):
    """A JSON number's text, read exactly."""


#: The validate function's outcome while a data file waits for its control record: the state machine waits
#: an interval and validates again. Not a ledger status: the item stays VALIDATING, counting `control_checks`.
CONTROL_PENDING = "CONTROL_RECORD_PENDING"


class ControlRecordError(ValueError):
    """A control record that is not one: its message says what is wrong."""


def is_control_key(key: str) -> bool:
    """True for a control record's key (`<data key>.control.json`, in any case): never read as a data file."""
    return key.lower().endswith(CONTROL_SUFFIX)


def data_key(control: str) -> str:
    """The data file's key of a control record's key (the suffix taken off, whatever its case)."""
    return control[: -len(CONTROL_SUFFIX)]


def control_key(data_key: str) -> str:
    """The key of the control record of a data file."""
    return data_key + CONTROL_SUFFIX


@dataclass(frozen=True)
class ControlRecord:
    """What a sender says its data file holds: the number of records and the amount total per currency."""

    record_count: int
    amount_totals: Mapping[str, Decimal]

    @classmethod
    def from_bytes(cls, data: bytes) -> ControlRecord:
        """Read a control record's bytes (UTF-8 JSON); raise ControlRecordError saying what is wrong."""
        if len(data) > MAX_CONTROL_BYTES:
            raise ControlRecordError(f"the control record is over {MAX_CONTROL_BYTES} bytes")
        try:
            document = json.loads(
                data.decode("utf-8-sig"), parse_float=_Number, parse_int=_Integer, object_pairs_hook=_no_repeats
            )
        except (UnicodeError, ValueError) as exc:
            raise ControlRecordError(f"the control record is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise ControlRecordError("the control record is not a JSON object")
        unknown = sorted(set(document) - set(_KEYS))
        missing = [k for k in _KEYS if k not in document]
        if unknown or missing:
            raise ControlRecordError(
                f"the control record has {', '.join(_KEYS)} and nothing else"
                + (f"; it lacks {', '.join(missing)}" if missing else "")
                + (f"; it has {', '.join(unknown)}" if unknown else "")
            )
        count = document["record_count"]
        if type(count) is not _Integer or count.startswith("-"):
            raise ControlRecordError(f"record_count must be a whole number, 0 or more, not {count!r}")
        totals = document["amount_totals"]
        if not isinstance(totals, dict):
            raise ControlRecordError("amount_totals must be an object of currency codes and totals")
        read: dict[str, Decimal] = {}
        for code, total in totals.items():
            if not looks_like_code(code):
                raise ControlRecordError(f"amount_totals names {code!r}, not a currency code such as USD")
            if not isinstance(total, str) or not PLAIN_DECIMAL.match(total.strip()):
                raise ControlRecordError(f"the {code} total must be a plain decimal such as 123.45, not {total!r}")
            read[code] = Decimal(total.strip())
        return cls(int(count), read)


@dataclass
class Totals:
    """A file's running totals: records counted by the caller, amounts summed per currency, exactly."""

    amounts: dict[str, Decimal] = field(default_factory=dict)

    def add(self, currency: str, amount: Decimal) -> None:
        """Add one record's amount."""
        self.amounts[currency] = _EXACT.add(self.amounts.get(currency, Decimal(0)), amount)

    def add_many(self, currencies: Iterable[str], amounts: Iterable[Decimal]) -> None:
        """Add a column of amounts with the currency of each."""
        sums: dict[str, list[Decimal]] = {}
        for currency, amount in zip(currencies, amounts, strict=True):
            sums.setdefault(currency, []).append(amount)
        for currency, values in sums.items():
            total = self.amounts.get(currency, Decimal(0))
            for value in values:
                total = _EXACT.add(total, value)
            self.amounts[currency] = total

    def differences(self, control: ControlRecord, record_count: int) -> list[str]:
        """How the file differs from its control record, each with expected and actual values; [] when equal."""
        found: list[str] = []
        if control.record_count != record_count:
            found.append(
                f"control totals differ: the control record counts {control.record_count} records,"
                f" the file has {record_count}"
            )
        for code in sorted(set(control.amount_totals) | set(self.amounts)):
            expected = control.amount_totals.get(code, Decimal(0))
            actual = self.amounts.get(code, Decimal(0))
            if expected != actual:
                found.append(
                    f"control totals differ: the {code} amount total is {_text(expected)} in the control record,"
                    f" {_text(actual)} in the file"
                )
        return found


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{', '.join(map(repr, repeated))} given twice")
    return dict(pairs)


def _text(value: Any) -> str:
    return format(value, "f")


__all__ = [
    "CONTROL_PENDING",
    "MAX_CONTROL_BYTES",
    "ControlRecord",
    "ControlRecordError",
    "Totals",
    "control_key",
    "data_key",
    "is_control_key",
]
