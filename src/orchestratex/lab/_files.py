"""Read the data files of the loaders, turning a damaged file into one `UserError` that names it and the row."""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import UserError

__all__ = ["cell_number", "read_csv", "read_jsonl"]


def _text_error(path: Path, exc: UnicodeDecodeError) -> UserError:
    return UserError(
        f"{str(path)!r} is not UTF-8 text (an undecodable byte at offset {exc.start}): "
        "is it the CSV file, or a damaged copy of it?"
    )


def read_csv(path: Path, required: Sequence[str] = ()) -> list[dict[str, str]]:
    """The rows of a CSV file with a header; a file that cannot be one (not UTF-8 text, a `required` column
    missing, a row with more or fewer cells than the header, as a file cut short has) is a `UserError`."""
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # (a byte-order mark, as Excel writes, is dropped)
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except UnicodeDecodeError as exc:
        raise _text_error(path, exc) from None
    except csv.Error as exc:
        raise UserError(f"{str(path)!r} is not a readable CSV file ({exc})") from None
    if not header:
        raise UserError(f"{str(path)!r} is empty: expected a CSV file with a header row")
    twice = next((c for i, c in enumerate(header) if c.strip() and c in header[:i]), None)
    if twice is not None:  # (a dict row would keep the last of the two in silence; unnamed ones are never read)
        raise UserError(f"{str(path)!r}: the header names the column {twice!r} twice: keep one of them")
    missing = [c for c in required if c not in header]
    if missing:
        shown = header[:8] + ["…"] * (len(header) > 8)
        raise UserError(f"{str(path)!r} has no column {missing[0]!r}; its header is {shown}")
    for number, row in enumerate(rows, start=1):
        if None in row or any(value is None for value in row.values()):
            extra: Any = row.get(None) or ()  # DictReader's key for surplus cells
            cells = sum(value is not None for key, value in row.items() if key is not None) + len(extra)
            raise UserError(
                f"{str(path)!r}: data row {number} has {cells} cells where the header has {len(header)}: "
                "the file is cut short or damaged"
            )
    return rows


def cell_number(
    path: Path, row: int, column: str, text: str, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    """A finite numeric cell (`row` counted from 1 after the header) between `minimum` and `maximum` when given,
    else a `UserError` naming where it is."""
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{str(path)!r}: data row {row}, column {column!r} is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise UserError(
            f"{str(path)!r}: data row {row}, column {column!r} is {text!r}: a measured value is a finite number "
            "(leave the cell empty if it was not measured: such rows are skipped)"
        )
    low, high = minimum is not None and value < minimum, maximum is not None and value > maximum
    if low or high:
        expected = (
            f"between {minimum:g} and {maximum:g}"
            if minimum is not None and maximum is not None
            else f">= {minimum:g}"
            if low
            else f"<= {maximum:g}"
        )
        raise UserError(f"{str(path)!r}: data row {row}, column {column!r} is {text!r}: expected a number {expected}")
    return value


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line of a JSON Lines file (a leading UTF-8 byte-order mark is
    ignored); a line that is not a JSON object (or a file that is not UTF-8 text) is a `UserError` naming the
    line."""
    try:
        with path.open(encoding="utf-8-sig") as fh:  # (a byte-order mark, as some editors write, is dropped)
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(
                        f"{str(path)!r}: line {number} is not JSON ({exc.msg}): cut short or damaged?"
                    ) from None
                if not isinstance(value, dict):
                    raise UserError(f"{str(path)!r}: line {number} is not a JSON object")
                yield number, value
    except UnicodeDecodeError as exc:
        raise _text_error(path, exc) from None
