"""The pipeline settings the functions apply, read from the JSON document the constructs pass."""

from __future__ import annotations

import decimal
import json
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from typing import Any

#: Rounding modes a configuration may name: the `decimal` module's own constants.
ROUNDING_MODES = frozenset(
    {
        "ROUND_HALF_UP",
        "ROUND_HALF_EVEN",
        "ROUND_HALF_DOWN",
        "ROUND_UP",
        "ROUND_DOWN",
        "ROUND_CEILING",
        "ROUND_FLOOR",
        "ROUND_05UP",
    }
)

#: Formats the readers understand, and the key suffixes that select them.
SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
FORMATS = frozenset({"csv", "json", "jsonl", "ndjson"})


class ConfigError(ValueError):
    """A configuration document that cannot be applied."""


@dataclass(frozen=True)
class Config:
    """The data settings of the pipeline; the defaults are the data contract's.

    Attributes:
        required_fields: fields every record must carry. Default: transaction_id, amount, date, account_id.
        fee_rate: the fee is `amount * fee_rate`, rounded to 2 places. Default: 0.01.
        rounding: a `decimal` rounding mode name for the fee. Default: ROUND_HALF_UP.
        default_currency: used when a record has no currency or an empty one. Default: USD.
        max_errors: how many errors a result and a report list; the total is always counted. Default: 100.
        max_record_bytes: the largest record (or CSV line, or JSON value) read before the file
            is rejected, bounding memory. Default: 1 MiB.
        suffixes: key suffixes accepted (compared case-insensitively). Default: .csv .json .jsonl .ndjson.
    """

    required_fields: tuple[str, ...] = ("transaction_id", "amount", "date", "account_id")
    fee_rate: Decimal = Decimal("0.01")
    rounding: str = "ROUND_HALF_UP"
    default_currency: str = "USD"
    max_errors: int = 100
    max_record_bytes: int = 1024 * 1024
    suffixes: tuple[str, ...] = field(default=(".csv", ".json", ".jsonl", ".ndjson"))

    def __post_init__(self) -> None:
        if not isinstance(self.fee_rate, Decimal):
            object.__setattr__(self, "fee_rate", _decimal(self.fee_rate))
        object.__setattr__(self, "required_fields", tuple(self.required_fields))
        object.__setattr__(self, "suffixes", tuple(s.lower() for s in self.suffixes))
        if not self.fee_rate.is_finite() or self.fee_rate < 0:
            raise ConfigError(f"fee_rate must be a finite, non-negative decimal, got {self.fee_rate}")
        if self.rounding not in ROUNDING_MODES:
            raise ConfigError(f"rounding must be one of {sorted(ROUNDING_MODES)}, got {self.rounding!r}")
        if (
            len(self.default_currency) != 3
            or not self.default_currency.isascii()
            or not (self.default_currency.isalpha() and self.default_currency.isupper())
        ):
            raise ConfigError(f"default_currency must be three upper-case letters, got {self.default_currency!r}")
        if self.max_errors < 1:
            raise ConfigError(f"max_errors must be at least 1, got {self.max_errors}")
        if self.max_record_bytes < 1024:
            raise ConfigError(f"max_record_bytes must be at least 1024, got {self.max_record_bytes}")
        unknown = [s for s in self.suffixes if s not in SUFFIX_FORMATS]
        if unknown or not self.suffixes:
            raise ConfigError(f"suffixes must be a non-empty subset of {sorted(SUFFIX_FORMATS)}, got {unknown}")

    @property
    def rounding_mode(self) -> str:
        """The `decimal` module's constant for `rounding`."""
        mode: str = getattr(decimal, self.rounding)
        return mode

    def format_for_key(self, key: str) -> str | None:
        """The reader format for an object key, or None when its suffix is not accepted."""
        lowered = key.lower()
        for suffix in self.suffixes:
            if lowered.endswith(suffix):
                return SUFFIX_FORMATS[suffix]
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; `from_dict` reads it back to an equal Config."""
        data = asdict(self)
        data["fee_rate"] = str(self.fee_rate)
        data["required_fields"] = list(self.required_fields)
        data["suffixes"] = list(self.suffixes)
        return data

    def to_json(self) -> str:
        """The configuration as the compact JSON document the functions receive."""
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Read a configuration dict; unknown keys are an error, missing keys take defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown configuration keys: {unknown}")
        values = dict(data)
        for name in ("required_fields", "suffixes"):
            if name in values:
                values[name] = tuple(values[name])
        if "fee_rate" in values:
            values["fee_rate"] = _decimal(values["fee_rate"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str | None) -> Config:
        """Read the JSON document the constructs pass; empty or None gives the defaults."""
        if not text:
            return cls()
        data = json.loads(text, parse_float=Decimal)
        if not isinstance(data, dict):
            raise ConfigError("the configuration must be a JSON object")
        return cls.from_dict(data)


DEFAULT_CONFIG = Config()


def _decimal(value: object) -> Decimal:
    if isinstance(value, float):
        raise ConfigError("fee_rate must be given as a string or Decimal, never a float")
    try:
        return Decimal(str(value))
    except decimal.InvalidOperation as exc:
        raise ConfigError(f"fee_rate is not a decimal: {value!r}") from exc
