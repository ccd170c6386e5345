"""The record rules of a schema applied to a file: each field's rule, uniqueness, the currency, other fields."""

from __future__ import annotations

from decimal import Decimal
from types import TracebackType
from typing import Any

from .config import Config
from .currencies import MINOR_UNITS, looks_like_code
from .digests import DigestSet
from .results import RowError
from .values import ValueRule, date_problem, parse_amount

_NO_ERRORS: tuple[RowError, ...] = ()
_ABSENT: Any = object()
MISSING = "missing required field"
NOT_DECLARED = "is not a field of the schema"
NOT_ISO_4217 = "must be an active ISO 4217 currency code such as USD"
NOT_A_CODE = "must be three upper-case letters such as USD"


class RecordChecker:
    """Checks records one at a time against the configuration's schema, remembering unique values across the file.

    The unique values may spill to a file in /tmp (see `DigestSet`): close the checker when the
    file's checking ends, however it ends (`with RecordChecker(config) as checker:`), so that a warm
    Lambda environment does not keep the spill's disk space until the checker happens to be collected.
    """

    def __init__(self, config: Config) -> None:
        schema = config.rules
        self._rules = tuple(ValueRule(rule) for rule in schema.fields)
        # Presence of the typed fields is checked first, in this order; a missing `any` field is
        # reported where its rule runs (the contract's order of errors).
        self._required = tuple(r.name for r in schema.fields if r.required and r.type != "any")
        self._amount = schema.amount_field
        self._currency = schema.currency_field
        self._currency_declared = schema.currency_field in schema.names
        self._default_currency = config.default_currency
        self._any_currency = config.any_currency
        self._names = frozenset(schema.names)
        self._reject_others = schema.other_fields == "reject"
        unique = [r.name for r in self._rules if r.unique]
        # The unique fields share the memory given to ids (`in_memory_budget`).
        self._seen = {name: DigestSet(sharing=len(unique)) for name in unique}
        # Values a column check registered beyond the rows it passed: the record path, which reads
        # those rows next, takes each as new once (see `check_columns`).
        self._pending: dict[str, set[str]] = {name: set() for name in self._seen}

    def __enter__(self) -> RecordChecker:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Delete the spill files of the unique values, if any; the checker is not to be used after."""
        for seen in self._seen.values():
            seen.close()

    def currency_problem(self, code: Any) -> str | None:
        """Why a non-empty currency value is not accepted, or None."""
        if type(code) is not str or not looks_like_code(code):
            return NOT_A_CODE if self._any_currency else NOT_ISO_4217
        if not self._any_currency and code not in MINOR_UNITS:
            return NOT_ISO_4217
        return None

    def _register(self, name: str, key: str) -> bool:
        pending = self._pending[name]
        if key in pending:
            pending.discard(key)
            return True
        return self._seen[name].add(key)

    def check(
        self, record: dict[str, Any], row: int, fields_known: bool = False
    ) -> tuple[Decimal | None, str, tuple[RowError, ...]]:
        """Return the record's exact amount, its currency, and its errors (empty when valid).

        `fields_known` says every required field is present (a CSV header was checked for them).
        """
        errors: list[RowError] = []
        if not fields_known:
            for name in self._required:
                if name not in record:
                    errors.append(RowError(row, name, MISSING))
        amount: Decimal | None = None
        currency = self._default_currency
        currency_checked = False
        for rule in self._rules:
            name = rule.name
            value = record.get(name, _ABSENT)
            if value is _ABSENT:
                if rule.type == "any" and rule.rule.required:
                    errors.append(RowError(row, name, MISSING))
                continue
            problem = rule.problem(value)
            if problem:
                errors.append(RowError(row, name, problem))
                currency_checked |= name == self._currency
                continue
            if rule.unique and not rule.is_empty(value) and not self._register(name, rule.key(value)):
                errors.append(RowError(row, name, f"repeats the {name} of an earlier record"))
            if name == self._amount:
                amount = parse_amount(value)
            elif name == self._currency:
                currency_checked = True
                currency, problem = self._currency_of(value)
                if problem:
                    errors.append(RowError(row, name, problem))
        if not currency_checked and self._currency is not None and not self._currency_declared:
            currency, problem = self._currency_of(record.get(self._currency))
            if problem:
                errors.append(RowError(row, self._currency, problem))
        if self._reject_others:
            for name in record:
                if name not in self._names:
                    errors.append(RowError(row, name, NOT_DECLARED))
        return amount, currency, tuple(errors) if errors else _NO_ERRORS

    def _currency_of(self, value: Any) -> tuple[str, str | None]:
        if value is None or value == "":
            return self._default_currency, None
        return value, self.currency_problem(value)

    def check_columns(self, columns: dict[str, list[str]], rows: int) -> int:
        """Check a block of CSV rows column by column; return how many leading rows are valid.

        `columns` maps each header name to its values (plain CSV text, all rows present). Either
        every rule holds for every row and the unique values are registered up to the first repeat
        (whose index is returned, `rows` when there is none), or 0 is returned with nothing
        registered: the caller then reads the block record by record, which reports each error
        exactly. With several unique fields, one may have registered values past the returned
        index; the record path takes each of those as new once.
        """
        for rule in self._rules:
            values = columns.get(rule.name)
            if values is not None and not rule.column_ok(values):
                return 0
        if self._currency is not None:
            codes = columns.get(self._currency)
            if codes is not None and not all(c == "" or self.currency_problem(c) is None for c in set(codes)):
                return 0
        unique = [(rule, columns[rule.name]) for rule in self._rules if rule.unique and rule.name in columns]
        keyed = [(rule, list(map(str.strip, values)) if rule.trimmed else values) for rule, values in unique]
        if any(rule.empty_ok and not all(keys) for rule, keys in keyed):
            return 0  # an empty value is never a repeat: the record path knows which to skip
        good = rows
        registered: list[tuple[str, list[str], int]] = []
        for rule, keys in keyed:
            added = self._seen[rule.name].add_many(keys[:good])
            registered.append((rule.name, keys, added))
            good = min(good, added)
        for name, keys, added in registered:
            if added > good:
                self._pending[name].update(keys[good:added])
        return good


__all__ = ["MISSING", "NOT_A_CODE", "NOT_DECLARED", "NOT_ISO_4217", "RecordChecker", "date_problem", "parse_amount"]
