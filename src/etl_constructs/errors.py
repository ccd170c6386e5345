"""The one exception the constructs raise for configuration they cannot build, and the props checks."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigurationError(ValueError):
    """Props that cannot make a working pipeline; raised at synth time with what to change."""


class UnknownSettingError(ConfigurationError, TypeError):
    """A keyword an options class has no field for, with where that setting goes.

    A TypeError too, as Python raises for an unexpected keyword, so code that catches that still does.
    """


class UsageError(Exception):
    """What a user of the `etl-constructs` command asked for cannot be done: exit 2 with this message."""


def props_of(construct: str, cls: type[T], props: object, extra: Mapping[str, object]) -> T | None:
    """`props` checked to be a `cls` (or None); a dict or keyword arguments get the right form shown.

    `extra` is what the construct received as keyword arguments besides its props.
    """
    given = dict(props) if isinstance(props, Mapping) else {}
    given.update(extra)
    if given:
        settings = ", ".join(f"{name}=..." for name in given)
        raise ConfigurationError(
            f"{construct} takes its settings as one {cls.__name__}:"
            f" {construct}(scope, 'Id', {cls.__name__}({settings}))"
        )
    if props is not None and not isinstance(props, cls):
        raise ConfigurationError(f"{construct} takes a {cls.__name__} as props, not {type(props).__name__}")
    return props


def check_overrides(
    name: str, given: Mapping[str, Any] | None, construct: type, owned: Mapping[str, str | None]
) -> None:
    """Refuse a `*_props` setting the pipeline owns, or one `construct` does not take.

    `owned` maps each owned keyword argument to the props field to use instead, or to None when the
    pipeline sets it itself and it cannot be overridden.
    """
    if given is None:
        return
    if not isinstance(given, Mapping):
        raise ConfigurationError(f"{name} must be a mapping of {construct.__name__} keyword arguments")
    accepted = set(inspect.signature(construct.__dict__["__init__"]).parameters) - {"self", "scope", "id"}
    for key in given:
        if key in owned:
            instead = owned[key]
            raise ConfigurationError(
                f"{name}[{key!r}] is set by the pipeline"
                + (f": use {instead}" if instead else ", it cannot be overridden")
            )
        if key not in accepted:
            raise ConfigurationError(f"{name}[{key!r}]: {construct.__name__} has no such setting")


def refuse_snapshot(construct: str, removal_policy: object, what: str) -> None:
    """Refuse RemovalPolicy.SNAPSHOT for `what` (buckets, tables), which CloudFormation cannot snapshot.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html
    """
    if str(removal_policy).endswith("SNAPSHOT"):  # errors.py imports no aws_cdk
        raise ConfigurationError(
            f"{construct}: CloudFormation cannot snapshot {what} (removal_policy SNAPSHOT): use RETAIN or DESTROY"
        )


def check_types(props: object, construct: str) -> None:
    """Refuse a field of the dataclass `props` whose value is plainly of another type than its annotation
    (a str for an int, an int for a Duration, a dict for a settings class), naming the type to give.

    Interfaces (`kms.IKey`, `s3.IBucket`...) cannot be checked at runtime and are let through.
    """
    hints = typing.get_type_hints(type(props))
    for spec in dataclasses.fields(props):  # type: ignore[arg-type]
        value = getattr(props, spec.name)
        hint = hints[spec.name]
        if _matches(value, hint) is False:
            shown = f"{value!r:.60}"
            raise ConfigurationError(
                f"{construct}: {spec.name} is a {type(value).__name__} ({shown}): give {_describe(hint)}"
            )


def _matches(value: object, hint: Any) -> bool | None:
    """True or False when `value` is or is not of type `hint`; None when that cannot be told."""
    if hint is Any:
        return None
    if hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        answers = [_matches(value, arg) for arg in typing.get_args(hint)]
        return True if True in answers else None if None in answers else False
    if origin is not None:
        return isinstance(
            value, Mapping if issubclass(origin, Mapping) else (list, tuple) if issubclass(origin, Sequence) else origin
        )
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if (
        hint in (str, bool)
        or dataclasses.is_dataclass(hint)
        or (isinstance(hint, type) and issubclass(hint, enum.Enum))
    ):
        return isinstance(value, hint)
    try:
        return isinstance(value, hint)  # a jsii class (Duration, Runtime); an interface raises
    except TypeError:
        return None


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "None"
    origin = typing.get_origin(hint)
    if origin is not None:
        return "a mapping (dict) of keyword arguments" if issubclass(origin, Mapping) else "a tuple or list"
    name = getattr(hint, "__name__", str(hint))
    examples = {"Duration": "a Duration, such as Duration.minutes(5)", "int": "an int", "str": "a str"}
    return examples.get(name, f"a {name}" + ("(...)" if dataclasses.is_dataclass(hint) else ""))
