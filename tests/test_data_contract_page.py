"""docs/data-contract.md: its settings table holds every DataSettings field, and each default is the code's."""

from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path

from etl_constructs import (
    DataSettings,
    EtlPipelineProps,
    RawLandingProps,
    ValidateTransformWorkflowProps,
)

REPO = Path(__file__).resolve().parents[1]
PAGE = (REPO / "docs" / "data-contract.md").read_text()
CLASSES = {
    "DataSettings": DataSettings,
    "EtlPipelineProps": EtlPipelineProps,
    "RawLandingProps": RawLandingProps,
    "ValidateTransformWorkflowProps": ValidateTransformWorkflowProps,
}


def _table() -> dict[str, str]:
    section = PAGE.split("| setting | default | meaning |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in section.strip().splitlines()[1:]:
        name, default = (cell.strip().strip("`").replace('"', "") for cell in line.strip("|").split("|")[:2])
        rows[name] = default
    return rows


def _default(cls: type, name: str) -> object:
    (spec,) = [f for f in fields(cls) if f.name == name]
    return spec.default_factory() if spec.default_factory is not MISSING else spec.default


def _rendered(value: object) -> str:
    if hasattr(value, "to_human_string"):  # a Duration
        return value.to_human_string()
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def test_every_data_setting_has_a_row():
    rows = _table()
    assert {f"DataSettings.{f.name}" for f in fields(DataSettings) if f.init} <= set(rows)


def test_every_default_in_the_table_is_the_codes():
    for name, default in _table().items():
        owner, field_name = name.split(".")
        assert default == _rendered(_default(CLASSES[owner], field_name)), name


def test_the_readme_points_to_the_page():
    assert "(docs/data-contract.md)" in (REPO / "README.md").read_text()
