"""`.projenrc.py` is the single source of the project's configuration: the committed files match it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _generated_files() -> list[str]:
    import json

    manifest = json.loads((REPO / ".projen" / "files.json").read_text())
    return sorted(manifest["files"])


def test_rerunning_projenrc_reproduces_every_committed_generated_file(tmp_path):
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy2(REPO / ".projenrc.py", copy / ".projenrc.py")
    for name in _generated_files():
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    env = dict(
        os.environ, PROJEN_DISABLE_POST="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    subprocess.run([sys.executable, ".projenrc.py"], cwd=copy, env=env, check=True, capture_output=True)
    drifted = [name for name in _generated_files() if (copy / name).read_bytes() != (REPO / name).read_bytes()]
    assert drifted == [], f"run `make projen` and commit: {drifted}"


def test_pyproject_has_a_build_backend_and_the_console_script():
    text = (REPO / "pyproject.toml").read_text()
    assert 'build-backend = "hatchling.build"' in text
    assert 'etl-constructs = "etl_constructs.cli:main"' in text
    assert 'requires-python = ">=3.11"' in text


def test_release_workflow_publishes_with_publib():
    release = (REPO / ".github" / "workflows" / "release.yml").read_text()
    assert "publib-pypi" in release
    build = (REPO / ".github" / "workflows" / "build.yml").read_text()
    assert "pull_request" in build and "make test" in build
