"""Writes API.md from the code: every name `etl_constructs` exports, with its signature and docstring.

python -m etl_constructs._apidoc > API.md
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from typing import Any

import etl_constructs


def _signature(obj: Any) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "").strip()


def _class(name: str, cls: type) -> list[str]:
    lines = [f"## `{name}`", ""]
    bases = [b.__name__ for b in cls.__bases__ if b is not object]
    if dataclasses.is_dataclass(cls):
        lines += ["Frozen dataclass." if cls.__dataclass_params__.frozen else "Dataclass.", ""]  # type: ignore[attr-defined]
    elif bases:
        lines += [f"Extends `{', '.join(bases)}`.", ""]
    lines += ["```python", f"{name}{_signature(cls)}", "```", "", _doc(cls), ""]
    if dataclasses.is_dataclass(cls):
        lines += ["| field | type |", "| --- | --- |"]
        for f in dataclasses.fields(cls):
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            lines.append(f"| `{f.name}` | `{kind}` |")
        lines.append("")
    members = [
        (member, value)
        for member, value in vars(cls).items()
        if not member.startswith("_") and (inspect.isfunction(value) or isinstance(value, property))
    ]
    for member, value in sorted(members):
        target = value.fget if isinstance(value, property) else value
        label = f"{member}" if isinstance(value, property) else f"{member}{_signature(value)}"
        lines += [f"### `{name}.{label}`", "", _doc(target), ""]
    return lines


def render() -> str:
    """The whole API.md."""
    lines = [
        "# API reference",
        "",
        "Generated from the code by `make api-docs` (`python -m etl_constructs._apidoc`); do not edit by hand.",
        "",
        _doc(etl_constructs),
        "",
    ]
    for name in sorted(etl_constructs.__all__):
        obj = getattr(etl_constructs, name)
        if inspect.isclass(obj):
            lines += _class(name, obj)
        elif inspect.ismodule(obj):
            constants = [k for k in vars(obj) if k.isupper()]
            lines += [f"## `{name}`", "", _doc(obj), "", ", ".join(f"`{k}`" for k in constants), ""]
        elif not callable(obj):
            lines += [f"## `{name}`", "", f"`{obj!r}`", ""]
    return "\n".join(line.rstrip() for line in lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
