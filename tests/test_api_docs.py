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


def test_constructs_show_their_real_signature():
    text = (REPO / "API.md").read_text()
    for name in ("EtlPipeline", "RawLanding", "ProcessingLedger", "ValidateTransformWorkflow", "EtlAlarms"):
        assert f"\n{name}(scope: 'Construct', construct_id: 'str', props: " in text, name
    assert "-> ~M" not in text  # what jsii's metaclass showed instead


def test_every_field_of_every_exported_props_class_is_documented():
    import dataclasses
    import inspect

    import etl_constructs
    from etl_constructs._apidoc import attributes

    missing = []
    for name in etl_constructs.__all__:
        cls = getattr(etl_constructs, name)
        if inspect.isclass(cls) and dataclasses.is_dataclass(cls):
            described = attributes(cls)
            missing += [f"{name}.{f.name}" for f in dataclasses.fields(cls) if not described.get(f.name)]
    assert missing == [], f"fields without a description in their class's Attributes: {missing}"
