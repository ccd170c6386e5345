"""`etl-constructs schema`: check a schema file as the synth will, or print the default schema to start from."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from etl_handlers.core.schema import DEFAULT_SCHEMA, Schema, SchemaError

from .errors import UsageError

Command = Callable[[argparse.Namespace], int]
#: Exit status of `schema check` for a schema that would be refused at synth.
REFUSED = 1


def add_schema_commands(commands: Any) -> dict[str, Command]:
    """Add `schema check` and `schema default` to the `etl-constructs` parser; return their handlers."""
    schema = commands.add_parser("schema", help="check a schema file, or print the default schema")
    actions = schema.add_subparsers(dest="schema_action", required=True)
    check = actions.add_parser(
        "check",
        help="check a schema file as the synth does; exit 0 when accepted, 1 (naming the setting's path) if not,"
        " 2 when there is no such file",
    )
    check.add_argument("file", type=Path, metavar="FILE", help="a schema file (JSON)")
    check.add_argument("--json", action="store_true", help="print the outcome as JSON")
    actions.add_parser("default", help="print the default schema (the data contract's rules) as a schema file")
    return {"schema": _schema}


def _schema(args: argparse.Namespace) -> int:
    if args.schema_action == "default":
        print(json.dumps(DEFAULT_SCHEMA.to_dict(), indent=2))
        return 0
    path: Path = args.file
    if not path.is_file():
        raise UsageError(f"no schema file at {path}")
    try:
        schema = Schema.from_file(path)
    except SchemaError as exc:
        if args.json:
            print(json.dumps({"file": str(path), "ok": False, "path": exc.path, "message": exc.message}))
        else:
            print(f"{path}: {exc}", file=sys.stderr)
        return REFUSED
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8: {exc}") from None
    outcome = {"file": str(path), "ok": True, "fields": len(schema.fields), "schema_hash": schema.hash}
    if args.json:
        print(json.dumps(outcome))
    else:
        print(f"{path}: a valid schema of {len(schema.fields)} fields, {schema.hash}")
    return 0
