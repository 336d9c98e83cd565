"""Numeric options: parsed as numbers, and checked against the library's bounds under the option's own name.

The library names a setting by its field (`max_iterations: Input should be less than or equal to 50`); a person
who typed `--max-iterations 100000` should read about `--max-iterations`, with the range to choose from. The
bounds are read from the library's models, so the CLI never allows or refuses a value the library would not.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from typing import Any

from ..exceptions import UserError

__all__ = [
    "CATALOG_FILE",
    "HOST",
    "OPTIONS",
    "STORE_URL",
    "USER_ID",
    "TypedOption",
    "check_run_options",
    "domain_option",
    "given",
    "host",
    "named",
    "not_blank",
    "number",
    "user_option",
    "whole_number",
]

OPTIONS = {"max_iterations": "--max-iterations", "evaluation_threshold": "--threshold", "cost_limit": "--cost-limit"}
"""The library's name of each numeric setting of `run` → its option (as `--help` shows it)."""

STORE_URL = "a store URL (memory://, sqlite:///path.db, mongodb://…)"
CATALOG_FILE = "a catalog file's path"
HOST = "an address of this machine (127.0.0.1, or 0.0.0.0 for every interface)"
USER_ID = "a user id (as `runs list` and `keys list` show them)"
"""What `--store`, `--catalog`, `--host` and `--user` take, for the error of a blank value (see `given`)."""


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):  # (nan passed every bound check and was refused as "above 1000000")
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number: give a number such as 0.5")
    return value + 0.0  # (-0 is 0: never shown as `threshold -0/10` nor stored as -0.0)


def given(what: str) -> Callable[[str], str]:
    """The type of a text option that cannot be blank (`--store "$UNSET_VARIABLE"`): left out, the option has a
    default, so a blank value would quietly mean that default (a key created in another store, say). `what` says
    what to give instead, as the error's end."""

    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"is empty: give {what}, or leave the option out for its default")
        return text

    return parse


def domain_option(text: str) -> str:
    """`run --domain D`, checked as the library checks a domain, its error naming the option: `--domain ""` said
    "domain is empty: … or leave it unset", and a misspelt one "domain 'codeing' looks like …", neither naming the
    option to change."""
    from ..domains import DOMAINS, check_domain

    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"is empty: give a domain ({', '.join(DOMAINS)}, or a name of your own), or leave the option out to detect"
            " it from the prompt"
        )
    try:
        check_domain(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(exc.message.removeprefix("domain ")) from None
    return text


def not_blank(what: str) -> Callable[[str], str]:
    """The type of an argument that has no default and cannot be blank (`runs show "$ID"`, the variable unset): it was
    looked up, "no orchestration '' in sqlite:///…", as if the store had lost it. `what` says what to give."""

    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"is empty: give {what}")
        return text

    return parse


def user_option(text: str) -> str:
    """`--user ID` of `runs list` and `keys list`, without the white space around it (copied from a table's padded
    column, say): `keys create " alice"` gives the key to `alice`, as no user id begins or ends with white space, while
    `keys list --user " alice"` said there was no key of user ' alice'."""
    return given(USER_ID)(text).strip()


def named(text: str) -> str:
    """A named value of a `choices` option (`runs list --status`, `serve --log-format`) in any case, as `--domain`
    and `ORCHESTRATEX_LOG_FORMAT` take theirs: `--status Completed` was an "invalid choice"."""
    return text.strip().lower()


def host(text: str) -> str:
    """`--host`'s value: not blank (see `given`); an IPv6 address in the brackets URLs put around it (`[::1]`, as
    `serve` prints it in `http://[::1]:8000`) is the address inside them, which it could not listen on otherwise.
    A URL or an address with its port (`http://127.0.0.1:8000`, `localhost:8000`, as `serve` prints and a client is
    given) is refused with the options to type: it was looked up as a host name, "cannot listen on
    localhost:8000:8000: Name or service not known: give another --port"."""
    text = given(HOST)(text)
    address, port = _address_and_port(text)
    if address != text:
        port_option = f" --port {port}" if port else ""
        raise argparse.ArgumentTypeError(
            f"{text!r} is {'a URL' if '://' in text else 'an address with its port'}: --host takes the address alone"
            f"{' (its port goes in --port)' if port else ''}: --host {address or '127.0.0.1'}{port_option}"
        )
    return text[1:-1] if text.startswith("[") and text.endswith("]") else text


def _address_and_port(text: str) -> tuple[str, str]:
    """The address in `text` (a URL's or `host:port`'s), and the port written with it (`""` when none); `text`
    itself when it is an address alone (`127.0.0.1`, `::1`, `[::1]`, `localhost`)."""
    rest = text.split("://", 1)[1] if "://" in text else text
    rest = rest.split("/", 1)[0]
    if rest.startswith("[") and "]" in rest:  # `[::1]` or `[::1]:8000`
        inside, _, after = rest[1:].partition("]")
        port = after[1:] if after.startswith(":") else ""
        if rest == text and not port:
            return text, ""
        return inside, port
    if rest.count(":") == 1:  # `localhost:8000` (an IPv6 address has two or more)
        address, _, port = rest.partition(":")
        return address, port
    return (text, "") if rest == text else (rest, "")


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


class TypedOption(argparse.Action):
    """Stores the value as `store` does, and the option string typed (`--evaluation-threshold` rather than its
    alias `--threshold`) in the namespace's `typed` dict, so that an error about the value names it as typed."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None
    ) -> None:
        setattr(namespace, self.dest, values)
        if option is not None:
            typed = getattr(namespace, "typed", None) or {}
            namespace.typed = {**typed, self.dest: option}


def _show(value: object) -> str:
    """A number as a person writes it: `1000000`, not `1000000.0`; `0.5`; `1e+20`."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _range(metadata: Sequence[object]) -> str:
    """The bounds of a pydantic field as words: `from 1 to 50`, `at least 0`."""
    from annotated_types import Ge, Gt, Le, Lt

    low = next((_show(m.ge) for m in metadata if isinstance(m, Ge)), None)
    high = next((_show(m.le) for m in metadata if isinstance(m, Le)), None)
    above = next((f"more than {_show(m.gt)}" for m in metadata if isinstance(m, Gt)), None)
    below = next((f"less than {_show(m.lt)}" for m in metadata if isinstance(m, Lt)), None)
    if low is not None and high is not None:
        return f"from {low} to {high}"
    words = [
        w for w in (above if low is None else f"at least {low}", below if high is None else f"at most {high}") if w
    ]
    return " and ".join(words) or "a valid value"


def check_run_options(args: argparse.Namespace) -> None:
    """`UserError` naming the option as typed (`--max-iterations must be from 1 to 50, not 100000`) when a numeric
    option of `run` is outside what the library accepts; checked before anything is stored or run."""
    from pydantic import ValidationError

    from ..records import OrchestrationSettings

    dests = {"max_iterations": "max_iterations", "evaluation_threshold": "threshold", "cost_limit": "cost_limit"}
    values = {field: getattr(args, dest) for field, dest in dests.items() if getattr(args, dest) is not None}
    try:
        OrchestrationSettings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0])
        option = (getattr(args, "typed", None) or {}).get(dests[field], OPTIONS[field])
        bounds = _range(OrchestrationSettings.model_fields[field].metadata)
        raise UserError(f"{option} must be {bounds}, not {_show(values[field])}") from None
