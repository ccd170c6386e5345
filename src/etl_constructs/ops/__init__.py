"""Operate a pipeline: inspect the ledger, run known versions again, backfill what landed before it.

The same code serves a deployed stack (`PipelineResources.from_stack`, boto3 clients of your
account) and run-local's emulation (`LocalPipeline.reprocess`, `LocalPipeline.backfill`). It
imports neither aws_cdk nor moto; it needs boto3 (`pip install "etl-constructs[ops]"`).
"""

from .backfill import BackfillResult, backfill
from .ledger_view import attempts, list_items, show_text, table_text
from .locate import PipelineResources
from .reprocess import ReprocessResult, reprocess

__all__ = [
    "BackfillResult",
    "PipelineResources",
    "ReprocessResult",
    "attempts",
    "backfill",
    "list_items",
    "reprocess",
    "show_text",
    "table_text",
]
