"""The error of a configuration or schema that cannot be applied (its own module: both config and schema raise it)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration document that cannot be applied."""
