"""DataSettings: the data contract's knobs, checked at synth by the functions' own core and passed to them.

Every rule is checked by `etl_handlers.core` (its `Config` and `Schema`), the same code the
functions run: a setting the synth accepts is one the functions apply, and nothing is defined twice.
Only what a construct adds is checked here (a float fee rate, a fee rate above 1, the schema's file).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from aws_cdk import Duration

from etl_handlers.core.config import DEFAULT_REQUIRED, ROUNDING_MODES, SUFFIX_FORMATS, Config, ConfigError
from etl_handlers.core.schema import Schema, SchemaError

from .errors import ConfigurationError

#: Key suffixes the pipeline can read, and the format each selects.
SUPPORTED_SUFFIXES = tuple(SUFFIX_FORMATS)
#: The rounding modes a fee may use: the `decimal` module's.
ROUNDING_MODE_NAMES = tuple(sorted(ROUNDING_MODES))
#: JSON a function's environment can hold for the configuration: Lambda allows 4 KB in all.
MAX_CONFIG_BYTES = 2048
#: The schema's file in the functions' code folder (the schema travels in the asset, not the environment).
SCHEMA_FILE = "etl_schema.json"
#: The longest wait for a control record: a Standard execution may run a year, a file should not wait a week.
MAX_CONTROL_WAIT = Duration.days(7)
#: The most looks for a control record: each adds about 9 history events (the task's 5, the choice's 2, the
#: wait's 2), and a Standard execution's history holds 25,000.
MAX_CONTROL_CHECKS = 2000


@dataclass(frozen=True)
class DataSettings:
    """How files are read, checked and transformed; every field defaults to the data contract.

    Attributes:
        suffixes: key suffixes that start a workflow, compared case-insensitively. Default: .csv .json .jsonl .ndjson.
        schema: the record rules: a path to a schema file (JSON), its document as a dict, or an
            `etl_handlers.core.schema.Schema`. It is read and checked at synth and shipped in the
            functions' code asset. See the data contract's "Rules as data". Default: None, the
            contract's default schema.
        required_fields: with the default schema, the fields every record must have; a name it has
            no rule for must be present and not empty. Not allowed with `schema` (mark the schema's
            fields required instead). Default: transaction_id, amount, date, account_id.
        fee_rate: fee = amount x fee_rate, rounded to the minor unit of the record's currency; a
            string or Decimal, never a float. Default: "0.01".
        rounding: the `decimal` rounding mode of the fee. Default: ROUND_HALF_UP (ties away from zero).
        default_currency: currency for records without one. Default: USD.
        any_currency: accept any three upper-case letters as a currency, not only the active ISO 4217
            codes; a code outside the table rounds its fee to 2 places. Default: False.
        max_errors: errors listed in a report (all are counted). Default: 100.
        max_record_bytes: largest record or line read before the file is rejected. Default: 1 MiB.
        allow_fee_rate_above_one: accept a fee_rate above 1 (a fee larger than the amount), which is
            otherwise refused as a likely typo for a percentage. Default: False.
        control_totals: a data file completes only when its control record (`<key>.control.json`)
            matches its record count and amount totals per currency. Default: False.
        control_wait: how long a data file waits for its control record before it is rejected.
            Default: 15 minutes.
        control_check_interval: how often a waiting data file looks for its control record. Default: 1 minute.
    """

    suffixes: tuple[str, ...] = SUPPORTED_SUFFIXES
    required_fields: tuple[str, ...] = DEFAULT_REQUIRED
    fee_rate: Decimal | str = "0.01"
    rounding: str = "ROUND_HALF_UP"
    default_currency: str = "USD"
    max_errors: int = 100
    max_record_bytes: int = 1024 * 1024
    allow_fee_rate_above_one: bool = False
    schema: str | Path | Mapping[str, Any] | Schema | None = None
    any_currency: bool = False
    control_totals: bool = False
    control_wait: Duration = field(default_factory=lambda: Duration.minutes(15))
    control_check_interval: Duration = field(default_factory=lambda: Duration.minutes(1))

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
        if rate.is_finite() and rate > 1 and not self.allow_fee_rate_above_one:
            raise ConfigurationError(
                f"fee_rate {rate} is above 1: a fee larger than the amount. For {rate}% give"
                f" fee_rate='{rate / 100}'; if {rate} is meant, set allow_fee_rate_above_one=True"
            )
        object.__setattr__(self, "fee_rate", rate)
        if len(set(self.suffixes)) != len(self.suffixes):
            raise ConfigurationError(f"suffixes repeat: {self.suffixes}")
        for suffix in self.suffixes:
            if suffix not in SUPPORTED_SUFFIXES:
                raise ConfigurationError(
                    f"unknown suffix {suffix!r}: the pipeline reads only {', '.join(SUPPORTED_SUFFIXES)}"
                )
        if self.control_totals and ".json" not in self.suffixes:
            raise ConfigurationError(
                "control_totals needs '.json' among the suffixes: control records are <data key>.control.json"
                " objects, and each starts a workflow that records it (and quarantines it when malformed)"
            )
        schema = _read_schema(self.schema)
        try:
            config = Config(
                required_fields=self.required_fields,
                fee_rate=rate,
                rounding=self.rounding,
                default_currency=self.default_currency,
                max_errors=self.max_errors,
                max_record_bytes=self.max_record_bytes,
                suffixes=self.suffixes,
                any_currency=self.any_currency,
                control_totals=self.control_totals,
                control_wait_seconds=_whole_seconds(self.control_wait),
                control_checks=self._looks(),
                schema=schema,
                schema_file=SCHEMA_FILE if schema is not None else None,
            )
        except ConfigError as exc:
            raise ConfigurationError(f"data settings: {exc}") from None
        object.__setattr__(self, "_config", config)  # not a field: the settings above are the fields
        self._check_control_wait()
        if len(self.to_json()) > MAX_CONFIG_BYTES:
            raise ConfigurationError(f"the configuration is over {MAX_CONFIG_BYTES} bytes of JSON; name fewer fields")

    def _looks(self) -> int:
        """`control_checks` when the durations are ones it can be computed from (they are checked just after)."""
        durations = (self.control_wait, self.control_check_interval)
        if all(isinstance(d, Duration) and not d.is_unresolved() and d.to_milliseconds() > 0 for d in durations):
            return self.control_checks
        return 1

    def _check_control_wait(self) -> None:
        for name in ("control_wait", "control_check_interval"):
            if not isinstance(getattr(self, name), Duration):
                raise ConfigurationError(f"{name} is a {type(getattr(self, name)).__name__}: give a Duration")
        if self.control_wait.is_unresolved() or self.control_check_interval.is_unresolved():
            raise ConfigurationError("control_wait and control_check_interval must be known at synth")
        wait, interval = (
            self.control_wait.to_milliseconds() / 1000,
            self.control_check_interval.to_milliseconds() / 1000,
        )
        if interval < 1 or interval != int(interval):
            raise ConfigurationError("control_check_interval must be a whole number of seconds, 1 or more")
        if wait < interval:
            raise ConfigurationError(
                f"control_wait ({wait:g} s) is shorter than control_check_interval ({interval:g} s)"
            )
        if wait > MAX_CONTROL_WAIT.to_seconds():
            raise ConfigurationError("control_wait is at most 7 days")
        if self.control_checks > MAX_CONTROL_CHECKS:
            raise ConfigurationError(
                f"control_wait / control_check_interval is {self.control_checks} looks, more than {MAX_CONTROL_CHECKS}:"
                " each look adds about 9 events to the execution's history, which Step Functions limits to 25,000"
                " (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html); give a longer"
                " control_check_interval"
            )

    @property
    def config(self) -> Config:
        """The functions' configuration, as `etl_handlers.core` reads it (with the schema itself)."""
        config: Config = self.__dict__["_config"]
        return config

    @property
    def schema_document(self) -> str | None:
        """The schema file's text the functions' asset carries, or None for the default schema."""
        schema = self.config.schema
        return None if schema is None else schema.to_json()

    @property
    def control_checks(self) -> int:
        """How many times a data file looks again for its control record, an interval apart, before it is rejected."""
        wait, interval = self.control_wait.to_milliseconds(), self.control_check_interval.to_milliseconds()
        return max(1, math.ceil(wait / interval))

    def to_dict(self) -> dict[str, Any]:
        """The configuration document, as the functions' `Config.from_dict` reads it."""
        return self.config.to_dict()

    def to_json(self) -> str:
        """The compact JSON the functions receive in `ETL_CONFIG`."""
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)


def _read_schema(value: Any) -> Schema | None:
    """The schema of a `schema` setting, read and checked now; its errors name the setting's path."""
    if value is None or isinstance(value, Schema):
        return value
    try:
        if isinstance(value, (str, Path)):
            path = Path(value)
            if not path.is_file():
                raise ConfigurationError(f"schema: no file at {path.resolve()}")
            try:
                return Schema.from_file(path)
            except SchemaError as exc:
                raise ConfigurationError(f"schema {path}: {exc}") from None
        if isinstance(value, Mapping):
            return Schema.from_dict(value)
    except SchemaError as exc:
        raise ConfigurationError(f"schema: {exc}") from None
    raise ConfigurationError(f"schema is a {type(value).__name__}: give a file path, a dict or a Schema")


def _whole_seconds(value: Any) -> int:
    """A Duration's seconds, rounded down (0 for what is not a resolved Duration: refused just after)."""
    if not isinstance(value, Duration) or value.is_unresolved():
        return 0
    return int(value.to_milliseconds() // 1000)
