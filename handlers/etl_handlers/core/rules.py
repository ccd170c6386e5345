"""The record rules of the data contract: ids, amount, date, currency, and required fields."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

from .config import Config
from .digests import DigestSet
from .jsonout import JsonNumber
from .results import RowError

# [0-9], not \d: \d matches every script's digits, and Decimal would accept them.
_AMOUNT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?\Z")
_AMOUNT_FULL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?").fullmatch
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_CURRENCY = re.compile(r"[A-Z]{3}\Z")
_ID_FIELDS = ("transaction_id", "account_id")
_RULED = frozenset({"transaction_id", "account_id", "amount", "date", "currency"})
_DATE_CACHE_LIMIT = 100_000
_NO_ERRORS: tuple[RowError, ...] = ()
_ABSENT: Any = object()


class RecordChecker:
    """Checks records one at a time, remembering transaction ids (as digests) across the file.

    The ids may spill to a file in /tmp (see `DigestSet`): close the checker when the file's checking
    ends, however it ends (`with RecordChecker(config) as checker:`), so that a warm Lambda
    environment does not keep the spill's disk space until the checker happens to be collected.
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self._required = tuple(f for f in config.required_fields if f not in _RULED)
        self._required_ruled = tuple(f for f in config.required_fields if f in _RULED)
        self._ids = DigestSet()
        self._good_dates: set[str] = set()
        self._default_currency = config.default_currency
        # Columns whose every value must be non-blank after trimming.
        self._blank_checked = ("transaction_id", "account_id", *self._required)

    def __enter__(self) -> RecordChecker:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Delete the spill file of the transaction ids, if any; the checker is not to be used after."""
        self._ids.close()

    def check(
        self, record: dict[str, Any], row: int, fields_known: bool = False
    ) -> tuple[Decimal | None, str, tuple[RowError, ...]]:
        """Return the record's exact amount, its currency, and its errors (empty when valid).

        `fields_known` says every required field is present (a CSV header was checked for them).
        """
        errors: list[RowError] = []
        get = record.get
        if not fields_known:
            for name in self._required_ruled:
                if name not in record:
                    errors.append(RowError(row, name, "missing required field"))
        tid = get("transaction_id", _ABSENT)
        if type(tid) is str and (stripped := tid.strip()):
            if not self._ids.add(stripped):
                errors.append(RowError(row, "transaction_id", "repeats the transaction_id of an earlier record"))
        elif tid is not _ABSENT:
            message = _id_problem(tid)
            if message:
                errors.append(RowError(row, "transaction_id", message))
            elif not self._ids.add(str(tid)):
                errors.append(RowError(row, "transaction_id", "repeats the transaction_id of an earlier record"))
        account = get("account_id", _ABSENT)
        if not (type(account) is str and account.strip()) and account is not _ABSENT:
            message = _id_problem(account)
            if message:
                errors.append(RowError(row, "account_id", message))
        amount = get("amount", _ABSENT)
        if amount is not _ABSENT:
            amount = parse_amount(amount)
            if amount is None:
                errors.append(RowError(row, "amount", "must be a plain decimal such as -12.50"))
        else:
            amount = None
        when = get("date", _ABSENT)
        if when is not _ABSENT and not (type(when) is str and when in self._good_dates):
            message = date_problem(when)
            if message:
                errors.append(RowError(row, "date", message))
            elif len(self._good_dates) < _DATE_CACHE_LIMIT:
                self._good_dates.add(when)
        currency = get("currency")
        if currency is None or currency == "":
            currency = self._default_currency
        elif type(currency) is not str or not _CURRENCY.match(currency):
            errors.append(RowError(row, "currency", "must be three upper-case letters such as USD"))
        for name in self._required:
            value = get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                message = "missing required field" if name not in record else "must not be empty"
                errors.append(RowError(row, name, message))
        return amount, currency, tuple(errors) if errors else _NO_ERRORS

    def check_columns(self, columns: dict[str, list[str]], rows: int) -> int:
        """Check a block of CSV rows column by column; return how many leading rows are valid.

        `columns` maps each header name to its values (plain CSV text, all rows present). Either
        every rule holds for every row and the ids are registered up to the first repeat (whose
        index is returned, `rows` when there is none), or 0 is returned with nothing registered:
        the caller then reads the block record by record, which reports each error exactly.
        """
        strip = str.strip
        for name in self._blank_checked:
            values = columns.get(name)
            if values is not None and not all(map(strip, values)):
                return 0
        amounts = columns.get("amount")
        if amounts is not None and not all(map(_AMOUNT_FULL, map(strip, amounts))):
            return 0
        dates = columns.get("date")
        if dates is not None:
            for value in set(dates).difference(self._good_dates):
                if date_problem(value):
                    return 0
                if len(self._good_dates) < _DATE_CACHE_LIMIT:
                    self._good_dates.add(value)
        currencies = columns.get("currency")
        if currencies is not None and not all(c == "" or _CURRENCY.match(c) for c in set(currencies)):
            return 0
        ids = columns.get("transaction_id")
        if ids is None:
            return rows
        return self._ids.add_many(list(map(strip, ids)))


def _id_problem(value: Any) -> str | None:
    if type(value) is JsonNumber:  # an integer stands for its digits, as "17" for 17
        return None if value.is_integer else "must be a string"
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return "must be a string"
    if isinstance(value, str) and not value.strip():
        return "must not be empty"
    return None


def parse_amount(value: Any) -> Decimal | None:
    """The exact amount of a CSV text or JSON value, or None when it is not a plain decimal.

    A JSON number is read from its text, as a string amount is: an integer of any length is a
    plain decimal; an exponent (`1e5`) is not, and is never expanded.
    """
    kind = type(value)
    if kind is str:
        text = value.strip()
        return Decimal(text) if _AMOUNT.match(text) else None
    if kind is JsonNumber:
        text = value.text
        return Decimal(text) if _AMOUNT.match(text) else None
    if kind is Decimal:
        return value if value.is_finite() else None
    if kind is int:
        return Decimal(value)
    return None


def date_problem(value: Any) -> str | None:
    """Why `value` is not an ISO 8601 calendar date (or a date-time starting with one), or None."""
    if type(value) is not str:
        return "must be a date written YYYY-MM-DD"
    match = _DATE.match(value)
    if not match:
        return "must be a date written YYYY-MM-DD"
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
