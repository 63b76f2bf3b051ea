"""JSON-type paths in the notation of the ``shape_*.json`` contracts (``$[].events[].id:str``)."""

from __future__ import annotations

from typing import Any


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    return "array" if isinstance(value, list) else "object"


def shape(value: Any, path: str = "$") -> set[str]:
    """``path:type`` for every node of a JSON value."""
    out = {f"{path}:{json_type(value)}"}
    if isinstance(value, dict):
        for key, item in value.items():
            out |= shape(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            out |= shape(item, f"{path}[]")
    return out
