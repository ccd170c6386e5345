"""Fixtures of the run-local tests: templates edited on purpose."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Edit = Callable[[dict[str, Any]], None]


def _variant(template: Path, folder: Path, edit: Edit) -> Path:
    """`template` edited, written into `folder` with its assets linked beside it."""
    body = json.loads(template.read_text())
    edit(body)
    for entry in template.parent.iterdir():
        if entry.name.startswith("asset."):
            (folder / entry.name).symlink_to(entry)
    for manifest in template.parent.glob("*.assets.json"):
        (folder / "Variant.assets.json").write_text(manifest.read_text())
    target = folder / "Variant.template.json"
    target.write_text(json.dumps(body))
    return target


@pytest.fixture(scope="session")
def variant() -> Callable[[Path, Path, Edit], Path]:
    """`variant(template, folder, edit)`: a copy of a synthesized template, edited, runnable in `folder`."""
    return _variant
