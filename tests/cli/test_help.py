"""`--help` describes every option and argument of every command, with the defaults docs/cli.md shows."""

from __future__ import annotations

import argparse

import pytest

from orchestratex.cli._main import build_parser

from .conftest import run_cli


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, (*path, name))
    return found


def _parser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


@pytest.mark.parametrize("path", _commands(build_parser()), ids=lambda p: " ".join(p) or "orchestratex")
def test_every_option_and_argument_has_a_help_text(path: tuple[str, ...]) -> None:
    """`serve --help` listed `--host HOST` and `--port PORT` with nothing to say what they are or their defaults, and
    `keys create --help` a bare `user_id`."""
    bare = [
        action.option_strings[0] if action.option_strings else action.dest
        for action in _parser(path)._actions
        if not action.help and not isinstance(action, argparse._SubParsersAction)
    ]
    assert bare == []


def test_serve_help_says_the_defaults_the_docs_show() -> None:
    done = run_cli("serve", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "--host HOST the address to listen on (default 127.0.0.1)" in text
    assert "--port PORT the port to listen on (default 8000; 0: a free one)" in text
