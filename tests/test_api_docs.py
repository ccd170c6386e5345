"""API.md is generated from the code and committed: it must match what the code says now."""

from pathlib import Path

from etl_constructs import __all__ as exported
from etl_constructs._apidoc import render

REPO = Path(__file__).resolve().parent.parent


def test_committed_api_md_matches_the_code():
    assert (REPO / "API.md").read_text() == render(), "API.md is stale: run `make api-docs` and commit"


def test_every_export_is_documented():
    text = render()
    for name in exported:
        if name != "__version__":
            assert f"## `{name}`" in text, name
