"""The schema: which fields a record has and the rule of each, read from a JSON document.

The same code reads a schema at synth (the constructs call `Schema.from_dict` and turn a
`SchemaError` into their `ConfigurationError`) and in the functions (which read the schema file
shipped in their code asset), so a schema the synth accepts is the schema the functions apply.

A schema document (see docs/data-contract.md, "Rules as data", for the user's guide):

    {
      "schema_version": 1,
      "fields": {
        "transaction_id": {"type": "string", "required": true, "unique": true, "max_length": 64},
        "value": {"type": "decimal", "required": true, "minimum": "0"},
        "merchant_code": {"type": "string", "pattern": "MC\\\\d{6}"},
        "status": {"type": "string", "enum": ["SETTLED", "PENDING", "REVERSED"]},
        "currency": {"type": "string", "empty": true}
      },
      "other_fields": "reject",
      "amount_field": "value",
      "currency_field": "currency"
    }

Every problem is a `SchemaError` whose `path` names the setting, such as `fields.value.minimum`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from .config_error import ConfigError
from .patterns import PatternError, compile_pattern

#: The schema format's version; a document names it so that a later format can be told apart.
SCHEMA_VERSION = 1
#: Field types, and what a value of each must be.
TYPES = ("string", "decimal", "integer", "date", "date-time", "boolean", "any")
#: What happens to a field the schema does not name.
OTHER_FIELDS = ("keep", "drop", "reject")
#: Fields the pipeline writes into each output record; a schema cannot declare them.
WRITTEN_FIELDS = ("fee", "processed_at")
#: Most allowed values a field may list (the configuration ships in the code asset, but a list
#: this long is a lookup table, not a rule).
MAX_ENUM = 1000
#: Most fields a schema may declare.
MAX_FIELDS = 500

_FIELD_KEYS = (
    "type",
    "description",
    "required",
    "empty",
    "minimum",
    "maximum",
    "min_length",
    "max_length",
    "pattern",
    "enum",
    "unique",
)
_FILE_KEYS = ("schema_version", "description", "fields", "other_fields", "amount_field", "currency_field")
_BOUNDED_TYPES = ("decimal", "integer", "date")
_PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?\Z")
_PLAIN_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")


class SchemaError(ConfigError):
    """A schema that is malformed or cannot be satisfied; `path` names the setting at fault."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class FieldRule:
    """The rule of one field. Every attribute but `name` and `type` is optional.

    Attributes:
        name: the field's name in a record (a CSV header name or a JSON key).
        type: string, decimal, integer, date, date-time, boolean, or any (not checked).
        required: the field must be present. Default: False.
        empty: the value may be empty (null, "", or for a string blank); an empty value is then not
            checked further. Default: False.
        minimum: the smallest value (decimal and integer: a number; date: a YYYY-MM-DD day). Default: None.
        maximum: the largest value, as `minimum`. Default: None.
        min_length: the fewest characters of a string, after trimming. Default: None.
        max_length: the most characters of a string, after trimming. Default: None.
        pattern: a pattern (etl_handlers.core.patterns syntax) the whole trimmed string matches. Default: None.
        enum: the values allowed, as text. Default: None (any).
        unique: no two records of a file have the same value (its text after trimming). Default: False.
    """

    name: str
    type: str = "string"
    required: bool = False
    empty: bool = False
    minimum: Decimal | str | None = None
    maximum: Decimal | str | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    unique: bool = False
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The field's settings as its schema document gives them, defaults left out."""
        data: dict[str, Any] = {"type": self.type}
        for key in _FIELD_KEYS[1:]:
            value = getattr(self, key)
            if value is None or value is False:
                continue
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            data[key] = value
        return data


@dataclass(frozen=True)
class Schema:
    """A file's record rules: the fields, what to do with other fields, and the fee's fields.

    Attributes:
        fields: the fields' rules, in the order their checks run and errors are listed.
        other_fields: keep (written out unchanged), drop (left out of the output) or reject (a row
            error; in a CSV header, a file error). Default: keep.
        amount_field: the decimal field the fee is computed from. Default: amount.
        currency_field: the field holding the ISO 4217 code; an absent or empty value takes the
            default currency. None: every record takes the default currency. Default: currency.
        description: free text for the schema's readers. Default: None.
    """

    fields: tuple[FieldRule, ...]
    other_fields: str = "keep"
    amount_field: str = "amount"
    currency_field: str | None = "currency"
    description: str | None = None
    _by_name: dict[str, FieldRule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "_by_name", {rule.name: rule for rule in self.fields})
        _check_schema(self)

    @property
    def names(self) -> tuple[str, ...]:
        """The declared fields' names, in order."""
        return tuple(rule.name for rule in self.fields)

    @property
    def required_names(self) -> tuple[str, ...]:
        """The required fields' names, in order."""
        return tuple(rule.name for rule in self.fields if rule.required)

    def rule(self, name: str) -> FieldRule | None:
        """The rule of field `name`, or None when the schema does not declare it."""
        return self._by_name.get(name)

    def to_dict(self) -> dict[str, Any]:
        """The schema as a JSON-ready document; `from_dict` reads it back to an equal Schema."""
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "fields": {rule.name: rule.to_dict() for rule in self.fields},
            "other_fields": self.other_fields,
            "amount_field": self.amount_field,
            "currency_field": self.currency_field,
        }
        if self.description is not None:
            data["description"] = self.description
        return data

    def to_json(self) -> str:
        """The canonical JSON of the schema: the text its hash is taken of, and the file the functions read."""
        # Keys in a fixed order, fields in theirs (it is the order of the checks and of the errors).
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @property
    def hash(self) -> str:
        """`sha256:` and the hex digest of the canonical JSON: the same rules give the same hash."""
        return "sha256:" + hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Read a schema document; every problem is a SchemaError naming its path."""
        if not isinstance(data, Mapping):
            raise SchemaError("", f"a schema is a JSON object, not {_kind(data)}")
        _unknown(data, _FILE_KEYS, "")
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION or isinstance(version, bool):
            raise SchemaError("schema_version", f"this release reads schema_version {SCHEMA_VERSION}, not {version!r}")
        declared = data.get("fields")
        if not isinstance(declared, Mapping) or not declared:
            raise SchemaError("fields", 'give an object naming at least one field, e.g. {"amount": {...}}')
        if len(declared) > MAX_FIELDS:
            raise SchemaError("fields", f"at most {MAX_FIELDS} fields, not {len(declared)}")
        rules = tuple(_field_rule(name, spec) for name, spec in declared.items())
        other = data.get("other_fields", "keep")
        if other not in OTHER_FIELDS:
            raise SchemaError("other_fields", f"one of {', '.join(OTHER_FIELDS)}, not {other!r}")
        amount = data.get("amount_field", "amount")
        if not isinstance(amount, str):
            raise SchemaError("amount_field", f"a field name, not {_kind(amount)}")
        currency = data.get("currency_field", "currency")
        if currency is not None and not isinstance(currency, str):
            raise SchemaError("currency_field", f"a field name or null, not {_kind(currency)}")
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            raise SchemaError("description", f"text, not {_kind(description)}")
        return cls(rules, other, amount, currency, description)

    @classmethod
    def from_json(cls, text: str) -> Schema:
        """Read a schema from its JSON text (numbers are read exactly, never as floats)."""
        try:
            data = json.loads(text, parse_float=Decimal)
        except ValueError as exc:
            raise SchemaError("", f"not valid JSON: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path: str | Path) -> Schema:
        """Read a schema file (UTF-8 JSON)."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def with_required(self, names: tuple[str, ...]) -> Schema:
        """This schema with exactly `names` required; a name it lacks is added as a required field of any type.

        This is how `required_fields` shapes the default schema: each named field must be present,
        and one the schema has no rule for must not be empty.
        """
        rules = [FieldRule(**{**_attributes(rule), "required": rule.name in names}) for rule in self.fields]
        rules += [FieldRule(name, "any", required=True) for name in names if name not in self._by_name]
        return Schema(tuple(rules), self.other_fields, self.amount_field, self.currency_field, self.description)


def _attributes(rule: FieldRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in ("name", *_FIELD_KEYS)}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, (int, float, Decimal)):
        return f"a number ({value})"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _unknown(data: Mapping[str, Any], known: tuple[str, ...], path: str) -> None:
    for key in data:
        if key not in known:
            where = f"{path}.{key}" if path else str(key)
            raise SchemaError(where, f"unknown setting; the settings are {', '.join(known)}")


def _field_rule(name: Any, spec: Any) -> FieldRule:
    path = f"fields.{name}"
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise SchemaError(path, "a field name is non-empty text without surrounding spaces")
    if name in WRITTEN_FIELDS:
        raise SchemaError(path, f"{name} is written by the pipeline into each output record; rename the input field")
    if not isinstance(spec, Mapping):
        raise SchemaError(path, f'give an object of settings such as {{"type": "string"}}, not {_kind(spec)}')
    _unknown(spec, _FIELD_KEYS, path)
    kind = spec.get("type", "string")
    if kind not in TYPES:
        raise SchemaError(f"{path}.type", f"one of {', '.join(TYPES)}, not {kind!r}")
    values: dict[str, Any] = {"name": name, "type": kind}
    for flag in ("required", "empty", "unique"):
        if flag in spec:
            if not isinstance(spec[flag], bool):
                raise SchemaError(f"{path}.{flag}", f"true or false, not {_kind(spec[flag])}")
            values[flag] = spec[flag]
    if "description" in spec:
        if not isinstance(spec["description"], str):
            raise SchemaError(f"{path}.description", f"text, not {_kind(spec['description'])}")
        values["description"] = spec["description"]
    for bound in ("minimum", "maximum"):
        if spec.get(bound) is not None:
            if kind not in _BOUNDED_TYPES:
                raise SchemaError(
                    f"{path}.{bound}", f"{bound} applies to {', '.join(_BOUNDED_TYPES)} fields, not {kind}"
                )
            values[bound] = _bound(kind, spec[bound], f"{path}.{bound}")
    for length in ("min_length", "max_length"):
        if spec.get(length) is not None:
            if kind != "string":
                raise SchemaError(f"{path}.{length}", f"{length} applies to string fields, not {kind}")
            number = spec[length]
            if isinstance(number, Decimal) and number == number.to_integral_value():
                number = int(number)
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise SchemaError(f"{path}.{length}", f"a whole number of characters, 0 or more, not {_kind(number)}")
            values[length] = number
    if spec.get("pattern") is not None:
        if kind != "string":
            raise SchemaError(f"{path}.pattern", f"a pattern applies to string fields, not {kind}")
        if not isinstance(spec["pattern"], str):
            raise SchemaError(f"{path}.pattern", f"text, not {_kind(spec['pattern'])}")
        try:
            compile_pattern(spec["pattern"])
        except PatternError as exc:
            raise SchemaError(f"{path}.pattern", str(exc)) from None
        values["pattern"] = spec["pattern"]
    if spec.get("enum") is not None:
        listed = spec["enum"]
        if not isinstance(listed, (list, tuple)) or not listed:
            raise SchemaError(f"{path}.enum", f"a non-empty list of the allowed values, not {_kind(listed)}")
        if len(listed) > MAX_ENUM:
            raise SchemaError(f"{path}.enum", f"at most {MAX_ENUM} values, not {len(listed)}")
        if kind in ("any", "boolean"):
            raise SchemaError(
                f"{path}.enum", f"allowed values apply to string, decimal, integer and date fields, not {kind}"
            )
        texts = []
        for index, value in enumerate(listed):
            if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
                raise SchemaError(f"{path}.enum[{index}]", f"a value written as text, not {_kind(value)}")
            texts.append(str(value))
        if len(set(texts)) != len(texts):
            raise SchemaError(f"{path}.enum", "a value is listed twice")
        values["enum"] = tuple(texts)
    return FieldRule(**values)


def _bound(kind: str, value: Any, path: str) -> str:
    """A bound as canonical text (a plain decimal, an integer, or a YYYY-MM-DD day)."""
    if isinstance(value, float):
        raise SchemaError(path, f'write the number as text, such as "{value}": a float is not exact')
    if isinstance(value, bool):
        raise SchemaError(path, f"a {kind}, not {_kind(value)}")
    text = str(value).strip() if isinstance(value, (str, int, Decimal)) else None
    if kind == "date":
        match = _DATE.match(text or "")
        if not match:
            raise SchemaError(path, f"a day written YYYY-MM-DD, not {_kind(value)}")
        try:
            date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise SchemaError(path, f"{text} is not a real calendar day") from None
        return text  # type: ignore[return-value]
    if isinstance(value, Decimal):
        text = format(value, "f")
    form = _PLAIN_INTEGER if kind == "integer" else _PLAIN_DECIMAL
    if text is None or not form.match(text):
        example = "42" if kind == "integer" else "-12.50"
        raise SchemaError(path, f"a plain {kind} such as {example}, not {_kind(value)}")
    return text


def _problem(rule: FieldRule, text: str) -> str | None:
    """Why an allowed value (its text) breaks the field's own rules, or None: for checking `enum`."""
    # Imported here: values.py reads FieldRule, and the schema's checks use its per-value rule.
    from .values import value_problem

    return value_problem(rule, text)


def _check_schema(schema: Schema) -> None:
    """Refuse a schema no record could satisfy, or whose fee fields do not fit their roles."""
    seen: set[str] = set()
    for rule in schema.fields:
        path = f"fields.{rule.name}"
        if rule.name in seen:
            raise SchemaError(path, "declared twice")
        seen.add(rule.name)
        if (
            rule.minimum is not None
            and rule.maximum is not None
            and _order(rule, rule.minimum) > _order(rule, rule.maximum)
        ):
            raise SchemaError(f"{path}.minimum", f"{rule.minimum} is above the maximum {rule.maximum}: no value fits")
        if rule.min_length is not None and rule.max_length is not None and rule.min_length > rule.max_length:
            raise SchemaError(f"{path}.min_length", f"{rule.min_length} is above max_length {rule.max_length}")
        if rule.type == "string" and not rule.empty and rule.max_length == 0:
            raise SchemaError(f"{path}.max_length", "0 allows only an empty value, and the field may not be empty")
        if rule.enum is not None:
            for index, value in enumerate(rule.enum):
                if rule.type in ("string", "decimal", "integer") and value != value.strip():
                    raise SchemaError(
                        f"{path}.enum[{index}]", f"{value!r} has spaces at an end: values are trimmed, none would match"
                    )
                problem = _problem(rule, value)
                if problem:
                    raise SchemaError(f"{path}.enum[{index}]", f"{value!r} {problem}: no record could use it")
    amount = schema.rule(schema.amount_field)
    if amount is None:
        raise SchemaError("amount_field", f"{schema.amount_field!r} is not a field of the schema")
    if amount.type != "decimal" or not amount.required or amount.empty:
        raise SchemaError(
            f"fields.{amount.name}",
            "the amount field must be a required decimal that may not be empty: the fee is computed from it",
        )
    if schema.currency_field is not None:
        currency = schema.rule(schema.currency_field)
        if currency is not None and currency.type != "string":
            raise SchemaError(f"fields.{currency.name}.type", "the currency field holds a code: make it a string")
        if currency is None and schema.other_fields == "reject":
            raise SchemaError(
                "currency_field",
                f"{schema.currency_field!r} is not declared and other fields are rejected: declare it, or set null",
            )


def _order(rule: FieldRule, bound: Any) -> Any:
    return str(bound) if rule.type == "date" else Decimal(str(bound))


#: The data contract's record rules: `DEFAULT_SCHEMA` is what the pipeline applies without a schema.
DEFAULT_SCHEMA_DOCUMENT: dict[str, Any] = {
    "schema_version": SCHEMA_VERSION,
    "description": "The data contract's default record rules.",
    "fields": {
        "transaction_id": {"type": "string", "required": True, "unique": True},
        "account_id": {"type": "string", "required": True},
        "amount": {"type": "decimal", "required": True},
        "date": {"type": "date", "required": True},
        "currency": {"type": "string", "empty": True},
    },
    "other_fields": "keep",
    "amount_field": "amount",
    "currency_field": "currency",
}
DEFAULT_SCHEMA = Schema.from_dict(DEFAULT_SCHEMA_DOCUMENT)


__all__ = [
    "DEFAULT_SCHEMA",
    "DEFAULT_SCHEMA_DOCUMENT",
    "OTHER_FIELDS",
    "SCHEMA_VERSION",
    "TYPES",
    "FieldRule",
    "Schema",
    "SchemaError",
]
