"""Argument types shared by the benchmark scripts, so that a bad size is one argparse error (exit 2), not a
traceback or a figure of nothing; and `--quick`'s defaults, which never override a flag given with it."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any


def _number(text: str, kind: type[int] | type[float], what: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (a size or a count)."""
    value = int(_number(text, int, "a positive integer"))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (for options where 0 means: skip)."""
    value = int(_number(text, int, "an integer >= 0"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a duration, a latency, a scale)."""
    value = float(_number(text, float, "a positive number"))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    value = float(_number(text, float, "a number >= 0"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


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
