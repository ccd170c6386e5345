"""DataSettings: the data contract's knobs, checked at synth and passed to the functions as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import ConfigurationError

#: Key suffixes the pipeline can read, and the format each selects.
SUPPORTED_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")
ROUNDING_MODES = (
    "ROUND_HALF_UP",
    "ROUND_HALF_EVEN",
    "ROUND_HALF_DOWN",
    "ROUND_UP",
    "ROUND_DOWN",
    "ROUND_CEILING",
    "ROUND_FLOOR",
    "ROUND_05UP",
)
#: JSON a function's environment can hold for the configuration: Lambda allows 4 KB in all.
MAX_CONFIG_BYTES = 2048


@dataclass(frozen=True)
class DataSettings:
    """How files are read and transformed; every field defaults to the data contract.

    Attributes:
        suffixes: key suffixes that start a workflow, compared case-insensitively. Default: .csv .json .jsonl .ndjson.
        required_fields: fields every record must have. Default: transaction_id, amount, date, account_id.
        fee_rate: fee = amount x fee_rate, rounded to cents; a string or Decimal, never a float. Default: "0.01".
        rounding: the `decimal` rounding mode of the fee. Default: ROUND_HALF_UP (ties away from zero).
        default_currency: currency for records without one. Default: USD.
        max_errors: errors listed in a report (all are counted). Default: 100.
        max_record_bytes: largest record or line read before the file is rejected. Default: 1 MiB.
        allow_fee_rate_above_one: accept a fee_rate above 1 (a fee larger than the amount), which is
            otherwise refused as a likely typo for a percentage. Default: False.
    """

    suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES
    required_fields: tuple[str, ...] = ("transaction_id", "amount", "date", "account_id")
    fee_rate: Decimal | str = "0.01"
    rounding: str = "ROUND_HALF_UP"
    default_currency: str = "USD"
    max_errors: int = 100
    max_record_bytes: int = 1024 * 1024
    allow_fee_rate_above_one: bool = False

    def __post_init__(self) -> None:
        for name in ("suffixes", "required_fields"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise ConfigurationError(f"{name} is a string: give a tuple, {name}=({value!r},)")
        object.__setattr__(self, "suffixes", tuple(s.lower() for s in self.suffixes))
        object.__setattr__(self, "required_fields", tuple(self.required_fields))
        if isinstance(self.fee_rate, float):
            raise ConfigurationError("fee_rate must be a string or Decimal such as '0.01', never a float")
        try:
            rate = Decimal(str(self.fee_rate))
        except InvalidOperation:
            raise ConfigurationError(f"fee_rate {self.fee_rate!r} is not a decimal number") from None
        if not rate.is_finite() or rate < 0:
            raise ConfigurationError(f"fee_rate must be zero or more, got {self.fee_rate}")
        if rate > 1 and not self.allow_fee_rate_above_one:
            raise ConfigurationError(
                f"fee_rate {rate} is above 1: a fee larger than the amount. For {rate}% give"
                f" fee_rate='{rate / 100}'; if {rate} is meant, set allow_fee_rate_above_one=True"
            )
        object.__setattr__(self, "fee_rate", rate)
        if not self.suffixes:
            raise ConfigurationError("suffixes must name at least one of " + ", ".join(SUPPORTED_SUFFIXES))
        for suffix in self.suffixes:
            if suffix not in SUPPORTED_SUFFIXES:
                raise ConfigurationError(
                    f"unknown suffix {suffix!r}: the pipeline reads only {', '.join(SUPPORTED_SUFFIXES)}"
                )
        if len(set(self.suffixes)) != len(self.suffixes):
            raise ConfigurationError(f"suffixes repeat: {self.suffixes}")
        for name in ("transaction_id", "amount"):
            if name not in self.required_fields:
                raise ConfigurationError(f"required_fields must include {name!r}: the fee and the checks need it")
        if any(not isinstance(f, str) or not f.strip() for f in self.required_fields):
            raise ConfigurationError("required_fields must be non-empty names")
        if self.rounding not in ROUNDING_MODES:
            raise ConfigurationError(f"rounding must be one of {', '.join(ROUNDING_MODES)}, got {self.rounding!r}")
        code = self.default_currency
        if not (len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()):
            raise ConfigurationError(f"default_currency must be three upper-case letters, got {code!r}")
        if self.max_errors < 1:
            raise ConfigurationError(f"max_errors must be at least 1, got {self.max_errors}")
        if self.max_record_bytes < 1024:
            raise ConfigurationError(f"max_record_bytes must be at least 1024, got {self.max_record_bytes}")
        if len(self.to_json()) > MAX_CONFIG_BYTES:
            raise ConfigurationError(f"the configuration is over {MAX_CONFIG_BYTES} bytes of JSON; name fewer fields")

    def to_dict(self) -> dict[str, Any]:
        """The configuration document, as the functions' `Config.from_dict` reads it."""
        return {
            "default_currency": self.default_currency,
            "fee_rate": str(self.fee_rate),
            "max_errors": self.max_errors,
            "max_record_bytes": self.max_record_bytes,
            "required_fields": list(self.required_fields),
            "rounding": self.rounding,
            "suffixes": list(self.suffixes),
        }

    def to_json(self) -> str:
        """The compact JSON the functions receive in `ETL_CONFIG`."""
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)
