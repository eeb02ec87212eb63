"""Schema errors in words: each pydantic error of a TOML document as ``FILE: FIELD.PATH: what was expected``.

Shared by the scenario loader and the preset-file reader, so both say a typo the same way (with the closest
valid field name).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
#: Every fixed-length array of the schemas (endpoints, position_km, a preset's nodes) has two items.
_PAIR = 2


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue  # pydantic's marker for "the key itself": the path already ends with it
        elif _BARE_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "(top level)"


def show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _num(value: object) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


#: The schema model whose fields live at a location of a document (``None``: not known).
ModelAt = Callable[[tuple[int | str, ...]], type[BaseModel] | None]


def _fields_at(loc: tuple[int | str, ...], model_at: ModelAt) -> list[str]:
    model = model_at(loc)
    return list(model.model_fields) if model else []


def _meant(loc: tuple[int | str, ...], model_at: ModelAt) -> str | None:
    """The valid field an unknown field at ``loc`` is closest to (a likely misspelling), if any."""
    close = difflib.get_close_matches(str(loc[-1]), _fields_at(loc[:-1], model_at), n=1)
    return close[0] if close else None


def _describe(err: ErrorDetails, prefix: tuple[int | str, ...], model_at: ModelAt) -> tuple[tuple[int | str, ...], str]:
    """Where the error is (under ``prefix``) and what was expected, in words."""
    loc, kind, ctx = prefix + tuple(err["loc"]), err["type"], err.get("ctx", {})
    got = show(err["input"])
    if kind == "missing" and loc and isinstance(loc[-1], int):
        return loc[:-1], f"expected {_PAIR} items, got {len(err['input'])}"
    match kind:
        case "missing":
            message = "required field is missing"
        case "extra_forbidden":
            fields = _fields_at(loc[:-1], model_at)
            close = _meant(loc, model_at)
            hint = f"did you mean {close!r}? " if close else ""
            message = f"unknown field; {hint}expected one of: {', '.join(fields)}" if fields else "unknown field"
        case "literal_error":
            message = f"expected one of {ctx['expected']}, got {got}"
        case "greater_than":
            message = f"expected a number > {_num(ctx['gt'])}, got {got}"
        case "greater_than_equal":
            message = f"expected a number >= {_num(ctx['ge'])}, got {got}"
        case "less_than_equal":
            message = f"expected a number <= {_num(ctx['le'])}, got {got}"
        case "int_type" | "int_parsing" | "int_from_float":
            message = f"expected an integer, got {got}"
        case "float_type" | "float_parsing":
            message = f"expected a number, got {got}"
        case "finite_number":
            message = f"expected a finite number, got {got}"
        case "string_type":
            message = f"expected a string, got {got}"
        case "dict_type" | "model_type" | "model_attributes_type":
            message = f"expected a table, got {got}"
        case "tuple_type" | "list_type":
            message = f"expected an array, got {got}"
        case "too_long" if ctx.get("field_type") == "Tuple":
            message = f"expected {ctx['max_length']} items, got {ctx['actual_length']}"
        case "too_short":
            noun = "entry" if ctx["min_length"] == 1 else "entries"
            message = f"expected at least {ctx['min_length']} {noun}, got {ctx['actual_length']}"
        case "value_error":
            message = str(ctx["error"])
        case _:
            message = f"{err['msg'].replace('Input should be', 'expected')}, got {got}"
    return loc, message


def validation_lines(
    source: str, error: ValidationError, prefix: tuple[int | str, ...], model_at: ModelAt
) -> list[str]:
    """Each schema error as one line ``SOURCE: FIELD.PATH: what was expected`` (scenario and preset files).

    Unknown fields come first: a misspelt field is usually why a required one is "missing", and that second
    line is left out when the first already says "did you mean" it.
    """
    errors = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")
    misspelt = {
        (loc[:-1], meant)
        for e in errors
        if e["type"] == "extra_forbidden" and (meant := _meant(loc := prefix + tuple(e["loc"]), model_at))
    }
    lines = []
    for err in errors:
        loc, message = _describe(err, prefix, model_at)
        if err["type"] == "missing" and loc and (loc[:-1], loc[-1]) in misspelt:
            continue
        lines.append(f"{source}: {_path(loc)}: {message}")
    return lines


__all__ = ["ModelAt", "show", "validation_lines"]
