"""Start-up cost of `etl-constructs run-local --template`: lazy package exports against eager ones.

    python bench/cli_start.py               # 7 runs of each case, a default pipeline synthesized first
    python bench/cli_start.py --repeat 10 --template cdk.out/MyStack.template.json

`etl_constructs/__init__.py` loads its exports on first use, so `run-local --template` never imports
aws_cdk (and so starts no Node.js for jsii). "eager" reproduces the old package, which imported every
construct module at `import etl_constructs`, by touching `etl_constructs.EtlPipeline` first (that one
name imports exactly those modules). Each run is a fresh process; the cases alternate, run by run, so
drift on the machine hits both alike. Printed: the median wall time of each case and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "data" / "good-transactions.csv"

#: The first line of the eager case: it imports what the old `import etl_constructs` did.
EAGER = "import etl_constructs; etl_constructs.EtlPipeline\n"
#: What `etl-constructs --help` loads, then what a run loads before it starts.
IMPORT_CLI = "import etl_constructs.cli\n"
IMPORT_RUNNER = "import etl_constructs.cli, etl_constructs.local\n"


def _environment() -> dict[str, str]:
    # The venv's Node.js first, as `make` does, for the eager case's jsii.
    folder = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")


def _seconds(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"a run failed (exit {done.returncode}):\n{done.stderr}")
    return elapsed


def _run_code(template: Path, out: Path) -> str:
    argv = ["run-local", "--quiet", "--template", str(template), "--out", str(out), str(SAMPLE)]
    return f"import sys\nfrom etl_constructs.cli import main\nsys.exit(main({argv!r}))\n"


def _measure(label: str, code: str, repeat: int, env: dict[str, str]) -> None:
    times: dict[str, list[float]] = {"lazy": [], "eager": []}
    for _ in range(repeat):
        for case in times:
            times[case].append(_seconds((EAGER if case == "eager" else "") + code, env))
    lazy, eager = (statistics.median(times[c]) for c in ("lazy", "eager"))
    print(f"{label:<44} {lazy:>9.2f} {eager:>9.2f} {eager / lazy:>7.1f}x")


def main() -> None:
    """Synthesize a template if none is given, then time both cases and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7, help="runs of each case (default: 7)")
    parser.add_argument("--template", type=Path, help="a synthesized template (default: a default EtlPipeline)")
    args = parser.parse_args()
    env = _environment()
    with tempfile.TemporaryDirectory(prefix="cli-start-") as scratch:
        template = args.template
        if template is None:
            os.environ.update(PATH=env["PATH"])
            from etl_constructs.local import synthesize_default

            template = synthesize_default(Path(scratch) / "cdk.out")
        run = _run_code(template.resolve(), Path(scratch) / "out")
        print(f"{sys.version.split()[0]}, {os.cpu_count()} cores, median of {args.repeat} runs each (seconds)")
        print(f"{'case':<44} {'lazy':>9} {'eager':>9} {'eager/lazy':>7}")
        _measure("import etl_constructs.cli", IMPORT_CLI, args.repeat, env)
        _measure("import etl_constructs.cli + .local", IMPORT_RUNNER, args.repeat, env)
        _measure("run-local --template T --quiet (1 CSV file)", run, args.repeat, env)


if __name__ == "__main__":
    main()
