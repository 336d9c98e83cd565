"""Argument types shared by the benchmark scripts, so that a bad size is one argparse error (exit 2), not a
traceback or a figure of nothing; and `--quick`'s defaults, which never override a flag given with it."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def _number(text: str, kind: type[int] | type[float], what: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def _at_least(kind: type[int] | type[float], low: float, strict: bool, what: str) -> Callable[[str], Any]:
    """An argparse type: a number of `kind` above `low` (`strict`) or at least `low`, else one line saying `what`."""

    def parse(text: str) -> int | float:
        value = kind(_number(text, kind, what))
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


positive_int: Callable[[str], int] = _at_least(int, 1, False, "a positive integer")
"""An integer >= 1 (a size or a count)."""
non_negative_int: Callable[[str], int] = _at_least(int, 0, False, "an integer >= 0")
"""An integer >= 0 (for options where 0 means: skip)."""
positive_float: Callable[[str], float] = _at_least(float, 0, True, "a positive number")
"""A finite number > 0 (a duration, a latency, a scale)."""
non_negative_float: Callable[[str], float] = _at_least(float, 0, False, "a number >= 0")
"""A finite number >= 0."""


def positive_floats(text: str) -> list[float]:
    """Comma-separated positive numbers; an empty string is an empty list (skip)."""
    try:
        return [positive_float(part) for part in text.split(",") if part.strip()]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be positive numbers separated by commas, got {text!r}") from None


def positive_ints(text: str) -> list[int]:
    """Comma-separated positive integers; an empty string is an empty list (skip)."""
    try:
        return [positive_int(part.strip()) for part in text.split(",") if part.strip()]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be positive integers separated by commas, got {text!r}") from None


def port_number(text: str) -> int:
    """A TCP port number, 1-65535."""
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number (1-65535), got {text!r}")
    return value


def fill_defaults(args: argparse.Namespace, normal: dict[str, Any], quick: dict[str, Any]) -> None:
    """Set each option of `normal` left unset (None) to its `--quick` value when `args.quick`, else to its normal
    one: a flag given on the command line always wins over `--quick`."""
    for name, value in normal.items():
        if getattr(args, name) is None:
            setattr(args, name, quick.get(name, value) if args.quick else value)


def default_help(text: str, normal: object, quick: object | None = None) -> str:
    """A help line that tells an option's default, and its `--quick` one."""
    quick_part = f"; --quick: {quick}" if quick is not None and quick != normal else ""
    return f"{text} (default {normal}{quick_part})" if text else f"default {normal}{quick_part}"


def run_child(command: Sequence[str], env: Mapping[str, str] | None, what: str) -> str:
    """Run a child process and return its standard output; if it fails, exit with what it wrote on stderr."""
    done = subprocess.run(list(command), env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{what} failed (exit status {done.returncode}):\n{done.stderr.rstrip()}")
    return done.stdout
