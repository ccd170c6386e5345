"""run-local: the synthesized pipeline executed in-process against moto's emulation of AWS.

It needs the `local` extra (`pip install "etl-constructs[local]"`): boto3 and moto.
"""

try:
    import boto3  # noqa: F401
    import moto  # noqa: F401
except ModuleNotFoundError as missing:  # the plain install: the constructs only
    raise ModuleNotFoundError(
        f"run-local needs the local extra: pip install 'etl-constructs[local]' (no module named {missing.name!r})",
        name=missing.name,
    ) from missing

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
