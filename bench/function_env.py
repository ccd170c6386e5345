"""The Lambda function each benchmarked pass stands for, and the environment Lambda would give it."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

_READ_DEFAULTS = """
import dataclasses, json
from etl_constructs.workflow import ValidateTransformWorkflowProps as props
defaults = {f.name: f.default for f in dataclasses.fields(props)}
print(json.dumps([defaults["validate_memory_mb"], defaults["transform_memory_mb"]]))
"""


@functools.cache
def memory_mb() -> dict[str, int]:
    """The memory (MB) of the default function that runs each pass: `ValidateTransformWorkflowProps`' defaults.

    `validate+recheck` runs both passes in one process, which the pipeline never does: at the validate
    function's memory. Read in a child process: importing aws_cdk here would grow this process by about
    90 MB, which the children it then starts would report as their own peak (Linux carries a process's
    peak RSS across fork and exec).
    """
    done = subprocess.run([sys.executable, "-c", _READ_DEFAULTS], capture_output=True, text=True, check=True)
    validate, transform = json.loads(done.stdout)
    return {"validate": validate, "transform": transform, "transform-recheck": transform, "validate+recheck": validate}


def environment(case: str | None) -> dict[str, str]:
    """This process's environment for a child that runs `case` as its default function would.

    With the function's memory size in `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, as Lambda sets it: the
    duplicate-id check keeps a quarter of it for ids in memory (`etl_handlers.core.digests.in_memory_budget`).
    `case` None (or a case no function runs, the naive baseline): outside Lambda, without it.
    """
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"}
    if case in memory_mb():
        env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(memory_mb()[case])
    return env
