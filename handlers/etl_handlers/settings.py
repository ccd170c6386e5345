"""What a function is told by its environment: resource names and the pipeline configuration."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .core.config import Config
from .core.keys import derived_key, utf8_length
from .core.schema import Schema

#: What the quarantine report adds to the quarantine copy's key.
REPORT_SUFFIX = ".errors.json"


@dataclass(frozen=True)
class Settings:
    """The environment the constructs give both functions."""

    ledger_table: str
    processed_bucket: str
    output_prefix: str
    staging_prefix: str
    quarantine_bucket: str
    quarantine_prefix: str
    config: Config

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from the process environment."""
        env = os.environ
        return cls(
            ledger_table=env["LEDGER_TABLE"],
            processed_bucket=env["PROCESSED_BUCKET"],
            output_prefix=env.get("OUTPUT_PREFIX", "processed/"),
            staging_prefix=env.get("STAGING_PREFIX", "_staging/"),
            quarantine_bucket=env["QUARANTINE_BUCKET"],
            quarantine_prefix=env.get("QUARANTINE_PREFIX", "quarantine/"),
            config=read_config(env.get("ETL_CONFIG")),
        )

    def output_key(self, key: str, version: str) -> str:
        """The processed object's key: fixed by the source key and version, so a retry overwrites.

        `{output_prefix}{key}.{version}.jsonl`, with `key` shortened by `derived_key` when that,
        staged under `staging_prefix`, would pass S3's 1,024-byte limit.
        """
        return derived_key(self.output_prefix, key, f".{version}.jsonl", reserve=utf8_length(self.staging_prefix))

    def quarantine_key(self, key: str, version: str) -> str:
        """Where the quarantined copy goes; its error report is beside it with `.errors.json` added.

        `{quarantine_prefix}{version}/{key}`, with `key` shortened by `derived_key` when that and
        the report's suffix would pass S3's 1,024-byte limit.
        """
        return derived_key(f"{self.quarantine_prefix}{version}/", key, reserve=utf8_length(REPORT_SUFFIX))


def read_config(document: str | None) -> Config:
    """The configuration of `ETL_CONFIG`, with the schema it names read from the function's code folder.

    The constructs ship a user's schema in the code asset (the environment holds 4 KB in all) and
    name it, with its hash, in the configuration; Lambda gives the code folder in `LAMBDA_TASK_ROOT`
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
    A schema that is not the one the configuration was made with is an error, never applied.
    """
    name = json.loads(document).get("schema_file") if document else None
    if not name:
        return Config.from_json(document)
    root = Path(os.environ.get("LAMBDA_TASK_ROOT") or Path(__file__).resolve().parent.parent)
    return Config.from_json(document, Schema.from_file(root / name))
