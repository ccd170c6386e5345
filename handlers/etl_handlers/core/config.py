"""The pipeline settings the functions apply, read from the JSON document the constructs pass."""

from __future__ import annotations

import decimal
import json
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from .config_error import ConfigError as ConfigError
from .currencies import MINOR_UNITS
from .schema import DEFAULT_SCHEMA, Schema

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


#: The default schema's required fields: `required_fields` may change them when no schema is given.
DEFAULT_REQUIRED = ("transaction_id", "amount", "date", "account_id")
#: What a control record's key adds to its data file's key.
CONTROL_SUFFIX = ".control.json"


@dataclass(frozen=True)
class Config:
    """The data settings of the pipeline; the defaults are the data contract's.

    Attributes:
        required_fields: with the default schema, the fields every record must carry; a name the
            schema lacks must be present and not empty. Default: transaction_id, amount, date, account_id.
        fee_rate: the fee is `amount * fee_rate`, rounded to the minor unit of the record's currency. Default: 0.01.
        rounding: a `decimal` rounding mode name for the fee. Default: ROUND_HALF_UP.
        default_currency: used when a record has no currency or an empty one. Default: USD.
        max_errors: how many errors a result and a report list; the total is always counted. Default: 100.
        max_record_bytes: the largest record (or CSV line, or JSON value) read before the file
            is rejected, bounding memory. Default: 1 MiB.
        suffixes: key suffixes accepted (compared case-insensitively). Default: .csv .json .jsonl .ndjson.
        any_currency: accept any three upper-case letters as a currency, not only the active ISO 4217
            codes; a code outside the table has 2 decimal places. Default: False.
        control_totals: a data file completes only when its control record (`<key>.control.json`)
            matches its record count and amount totals. Default: False.
        control_wait_seconds: how long a data file waits for its control record (named in a rejection).
            Default: 900.
        control_checks: how many times a data file looks again for its control record, an interval
            apart (the state machine waits the interval), before it is rejected. Default: 15.
        schema: the record rules. Default: None, the data contract's default schema.
        schema_file: the name of the schema's file in the functions' code folder, when the
            configuration travels without the schema itself. Default: None.
    """

    required_fields: tuple[str, ...] = ("transaction_id", "amount", "date", "account_id")
    fee_rate: Decimal = Decimal("0.01")
    rounding: str = "ROUND_HALF_UP"
    default_currency: str = "USD"
    max_errors: int = 100
    max_record_bytes: int = 1024 * 1024
    suffixes: tuple[str, ...] = field(default=(".csv", ".json", ".jsonl", ".ndjson"))
    any_currency: bool = False
    control_totals: bool = False
    control_wait_seconds: int = 900
    control_checks: int = 15
    schema: Schema | None = None
    schema_file: str | None = None

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
        if not self.any_currency and self.default_currency not in MINOR_UNITS:
            raise ConfigError(
                f"default_currency {self.default_currency} is not an active ISO 4217 code;"
                " set any_currency to accept any three upper-case letters"
            )
        if self.control_checks < 1:
            raise ConfigError(f"control_checks must be at least 1, got {self.control_checks}")
        if self.max_errors < 1:
            raise ConfigError(f"max_errors must be at least 1, got {self.max_errors}")
        if self.max_record_bytes < 1024:
            raise ConfigError(f"max_record_bytes must be at least 1024, got {self.max_record_bytes}")
        unknown = [s for s in self.suffixes if s not in SUFFIX_FORMATS]
        if unknown or not self.suffixes:
            raise ConfigError(f"suffixes must be a non-empty subset of {sorted(SUFFIX_FORMATS)}, got {unknown}")
        reshaped = set(self.required_fields) != set(DEFAULT_REQUIRED)
        if self.schema is not None:
            if reshaped:
                raise ConfigError(
                    'required_fields shapes the default schema; with a schema, mark its fields "required": true'
                )
            rules = self.schema
        elif reshaped:
            for name in ("transaction_id", "amount"):
                if name not in self.required_fields:
                    raise ConfigError(f"required_fields must include {name!r}: the fee and the checks need it")
            if any(not isinstance(f, str) or not f.strip() for f in self.required_fields):
                raise ConfigError("required_fields must be non-empty names")
            rules = DEFAULT_SCHEMA.with_required(self.required_fields)
        else:
            rules = DEFAULT_SCHEMA
        object.__setattr__(self, "_rules", rules)  # derived, not a field: `schema` and `required_fields` are

    @property
    def rules(self) -> Schema:
        """The schema the records are checked against: `schema`, or the default shaped by `required_fields`."""
        rules: Schema = self.__dict__["_rules"]
        return rules

    @property
    def schema_hash(self) -> str:
        """The hash of the rules applied (`Schema.hash`): recorded on each ledger attempt."""
        return self.rules.hash

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
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "schema"}
        if data["schema_file"] is None:
            del data["schema_file"]
        if self.schema is not None:
            data["schema_hash"] = self.schema.hash
        data["fee_rate"] = str(self.fee_rate)
        data["required_fields"] = list(self.required_fields)
        data["suffixes"] = list(self.suffixes)
        return data

    def to_json(self) -> str:
        """The configuration as the compact JSON document the functions receive."""
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], schema: Schema | None = None) -> Config:
        """Read a configuration dict; unknown keys are an error, missing keys take defaults.

        A dict naming a `schema_hash` needs the `schema` it was made with: a different one is an error.
        """
        known = {f.name for f in fields(cls) if f.name != "schema"} | {"schema_hash"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown configuration keys: {unknown}")
        values = dict(data)
        expected = values.pop("schema_hash", None)
        if expected is not None:
            if schema is None:
                raise ConfigError(f"the configuration names schema {expected}, and no schema was given")
            if schema.hash != expected:
                raise ConfigError(f"the schema given is {schema.hash}, not the configuration's {expected}")
        if schema is not None:
            values["schema"] = schema
        for name in ("required_fields", "suffixes"):
            if name in values:
                values[name] = tuple(values[name])
        if "fee_rate" in values:
            values["fee_rate"] = _decimal(values["fee_rate"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str | None, schema: Schema | None = None) -> Config:
        """Read the JSON document the constructs pass; empty or None gives the defaults."""
        if not text:
            return cls(schema=schema)
        data = json.loads(text, parse_float=Decimal)
        if not isinstance(data, dict):
            raise ConfigError("the configuration must be a JSON object")
        return cls.from_dict(data, schema)


DEFAULT_CONFIG = Config()


def _decimal(value: object) -> Decimal:
    if isinstance(value, float):
        raise ConfigError("fee_rate must be given as a string or Decimal, never a float")
    try:
        return Decimal(str(value))
    except decimal.InvalidOperation as exc:
        raise ConfigError(f"fee_rate is not a decimal: {value!r}") from exc
