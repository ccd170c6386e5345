"""The handlers' layout: they never import the constructs or the CDK, and their core imports no AWS at all.

The constructs import the core for their configuration (one implementation of every rule); this
keeps that one-way: the functions' asset must run with nothing but its own folder.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

HANDLERS = Path(__file__).resolve().parents[2] / "handlers" / "etl_handlers"
NEVER = ("aws_cdk", "constructs", "etl_constructs", "jsii")
# The core is pure: the standard library and itself, nothing the Lambda runtime or a vendor adds.
CORE_ALLOWED = set(sys.stdlib_module_names) | {"etl_handlers"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


MODULES = sorted(HANDLERS.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(HANDLERS)))
def test_no_handler_module_imports_the_constructs_or_the_cdk(path):
    assert not _imports(path) & set(NEVER)


@pytest.mark.parametrize("path", sorted((HANDLERS / "core").glob("*.py")), ids=lambda p: p.name)
def test_the_core_imports_only_the_standard_library(path):
    assert _imports(path) <= CORE_ALLOWED, _imports(path) - CORE_ALLOWED
