"""The functions' asset needs nothing but Lambda's Python runtime: Powertools is vendored into it."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from etl_constructs.assets import VENDOR_STAMP, compose_asset, handler_asset_dir
from etl_constructs.errors import ConfigurationError

REPO = Path(__file__).resolve().parent.parent
#: What Lambda's Python runtime provides, by import name (python-dateutil is `dateutil`).
LAMBDA_RUNTIME = ("boto3", "botocore", "jmespath", "s3transfer", "urllib3", "dateutil", "six")
VENDORED = ("aws_lambda_powertools", "aws_xray_sdk", "wrapt", "typing_extensions")

# Runs in `python -I -S -B`: no site-packages, no PYTHONPATH, no bytecode written; argv[1:] is sys.path.
PROBE = """
import json, sys
sys.path[:0] = sys.argv[1:]
import etl_handlers.validate_handler, etl_handlers.transform_handler
from aws_lambda_powertools.metrics import MetricUnit
from etl_handlers import runtime

class Context:
    function_name = "probe"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"
    aws_request_id = "req-1"

@runtime.entry_point
def probe(event, context):
    runtime.logger.info("probed")
    runtime.metrics.add_metric(name="Probes", unit=MetricUnit.Count, value=1)
    return {"ok": True}

result = probe({"file_id": "s3://raw/a.csv?versionId=1"}, Context())

# The Tracer's provider patches botocore with wrapt, as on Lambda; here wrapt runs without its C extension.
import botocore.client, wrapt, wrapt.__wrapt__
from aws_xray_sdk.ext.botocore.patch import patch
patch()
loaded = {
    name: getattr(module, "__file__", None)
    for name, module in sys.modules.items()
    if name.split(".")[0] not in sys.stdlib_module_names and getattr(module, "__file__", None)
}
print(json.dumps({
    "result": result,
    "wrapt_c_extension": wrapt.__wrapt__._using_c_extension,
    "botocore_patched": isinstance(vars(botocore.client.BaseClient)["_make_api_call"], wrapt.FunctionWrapper),
    "loaded": loaded,
}))
"""


@pytest.fixture(scope="module")
def asset() -> Path:
    return handler_asset_dir()


@pytest.fixture(scope="module")
def lambda_runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding only what Lambda's Python runtime provides, linked from this venv."""
    folder = tmp_path_factory.mktemp("lambda-runtime")
    for name in LAMBDA_RUNTIME:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        source = Path(spec.origin).parent if spec.submodule_search_locations else Path(spec.origin)
        (folder / source.name).symlink_to(source, target_is_directory=source.is_dir())
    return folder


@pytest.fixture(scope="module")
def probe(asset: Path, lambda_runtime: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "probe",
        "POWERTOOLS_METRICS_NAMESPACE": "EtlPipeline",
        # No X-Ray daemon here: the Tracer still builds its X-Ray provider, it only sends nothing.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", PROBE, str(asset), str(lambda_runtime)],
        cwd=tmp_path_factory.mktemp("cwd"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    *logs, last = done.stdout.strip().splitlines()
    return {"report": json.loads(last), "logs": [json.loads(line) for line in logs]}


def _pins() -> dict[str, str]:
    text = (REPO / "handlers" / "vendor.txt").read_text()
    return dict(re.findall(r"^([A-Za-z0-9._-]+)==([^\s]+)", text, flags=re.M))


def test_the_asset_holds_the_handlers_and_the_vendored_packages(asset):
    names = {p.name.removesuffix(".py") for p in asset.iterdir()}
    assert {"etl_handlers", *VENDORED} <= names


def test_the_vendored_packages_are_the_pinned_versions(asset):
    installed = {p.name.removesuffix(".dist-info") for p in asset.glob("*.dist-info")}
    expected = {f"{name.replace('-', '_')}-{version}" for name, version in _pins().items()}
    assert {i.lower() for i in installed} == {e.lower() for e in expected}


def test_the_asset_is_pure_python_without_bytecode(asset):
    compiled = [p for p in asset.rglob("*") if p.suffix in {".so", ".pyd", ".dylib", ".pyc"}]
    caches = [p for p in asset.rglob("__pycache__")]
    assert compiled == [] and caches == []
    assert not (asset / VENDOR_STAMP).exists()


def test_the_handlers_import_and_powertools_works_with_only_the_lambda_runtime(probe):
    assert probe["report"]["result"] == {"ok": True}
    (log,) = [line for line in probe["logs"] if line.get("message") == "probed"]
    assert log["correlation_id"] == "s3://raw/a.csv?versionId=1" and log["function_name"] == "probe"
    (emf,) = [line for line in probe["logs"] if "_aws" in line]
    assert emf["Probes"] == [1.0] or emf["Probes"] == 1.0


def test_the_tracer_patches_botocore_with_pure_python_wrapt(probe):
    assert probe["report"]["wrapt_c_extension"] is False
    assert probe["report"]["botocore_patched"] is True


def test_nothing_is_imported_from_outside_the_asset_and_the_lambda_runtime(probe, asset, lambda_runtime):
    roots = (str(asset), str(lambda_runtime))
    outside = {name: path for name, path in probe["report"]["loaded"].items() if not path.startswith(roots)}
    assert outside == {}
    vendored = {name.split(".")[0] for name, path in probe["report"]["loaded"].items() if path.startswith(str(asset))}
    assert {"etl_handlers", *VENDORED} <= vendored


def _sources(root: Path, pin: str = "demo==1.0", installed: str | None = "demo-1.0") -> Path:
    """A tiny checkout: handlers/etl_handlers, handlers/vendor.txt and, if `installed`, a vendored dist."""
    sources = root / "handlers"
    (sources / "etl_handlers").mkdir(parents=True)
    (sources / "etl_handlers" / "__init__.py").write_text("")
    (sources / "vendor.txt").write_text(f"{pin} --hash=sha256:00\n")
    if installed:
        (sources / "_vendor" / f"{installed}.dist-info").mkdir(parents=True)
        (sources / "_vendor" / "demo.py").write_text("")
        (sources / "_vendor" / VENDOR_STAMP).write_text("")
    return sources


def test_a_checkout_without_its_vendored_packages_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="missing: run `make vendor`"):
        compose_asset(_sources(tmp_path, installed=None), tmp_path / "cache")


def test_a_checkout_vendored_from_other_pins_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="out of date: run `make vendor`"):
        compose_asset(_sources(tmp_path, pin="demo==2.0"), tmp_path / "cache")


def test_an_edited_handler_makes_a_new_asset_folder(tmp_path):
    sources = _sources(tmp_path)
    first = compose_asset(sources, tmp_path / "cache")
    assert compose_asset(sources, tmp_path / "cache") == first
    (sources / "etl_handlers" / "__init__.py").write_text("EDITED = True\n")
    second = compose_asset(sources, tmp_path / "cache")
    assert second != first and (second / "etl_handlers" / "__init__.py").read_text() == "EDITED = True\n"
    assert sorted(p.name for p in second.iterdir()) == ["demo-1.0.dist-info", "demo.py", "etl_handlers"]


def test_a_schema_asset_is_composed_per_content_of_the_handlers_and_the_schema(tmp_path):
    from etl_constructs.assets import asset_with_schema

    base = tmp_path / "base"
    (base / "etl_handlers").mkdir(parents=True)
    (base / "etl_handlers" / "x.py").write_text("A = 1\n")
    first = asset_with_schema(base, "etl_schema.json", '{"fields": 1}')
    assert (first / "etl_schema.json").read_text() == '{"fields": 1}'
    assert (first / "etl_handlers" / "x.py").read_text() == "A = 1\n"
    assert asset_with_schema(base, "etl_schema.json", '{"fields": 1}') == first
    assert asset_with_schema(base, "etl_schema.json", '{"fields": 2}') != first
    (base / "etl_handlers" / "x.py").unlink()  # a new release replaces files; it never edits them in place
    (base / "etl_handlers" / "x.py").write_text("A = 2\n")
    upgraded = asset_with_schema(base, "etl_schema.json", '{"fields": 1}')
    assert upgraded != first
    assert (upgraded / "etl_handlers" / "x.py").read_text() == "A = 2\n"
    assert oct(upgraded.parent.stat().st_mode & 0o777) == oct(0o700)
