"""run-local: the synthesized pipeline executed in-process against moto's emulation of AWS."""

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
