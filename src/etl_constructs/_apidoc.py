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
        if inspect.isclass(obj):
            # The constructor's own parameters: jsii's metaclass hides them behind (*args, **kwargs).
            init = inspect.signature(obj.__init__)
            parameters = list(init.parameters.values())[1:]
            return str(init.replace(parameters=parameters, return_annotation=inspect.Signature.empty))
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def attributes(cls: type) -> dict[str, str]:
    """The `Attributes:` section of a class docstring: each name with its description on one line."""
    found: dict[str, str] = {}
    lines = _doc(cls).splitlines()
    if "Attributes:" not in lines:
        return found
    current = ""
    for line in lines[lines.index("Attributes:") + 1 :]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            break
        text = line.strip()
        head, sep, rest = text.partition(": ")
        if indent <= 4 and sep and head.isidentifier():
            current = head
            found[current] = rest
        elif current:
            found[current] += " " + text
    return found


def _default(field: dataclasses.Field[Any]) -> str:
    """A field's default as code would write it, or "required"."""
    if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
        return "required"
    value = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
    if value is None or isinstance(value, bool | int | float | str | tuple):
        return repr(value)
    human = getattr(value, "to_human_string", None)
    if callable(human):
        return str(human())
    if dataclasses.is_dataclass(value):
        return f"{type(value).__name__}()"
    text = str(value)
    return text if len(text) < 60 and "object at" not in text else f"a {type(value).__name__}"


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
        described = attributes(cls)
        lines += ["| field | type | default | description |", "| --- | --- | --- | --- |"]
        for f in dataclasses.fields(cls):
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            description = described.get(f.name, "").replace("|", "\\|")
            default = _default(f).replace("|", "\\|")
            lines.append(f"| `{f.name}` | `{kind}` | `{default}` | {description} |")
        lines.append("")
    members = [
        (member, value)
        for member, value in vars(cls).items()
        if not member.startswith("_") and (inspect.isfunction(value) or isinstance(value, property | classmethod))
    ]
    for member, found in sorted(members):
        value: Any = getattr(cls, member) if isinstance(found, classmethod) else found  # bound: no `cls`
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
    lines += _local()
    return "\n".join(line.rstrip() for line in lines).rstrip() + "\n"


def _module(title: str, module: Any) -> list[str]:
    """A section for a module: its docstring, then each name of its `__all__`, classes with their tables."""
    lines = [f"# {title}", "", _doc(module), ""]
    for name in sorted(module.__all__):
        obj = getattr(module, name)
        if inspect.isclass(obj):
            lines += _class(name, obj)
        else:
            lines += [f"## `{name}`", "", "```python", f"{name}{_signature(obj)}", "```", "", _doc(obj), ""]
    return lines


def _local() -> list[str]:
    """The local API (`etl_constructs.local`, the `[local]` extra) and the pytest plugin's fixtures."""
    import etl_constructs.local as local
    import etl_constructs.ops as ops
    import etl_constructs.testing as testing

    lines = _module("Local API: `etl_constructs.local` and `etl_constructs.testing`", local)
    lines += _module("Operations API: `etl_constructs.ops`", ops)
    lines += ["# pytest plugin: `etl_constructs.testing`", "", _doc(testing), ""]
    for name in ("etl_template", "etl_pipeline"):
        fixture = getattr(testing, name)
        lines += [f"## fixture `{name}`", "", _doc(getattr(fixture, "_fixture_function", fixture)), ""]
    return lines


if __name__ == "__main__":
    sys.stdout.write(render())
