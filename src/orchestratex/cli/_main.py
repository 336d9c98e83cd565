"""Argument parsing and dispatch; every user error ends with exit code 2 and one line, never a traceback."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

from ..exceptions import OrchestrateXError, StoreUnavailable, UserError
from ._interrupt import EXIT_CODES, Interrupted
from ._logs import hide_logs, show_logs
from ._options import (
    CATALOG_FILE,
    STORE_URL,
    TypedOption,
    domain_option,
    given,
    host,
    named,
    not_blank,
    number,
    user_option,
    whole_number,
)
from ._output import StdoutFailed, lossless_stdout, silence
from ._runs import add_runs_parser
from ._usage_json import serve_logs_json, usage_errors_in_json

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


_DASH_PROMPT = "one that starts with '-' goes after `--`"
CLOSED_STDOUT = "stdout is closed: redirect it (> /dev/null) instead of closing it"


class _Parser(argparse.ArgumentParser):
    argv: Sequence[str] = ()
    """The command's arguments, for the hint of a command name left out (see `_choice_hint`)."""

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        """As argparse's, but a stdout that cannot be written is said (argparse ignores a failed write: `--version >
        /dev/full` and `run --help > /dev/full` exited 0 with nothing written)."""
        if not message:
            return
        if file is None:  # (argparse passes `sys.stdout`, None when it is closed: `--version >&-`, `run --help >&-`)
            # argparse wrote the version or help on stderr then, and exited 0: refused as any command with `>&-` is
            self.exit(EXIT_USAGE, f"orchestratex: error: {CLOSED_STDOUT}\n")
        stdout: TextIO = sys.stdout
        try:
            file.write(message)
            if file is stdout:
                stdout.flush()
        except OSError as exc:
            if file is stdout:
                raise StdoutFailed(exc) from None
        except AttributeError:  # (a missing stream, as argparse allows)
            pass

    def error(self, message: str) -> NoReturn:
        if message.endswith("required: prompt"):  # (`run -x`: argparse took the prompt for an option)
            message += f": give the text, or - to read it from standard input; {_DASH_PROMPT}"
        elif self.prog.endswith(" run") and "ignored explicit argument" in message:
            # (`run -hello`: argparse read `-h` with the argument `ello`, and said nothing of prompts)
            message += f"; if that was the prompt, {_DASH_PROMPT}: orchestratex run -- PROMPT"
        elif self.prog == "orchestratex" and message.startswith("the following arguments are required"):
            message += " (`orchestratex --help` says what each command does)"
        elif " invalid choice: " in message and message.startswith("argument {"):
            message += _choice_hint(self.prog, message, _Parser.argv)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


_MEANT = {"list": "runs list", "show": "runs show", "key": "keys", "server": "serve", "model": "models"}
"""Words typed for a command that name another's: `orchestratex list` for `orchestratex runs list`."""


def _choice_hint(prog: str, message: str, argv: Sequence[str]) -> str:
    """`; did you mean …` for a command name argparse refused (`invalid choice: 'lst' (choose from …)`): the command
    a word is close to, or, for a word no command is near at the top level, `orchestratex run` with it as the prompt
    (`orchestratex "Explain photosynthesis"`, as some tools take a prompt with no command: the error listed the
    commands only)."""
    import ast
    import difflib
    import re

    found = re.search(r" invalid choice: (.+) \(choose from (.+)\)$", message)
    if found is None:
        return ""
    try:
        word = ast.literal_eval(found.group(1))
        choices = list(ast.literal_eval(f"[{found.group(2)}]"))
    except (ValueError, SyntaxError):
        return ""
    if not isinstance(word, str):
        return ""
    top = prog == "orchestratex"
    if top and word.lower() in ("help", "-help"):
        return "; for help: orchestratex --help (or orchestratex COMMAND --help)"
    if top and word.lower() in ("version", "-version"):
        return "; for the version: orchestratex --version"
    meant = _MEANT.get(word.lower()) if top else None
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    if meant is None and close:
        meant = f"{prog.removeprefix('orchestratex').strip()} {close[0]}".strip()
    if meant is not None:
        return f"; did you mean `orchestratex {meant}`?"
    if not top or word not in argv:
        return ""
    at = list(argv).index(word)
    words = list(argv[at:])
    end = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
    prompt = " ".join(words[:end])
    quoted = f'"{prompt}"' if not any(c in prompt for c in '"$`\\!') else shlex.quote(prompt)
    command = [*(shlex.quote(w) for w in argv[:at]), "run", quoted, *(shlex.quote(w) for w in words[end:])]
    return f"; to orchestrate a prompt: orchestratex {' '.join(command)}"


def _models(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one model name")
    return names


def _providers(text: str) -> list[str]:
    from ._setup import parse_providers  # (imports the orchestrator: only when the option is given)

    return parse_providers(text)


class _Listed(argparse.Action):
    """A list option given more than once (`--models gpt4 --models claude`) is the list of all its values, each once:
    the last one alone was kept, and the run routed without the models named before it, without a word. The list
    is parsed again as one (`--provider sim --provider openai` is refused as `--provider sim,openai` is)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None
    ) -> None:
        listed = list(dict.fromkeys([*(getattr(namespace, self.dest, None) or []), *values]))
        if callable(self.type):
            try:
                listed = cast("list[Any]", self.type(",".join(listed)))
            except argparse.ArgumentTypeError as exc:
                raise argparse.ArgumentError(self, str(exc)) from None
        setattr(namespace, self.dest, listed)


_VERBOSE_FLAGS = ("-v", "--verbose")
_VERBOSE_OPTIONS: dict[str, Any] = {
    "action": "count",
    "default": argparse.SUPPRESS,
    "help": "show the library's log lines on stderr (-v: INFO, -vv: DEBUG)",
}


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(prog="orchestratex", description="Route, judge and refine LLM answers within a budget.")
    parser.add_argument("-V", "--version", action="version", version=f"orchestratex {__version__}")
    catalog_help = "a catalog file of your own models, prices and endpoints (default: ORCHESTRATEX_CATALOG)"
    parser.add_argument(*_VERBOSE_FLAGS, **_VERBOSE_OPTIONS)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="orchestrate one prompt and show its events live")
    run.add_argument("prompt", help="the prompt to orchestrate; - reads it from standard input")
    run.add_argument(
        "--domain", type=domain_option, help="coding, math, science, writing, analysis, general (detected when omitted)"
    )
    run.add_argument("--context", help="extra context for the models")
    run.add_argument("--max-iterations", type=whole_number, action=TypedOption, help="most attempts (default 5)")
    run.add_argument(
        "--threshold",
        "--evaluation-threshold",  # (the name in the library, the REST API and the OpenAI extension)
        dest="threshold",
        type=number,
        action=TypedOption,
        help="stop once the judges' score reaches this (0–10, default 8)",
    )
    run.add_argument(
        "--models", type=_models, action=_Listed, help="comma-separated models to route among (names or aliases)"
    )
    run.add_argument("--cost-limit", type=number, action=TypedOption, help="most US dollars to spend")
    run.add_argument("--json", action="store_true", help="print the result document as JSON instead of the live view")
    run.add_argument(
        "--store", type=given(STORE_URL), help="store URL (default: ORCHESTRATEX_STORE_URL, else a SQLite file)"
    )
    run.add_argument("--catalog", type=given(CATALOG_FILE), help=catalog_help)
    run.add_argument(
        "--provider",
        type=_providers,
        action=_Listed,
        help="'sim' forces the offline simulator; a name (or comma-separated list) routes only among those providers",
    )
    run.add_argument(
        "--detach",
        action="store_true",
        help="if interrupted, leave the orchestration for a server on the same store to resume (default: cancel it)",
    )

    demo = sub.add_parser("demo", help="a full orchestration offline, with simulated models")
    demo.add_argument("--json", action="store_true", help="print the result document as JSON")
    demo.add_argument("--fast", action="store_true", help="no simulated latency")

    models = sub.add_parser("models", help="list the model catalog and which providers are configured")
    models.add_argument("--json", action="store_true", help="print the catalog as JSON")
    models.add_argument("--catalog", type=given(CATALOG_FILE), help=catalog_help)

    serve = sub.add_parser("serve", help="start the REST + WebSocket server (needs orchestratex[server])")
    serve.add_argument("--host", type=host, default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=whole_number, default=8000, help="the port to listen on (default 8000; 0: a free one)"
    )
    serve.add_argument(
        "--store", type=given(STORE_URL), help="store URL (default: ORCHESTRATEX_STORE_URL, else a SQLite file)"
    )
    serve.add_argument("--catalog", type=given(CATALOG_FILE), help=catalog_help)
    serve.add_argument(
        "--log-format",
        type=named,
        choices=["text", "json"],
        help="log lines as text, or one JSON object per line (default: ORCHESTRATEX_LOG_FORMAT, else text)",
    )

    add_runs_parser(sub)

    keys = sub.add_parser("keys", help="manage the server's API keys")
    keys_sub = keys.add_subparsers(
        dest="keys_command", metavar="{create,list,revoke}", required=True, parser_class=_Parser
    )
    create = keys_sub.add_parser("create", help="create an API key for a user and print it once")
    create.add_argument("user_id", help="the user the key is for (as a server names it, e.g. in /api/sessions/user/ID)")
    create.add_argument("--admin", action="store_true", help="the key may see every user's data")
    create.add_argument("--label", help="a note to recognise the key by")
    create.add_argument(
        "--store", type=given(STORE_URL), help="store URL (default: ORCHESTRATEX_STORE_URL, else a SQLite file)"
    )
    listing = keys_sub.add_parser("list", help="list API keys (id, user, admin, created, last used; never the key)")
    listing.add_argument("--user", dest="user_id", type=user_option, help="only this user's keys")
    listing.add_argument("--json", action="store_true", help="print the keys as JSON")
    listing.add_argument(
        "--store", type=given(STORE_URL), help="store URL (default: ORCHESTRATEX_STORE_URL, else a SQLite file)"
    )
    revoke = keys_sub.add_parser("revoke", help="revoke an API key by its id (servers refuse it from then on)")
    revoke.add_argument(
        "key_id",
        type=not_blank("a key's id, as `orchestratex keys list` shows it (or the key itself, ox_…)"),
        help="the key's id, as `orchestratex keys list` shows it (or the key itself, ox_…)",
    )
    revoke.add_argument(
        "--store", type=given(STORE_URL), help="store URL (default: ORCHESTRATEX_STORE_URL, else a SQLite file)"
    )
    # the choices as the metavar (set once they are all known): errors named argparse's `dest` instead, "the following
    # arguments are required: command", "argument command: invalid choice"
    sub.metavar = "{" + ",".join(sub.choices) + "}"
    _add_common(parser, f"orchestratex {__version__}")
    return parser


def _add_common(parser: argparse.ArgumentParser, version: str) -> None:
    """Every subcommand (and theirs) accepts the common options too: `orchestratex run PROMPT -v`, and `-V`/`--version`
    (`orchestratex run --version` said "the following arguments are required: prompt"), left out of its `--help`."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                # (a dest of their own: argparse copies a subcommand's namespace over its parent's, so `-v run -v`
                # counted 1, the subcommand's count replacing the one before the command's name)
                child.add_argument(*_VERBOSE_FLAGS, **_VERBOSE_OPTIONS, dest="verbose_after")
                child.add_argument("-V", "--version", action="version", version=version, help=argparse.SUPPRESS)
                _add_common(child, version)


def _not_utf8(argv: Sequence[str]) -> str | None:
    """The first argument that is not valid UTF-8 (Python keeps such bytes as lone surrogates), shown as bytes."""
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            try:
                return repr(arg.encode("utf-8", "surrogateescape"))
            except UnicodeEncodeError:
                return ascii(arg)
    return None


def _as_utf8(arg: str) -> str:
    """An argument as the UTF-8 text its bytes are, where Python decoded them otherwise: in the C locale without UTF-8
    mode (`LC_ALL=C PYTHONUTF8=0`) it reads arguments as ASCII, keeping every other byte as a lone surrogate, and
    `orchestratex run "Écris un poème"` was refused as "not valid UTF-8". Bytes that are not UTF-8 are left as they
    were, for `_not_utf8` to refuse."""
    try:
        arg.encode("utf-8")
        return arg
    except UnicodeEncodeError:
        try:
            return os.fsencode(arg).decode("utf-8")
        except (UnicodeError, ValueError):
            return arg


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `orchestratex` command; returns the exit code."""
    argv = [_as_utf8(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    if sys.stderr is None:  # `2>&-`: `print(..., file=sys.stderr)` wrote its messages to stdout, into a key or JSON
        sys.stderr = open(os.devnull, "w")  # (for the rest of the process)
    if (bad := _not_utf8(argv)) is not None:
        print(f"orchestratex: error: argument {bad} is not valid UTF-8: give text in UTF-8", file=sys.stderr)
        return EXIT_USAGE
    with lossless_stdout():  # (`--help` too)
        try:
            return _main(argv)
        except StdoutFailed as exc:  # (`--help`, `--version`: the parser's own text)
            silence(sys.stdout)
            if exc.reader_gone:
                return EXIT_CODES["SIGPIPE"]
            print(f"orchestratex: error: {exc.message}", file=sys.stderr)
            return EXIT_FAILED


def _main(argv: Sequence[str]) -> int:
    parser = build_parser()
    _Parser.argv = argv  # (for the hint of a command name left out: `orchestratex "Explain photosynthesis"`)
    with usage_errors_in_json() if serve_logs_json(argv) else contextlib.nullcontext():
        args, extra = parser.parse_known_args(argv)
        if extra:
            hint = _options_after_dashes(argv, args, extra) or _unquoted_prompt(parser, argv, args, extra)
            parser.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    if sys.stdout is None and args.command != "serve":  # `>&-`: nowhere to show anything, so do nothing
        print(f"orchestratex: error: {CLOSED_STDOUT}", file=sys.stderr)
        return EXIT_USAGE
    handler = show_logs(getattr(args, "verbose", 0) + getattr(args, "verbose_after", 0))
    try:
        return _dispatch(args)
    except Interrupted as exc:
        _tell(f"orchestratex: {exc.message}")
        return exc.exit_code
    except StdoutFailed as exc:
        if exc.reader_gone:  # the reader went away after the run ended (`--json | head -1`): nothing to say
            return EXIT_CODES["SIGPIPE"]
        print(f"orchestratex: error: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        hide_logs(handler)


def _tell(line: str) -> None:
    """`line` on stderr, where a stderr that cannot be written (a terminal that went away, as SIGHUP says: EIO) is no
    failure of the command: its exit code (129 for SIGHUP) still says how it ended. The message raised instead, and
    the command ended with a traceback and exit code 1."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr, flush=True)


def _unquoted_prompt(
    parser: argparse.ArgumentParser, argv: Sequence[str], args: argparse.Namespace, extra: list[str]
) -> str:
    """The hint for `orchestratex run Explain photosynthesis`: a prompt of several words, unquoted, is several
    arguments, and argparse named only the words after the first (`unrecognized arguments: photosynthesis`). The
    command to type instead is the one typed, its options kept where they were: it dropped them, so that copying
    `orchestratex run Explain photosynthesis --cost-limit 0.05 --store sqlite:///team.db` from the hint ran without a
    budget, in the default store."""
    if getattr(args, "command", None) != "run" or args.prompt == "-" or any(word.startswith("-") for word in extra):
        return ""
    prompt = " ".join([args.prompt, *extra])
    prompt = f'"{prompt}"' if not any(c in prompt for c in '"$`\\!') else shlex.quote(prompt)
    words = [args.prompt, *extra]
    start = list(argv).index("run") + 1  # (only `-v` may come before the command's name: it takes no value)
    kept = [shlex.quote(token) for token in argv[:start]]
    taking = _options_with_a_value(parser)
    at = None  # where the prompt goes: where its first word was
    value = False
    for token in argv[start:]:
        if value:  # (an option's value, even one that reads as a word of the prompt: `--domain math math help`)
            kept.append(shlex.quote(token))
            value = False
        elif words and token == words[0]:
            at = len(kept) if at is None else at
            words.pop(0)
        else:
            kept.append(shlex.quote(token))
            value = (
                token.startswith("--")
                and token != "--"
                and "=" not in token
                and any(o.startswith(token) for o in taking)
            )
    if words or at is None:  # (not found as typed: the prompt alone)
        return f"; a prompt of several words goes in quotes, as one argument: orchestratex run {prompt}"
    kept.insert(at, prompt)
    return f"; a prompt of several words goes in quotes, as one argument: orchestratex {' '.join(kept)}"


def _options_after_dashes(argv: Sequence[str], args: argparse.Namespace, extra: list[str]) -> str:
    """The hint for `orchestratex run -- -5x+3=0 --json`: after `--` every word is an argument, so the options typed
    after the prompt were "unrecognized arguments: --json", as if `run` had no such option. The command to type
    instead has them before `--`."""
    if getattr(args, "command", None) != "run" or "--" not in argv or not extra or not extra[0].startswith("-"):
        return ""
    dashes = list(argv).index("--")
    after = list(argv[dashes + 1 :])
    if after[-len(extra) :] != extra or len(after) != len(extra) + 1:  # (the prompt, then the options only)
        return ""
    command = [*argv[:dashes], *extra, "--", after[0]]
    return (
        "; after `--` every word is the prompt's, so options go before it: "
        f"orchestratex {' '.join(shlex.quote(token) for token in command)}"
    )


def _options_with_a_value(parser: argparse.ArgumentParser) -> list[str]:
    """The long options of the `run` command that take a value (`--store URL`), as `--help` names them."""
    run = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["run"]
    return [o for a in run._actions if a.nargs is None for o in a.option_strings if o.startswith("--")]


def _which_store(args: argparse.Namespace, message: str) -> str:
    """` (store URL)` for an error of the store the command used, unless its `message` names it already: the library
    keeps a SQLite file's path out of its errors, which may reach an API client, so "the SQLite database is busy"
    named no file, while the command's user, whose default store is out of sight, needs to know which one another
    process holds."""
    if args.command == "demo":
        return ""
    from ._stores import chosen_store_url, shown_url

    try:
        shown = shown_url(chosen_store_url(getattr(args, "store", None)))
    except OrchestrateXError:
        return ""
    return "" if shown in message else f" (store {shown})"


def _run_command(args: argparse.Namespace) -> int:
    """`run` and `demo`, saying so when `kill` (SIGTERM) or a closed terminal (SIGHUP) stops them before the run takes
    those signals (reading `run -`'s standard input, opening the store): they ended the process without a word, where
    Ctrl-C said "interrupted"."""
    from ._run import run_command
    from ._start_signals import StoppedStarting, stopping_starts

    try:
        with stopping_starts():
            return run_command(args)
    except StoppedStarting as exc:
        _tell(f"orchestratex: interrupted by {exc.name} before the orchestration was stored")
        return exc.exit_code


def _reading(args: argparse.Namespace) -> str | None:
    """What a command that only reads does while it waits, for the line a stop signal gets; None for the others."""
    if args.command == "models":
        return "reading the catalog"
    if args.command == "runs":
        return (
            "reading the store's orchestrations" if args.runs_command == "list" else f"reading orchestration {args.id}"
        )
    if args.command == "keys" and args.keys_command == "list":
        return "reading the store's API keys"
    return None


def _read_only(args: argparse.Namespace, command: Callable[[argparse.Namespace], int]) -> int:
    """`command(args)`, saying so when `kill` (SIGTERM) or a closed terminal (SIGHUP) stops it: a command that only
    reads (`runs list` of a store far away, `models` of a catalog read from a pipe) ended without a word, where Ctrl-C
    said "interrupted" and `run` what it was doing. It then ends by the signal, as it did."""
    doing = _reading(args)
    if doing is None:
        return command(args)
    from ._start_signals import StoppedStarting, stopping_starts

    try:
        with stopping_starts():
            return command(args)
    except StoppedStarting as exc:
        _tell(f"orchestratex: interrupted by {exc.name} while {doing} (nothing was changed)")
        exc.end_by_the_signal()
        return exc.exit_code


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if args.command in ("run", "demo"):
            return _run_command(args)
        if args.command == "models":
            from ._models import models_command

            return _read_only(args, models_command)
        if args.command == "runs":
            from ._runs import runs_command

            return _read_only(args, runs_command)
        if args.command == "serve":
            from ._serve import serve_command

            return serve_command(args)
        from ._keys import keys_command

        return _read_only(args, keys_command)
    except UserError as exc:
        print(f"orchestratex: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except StoreUnavailable as exc:
        print(f"orchestratex: {type(exc).__name__}: {exc.message}{_which_store(args, exc.message)}", file=sys.stderr)
        return EXIT_FAILED
    except OrchestrateXError as exc:
        print(f"orchestratex: {type(exc).__name__}: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt as exc:  # (Ctrl-C; or SIGTERM, SIGHUP while a write waited for the store: `patiently`)
        name = getattr(exc, "name", "SIGINT")
        print(f"orchestratex: interrupted{'' if name == 'SIGINT' else f' by {name}'}", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
