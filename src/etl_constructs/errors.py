"""The one exception the constructs raise for configuration they cannot build, and the props check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

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
