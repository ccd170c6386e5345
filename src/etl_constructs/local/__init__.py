"""run-local: the synthesized pipeline executed in-process against moto's emulation of AWS.

It needs the `local` extra (`pip install "etl-constructs[local]"`): boto3 and moto. The names below
load on first use, so the template readers (`local.template`, `local.assembly`), which need neither,
serve `etl_constructs.ops` too.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .faults import Fault
    from .runner import FileReport, LocalPipeline, LocalRun, SweepFailed, Upload, run_local, synthesize_default
    from .template import TemplateError

__all__ = [
    "Fault",
    "FileReport",
    "LocalPipeline",
    "LocalRun",
    "SweepFailed",
    "TemplateError",
    "Upload",
    "run_local",
    "synthesize_default",
]
_EXPORTS = {name: "runner" for name in __all__} | {"Fault": "faults", "TemplateError": "template"}


def __getattr__(name: str) -> Any:
    """Import an exported name's submodule on first use (PEP 562); say which extra is missing."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(f".{module_name}", __name__)
    except ModuleNotFoundError as missing:
        if missing.name not in ("boto3", "botocore", "moto"):
            raise
        raise ModuleNotFoundError(
            f"run-local needs the local extra: pip install 'etl-constructs[local]' (no module named {missing.name!r})",
            name=missing.name,
        ) from missing
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazily imported exports included."""
    return sorted(set(globals()) | set(__all__))
