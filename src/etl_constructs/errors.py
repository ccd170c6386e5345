"""The one exception the constructs raise for configuration they cannot build, and the props checks."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigurationError(ValueError):
    """Props that cannot make a working pipeline; raised at synth time with what to change."""


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
