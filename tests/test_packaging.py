"""`pip install etl-constructs` works in someone else's CDK app, from any folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UV = Path(sys.executable).parent / "uv"
#: What `make vendor` puts beside etl_handlers in the asset: Powertools and what its Tracer needs.
VENDORED = ["aws_lambda_powertools", "aws_xray_sdk", "typing_extensions.py", "wrapt"]

CONSUMER = """
import aws_cdk as cdk
from etl_constructs import EtlPipeline

app = cdk.App(outdir="cdk.out")
stack = cdk.Stack(app, "Consumer")
EtlPipeline(stack, "Pipeline")
app.synth()
"""


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([str(UV), "build", "--quiet", "--out-dir", str(out), str(REPO)], check=True, capture_output=True)
    return out


def test_the_wheel_carries_the_handler_code_and_type_marker(dist):
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "etl_constructs/_handlers/etl_handlers/core/api.py" in names
    assert "etl_constructs/_handlers/etl_handlers/validate_handler.py" in names
    assert "etl_constructs/py.typed" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]


def test_the_wheel_carries_the_vendored_powertools_beside_the_handlers(dist):
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "etl_constructs/_handlers/aws_lambda_powertools/__init__.py" in names
    assert "etl_constructs/_handlers/aws_xray_sdk/__init__.py" in names
    assert "etl_constructs/_handlers/wrapt/__init__.py" in names
    assert "etl_constructs/_handlers/typing_extensions.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyd", ".pyc"))]


def test_twine_check_passes(dist):
    files = sorted(str(p) for p in [*dist.glob("*.whl"), *dist.glob("*.tar.gz")])
    assert len(files) == 2, files
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_consumer_app_synthesizes_from_another_folder(dist, tmp_path):
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(UV), "pip", "install", "--quiet", "--python", str(python), str(wheel)], check=True, capture_output=True
    )
    app = tmp_path / "consumer"
    app.mkdir()
    (app / "app.py").write_text(CONSUMER)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(python), "app.py"], cwd=app, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assets = json.loads((app / "cdk.out" / "Consumer.assets.json").read_text())["files"]
    folders = [app / "cdk.out" / a["source"]["path"] for a in assets.values() if a["source"].get("packaging") == "zip"]
    (folder,) = folders
    assert (folder / "etl_handlers" / "core" / "api.py").is_file()
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".dist-info")) == sorted(
        ["etl_handlers", *VENDORED]
    )
