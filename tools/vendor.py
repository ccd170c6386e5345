"""Install the functions' pinned dependencies into the handler asset: `python tools/vendor.py`.

`make vendor` runs it, and `make setup` does before the editable install, whose wheel build takes the
vendored folder (so this uses the standard library and pip only, not etl_constructs). pip installs the
wheels pinned with their hashes in `handlers/vendor.txt` into `handlers/_vendor`, without their
dependencies and only as pure-Python wheels (`--platform any --abi none`), so the asset suits any
architecture and Python version; then what Lambda never reads is removed (bytecode, type stubs, install
records but the licences), and anything compiled is refused. The wheel of etl-constructs carries that
folder inside its handler asset, so synthesizing from an installed package needs no network.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
REQUIREMENTS = HANDLERS / "vendor.txt"
TARGET = HANDLERS / "_vendor"
#: Written last into the target (Make's target); `etl_constructs.assets.ASSET_EXCLUDES` leaves it out.
STAMP = ".vendored"
# The oldest Python the handlers support (the project's requires-python): each pin must accept it.
OLDEST_PYTHON = "3.11"
_COMPILED = frozenset({".so", ".pyd", ".dylib", ".dll", ".pyc", ".pyo"})
# Never imported at run time.
_DROPPED_SUFFIXES = frozenset({".pyi", ".c", ".h"})
_KEPT_METADATA = ("METADATA", "LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS")


def vendor(requirements: Path, target: Path) -> list[str]:
    """Install `requirements` into `target` (replacing it), pruned for Lambda; return what is there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=target.parent))
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--no-deps",
                "--no-compile",
                "--require-hashes",
                "--only-binary=:all:",
                "--platform=any",
                "--implementation=py",
                "--abi=none",
                f"--python-version={OLDEST_PYTHON}",
                f"--target={staging}",
                f"--requirement={requirements}",
            ],
            check=True,
        )
        prune(staging)
        check(staging)
        digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
        (staging / STAMP).write_text(f"{digest}  {requirements.name}\n")
        staging.chmod(0o755)  # mkdtemp makes it private
        _replace(target, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(p.name for p in target.iterdir() if p.name != STAMP)


def prune(folder: Path) -> None:
    """Remove from an install folder what Lambda never reads: bytecode, scripts, stubs, install records."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if not path.exists():
            continue
        relative = path.relative_to(folder).parts
        if path.is_dir():
            if path.name == "__pycache__" or relative == ("bin",) or path.name.endswith("-stubs"):
                shutil.rmtree(path)
        elif relative[0].endswith(".dist-info"):
            if not (path.name.startswith(_KEPT_METADATA) or "licenses" in relative):
                path.unlink()
        elif path.suffix in _COMPILED or path.suffix in _DROPPED_SUFFIXES:
            path.unlink()


def check(folder: Path) -> None:
    """Raise RuntimeError if `folder` holds compiled code or bytecode: the asset must be pure Python."""
    bad = [str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix in _COMPILED or p.name == "__pycache__"]
    if bad:
        raise RuntimeError(f"the vendored packages must be pure Python; found {bad[:5]}")


def _replace(target: Path, staging: Path) -> None:
    old = target.with_name(f"{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def main() -> int:
    """Vendor `handlers/vendor.txt` into `handlers/_vendor`."""
    names = vendor(REQUIREMENTS, TARGET)
    size = sum(p.stat().st_size for p in TARGET.rglob("*") if p.is_file())
    print(f"vendored into {TARGET.relative_to(HANDLERS.parent)} ({size // 1024} KiB): {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
