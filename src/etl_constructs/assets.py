"""Where the Lambda code is: inside the installed package, or beside the sources in a checkout."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigurationError

_HERE = Path(__file__).resolve().parent
#: Files never shipped in the functions' asset.
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.mypy_cache", "**/.pytest_cache"]


def handler_asset_dir() -> Path:
    """The folder whose `etl_handlers/` package is the functions' code."""
    for candidate in (_HERE / "_handlers", _HERE.parent.parent / "handlers"):
        if (candidate / "etl_handlers" / "__init__.py").is_file():
            return candidate
    raise ConfigurationError(f"the handler code (etl_handlers) is missing from {_HERE}; reinstall etl-constructs")
