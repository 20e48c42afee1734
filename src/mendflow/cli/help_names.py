"""Real value names in `--help`: `--tenant-file PATH`, `--temporal-address HOST:PORT`, never `<str>` or `<bool>`.

typer prints a parameter's Python type when it has no metavar, and a `<bool>` after every flag in its rich
layout. Options we define name their values explicitly (`metavar=`); this pass gives every other parameter a
name from its type and switches help to click's plain layout (flags take no value, so they show none), once,
for the whole command tree.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption

NAMES_BY_SUFFIX = {"address": "HOST:PORT", "url": "URL", "port": "PORT", "file": "FILE", "dir": "DIR"}


def value_name(param: TyperOption | TyperArgument) -> str:
    """A readable name for the value `param` takes: `table|json` for choices, else from its name or type."""
    kind = param.type_descriptor
    if kind.is_choice:
        return "|".join(str(getattr(choice, "value", choice)) for choice in kind.choices or ())
    name = (param.name or "value").lower()
    for suffix, shown in NAMES_BY_SUFFIX.items():
        if name.endswith(suffix):
            return shown
    if kind.is_path:
        return "PATH"
    annotation = kind.annotation
    if annotation is int:
        return "N"
    if annotation is float:
        return "NUMBER"
    return name.upper()


def _no_type(ctx: object) -> str:
    return ""


def name_values(command: Any) -> Any:
    """Fill in missing metavars and use plain help layout throughout `command` (a typer-built click command)."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for param in command.params:
        if isinstance(param, TyperArgument):
            # An argument's name is its value name (CAMPAIGN, PATH...); typer would add `<str>` after it.
            setattr(param, "display_type_rich", _no_type)  # noqa: B010
            if param.metavar is None and param.type_descriptor.is_list:
                param.metavar = f"{(param.name or 'value').upper()}..."
            continue
        if not isinstance(param, TyperOption) or param.metavar is not None:
            continue
        if isinstance(param, TyperOption) and (param.is_flag or param.count):
            continue  # flags take no value
        param.metavar = value_name(param)
    for sub in getattr(command, "commands", {}).values():
        name_values(sub)
    return command
