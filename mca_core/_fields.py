"""Strict-but-tolerant field readers shared by the normalisers (private).

Each reader takes the raw mapping and a key, returns the typed value or ``None`` for an absent
value (missing key, JSON null or ``""``), and raises ``Invalid`` with a reason that names the field
for anything of the wrong type, non-finite, or out of range. Tolerances reflect what Polymarket
really sends: numbers as strings, JSON arrays encoded inside strings, ids as ints in places.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mca_core.timeparse import parse_ts

__all__ = [
    "Invalid",
    "check_token_id",
    "excerpt",
    "json_list",
    "opt_bool",
    "opt_float",
    "opt_id",
    "opt_text",
    "opt_ts",
    "price_list",
    "record_id_of",
    "req_id",
    "str_list",
    "tag_names",
    "to_float",
    "token_id_list",
]

_TOKEN_ID_RE = re.compile(r"[0-9]{1,78}")
_EXCERPT_CHARS = 300


class Invalid(Exception):
    """A field failed validation; ``reason`` is what goes into the Rejection."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def excerpt(raw: object, limit: int = _EXCERPT_CHARS) -> str:
    """Compact JSON rendering of ``raw`` cut to ``limit`` characters (for Rejection.raw_excerpt)."""
    if isinstance(raw, bytes):
        text = raw[: limit * 4].decode("utf-8", "replace")
    elif isinstance(raw, str):
        text = raw
    else:
        try:
            text = json.dumps(raw, default=str, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(raw)
    return text if len(text) <= limit else text[:limit] + "..."


def _type_name(value: object) -> str:
    return type(value).__name__


def req_id(raw: Mapping[str, Any], key: str) -> str:
    """A required identifier: non-empty str (ints are accepted and rendered exactly)."""
    value = opt_id(raw, key)
    if value is None:
        raise Invalid(f"missing required field {key!r}")
    return value


def opt_id(raw: Mapping[str, Any], key: str) -> str | None:
    """An optional identifier: str or int (never float: precision would be lost)."""
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise Invalid(f"field {key!r}: expected string id, got {_type_name(value)}")


def opt_text(raw: Mapping[str, Any], key: str) -> str | None:
    """Optional free text; ``""`` becomes None."""
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid(f"field {key!r}: expected string, got {_type_name(value)}")
    return value


def opt_bool(raw: Mapping[str, Any], key: str) -> bool | None:
    """Optional JSON boolean (no truthy coercion of strings or numbers)."""
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise Invalid(f"field {key!r}: expected bool, got {_type_name(value)}")
    return value


def to_float(value: object, what: str, *, prob: bool = False) -> float:
    """Parse a JSON number or numeric string; finite, and in [0, 1] when ``prob``."""
    if isinstance(value, bool):
        raise Invalid(f"{what}: expected number, got bool")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise Invalid(f"{what}: not a number: {value[:40]!r}") from None
    else:
        raise Invalid(f"{what}: expected number, got {_type_name(value)}")
    if not math.isfinite(number):
        raise Invalid(f"{what}: non-finite number {value!r}")
    if prob and not 0.0 <= number <= 1.0:
        raise Invalid(f"{what}: price {number!r} outside [0, 1]")
    return number


def opt_float(raw: Mapping[str, Any], key: str, *, prob: bool = False) -> float | None:
    """Optional number that may arrive as a string (Gamma ``volume``, CLOB sizes)."""
    value = raw.get(key)
    if value is None or value == "":
        return None
    return to_float(value, f"field {key!r}", prob=prob)


def opt_ts(raw: Mapping[str, Any], key: str) -> datetime | None:
    """Optional timestamp in any upstream format (see ``mca_core.timeparse``)."""
    value = raw.get(key)
    if value is not None and not isinstance(value, str | int | float):
        raise Invalid(f"field {key!r}: expected timestamp, got {_type_name(value)}")
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise Invalid(f"field {key!r}: {exc}") from None


def json_list(raw: Mapping[str, Any], key: str) -> list[Any] | None:
    """A JSON array that Gamma usually encodes inside a string (``"[\\"Yes\\", \\"No\\"]"``).

    A real array is accepted as is. Absent -> None.
    """
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise Invalid(f"field {key!r}: invalid JSON-in-string") from None
    if not isinstance(value, list):
        raise Invalid(f"field {key!r}: expected array, got {_type_name(value)}")
    return value


def str_list(raw: Mapping[str, Any], key: str) -> list[str] | None:
    """JSON(-in-string) array of strings."""
    items = json_list(raw, key)
    if items is None:
        return None
    for item in items:
        if not isinstance(item, str):
            raise Invalid(f"field {key!r}: expected strings, got {_type_name(item)}")
    return items


def token_id_list(raw: Mapping[str, Any], key: str) -> list[str] | None:
    """CLOB token ids as exact decimal strings (uint256); ints converted exactly, floats refused."""
    items = json_list(raw, key)
    if items is None:
        return None
    out: list[str] = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not _TOKEN_ID_RE.fullmatch(item):
            raise Invalid(f"field {key!r}: token id must be a decimal string, got {excerpt(item, 90)}")
        out.append(item)
    return out


def check_token_id(value: str, what: str) -> str:
    """Validate one token id string (1-78 decimal digits)."""
    if not _TOKEN_ID_RE.fullmatch(value):
        raise Invalid(f"{what}: token id must be a decimal string, got {excerpt(value, 90)}")
    return value


def price_list(raw: Mapping[str, Any], key: str) -> list[float] | None:
    """JSON(-in-string) array of prices, each finite and in [0, 1]."""
    items = json_list(raw, key)
    if items is None:
        return None
    return [to_float(item, f"field {key!r}[{i}]", prob=True) for i, item in enumerate(items)]


def tag_names(raw: Mapping[str, Any], key: str = "tags") -> list[str]:
    """Tag labels from ``tags[]`` (objects with ``label``/``slug``, or plain strings)."""
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"field {key!r}: expected array, got {_type_name(value)}")
    names: list[str] = []
    for tag in value:
        if isinstance(tag, str):
            name: object = tag
        elif isinstance(tag, Mapping):
            name = tag.get("label") or tag.get("slug")
        else:
            raise Invalid(f"field {key!r}: expected tag object or string, got {_type_name(tag)}")
        if isinstance(name, str) and name:
            names.append(name)
    return names


def record_id_of(raw: object, *keys: str) -> str | None:
    """Best-effort id for a Rejection, never raising."""
    if not isinstance(raw, Mapping):
        return None
    for key in keys:
        value = raw.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None
