"""The one exception the constructs raise for configuration they cannot build."""


class ConfigurationError(ValueError):
    """Props that cannot make a working pipeline; raised at synth time with what to change."""
