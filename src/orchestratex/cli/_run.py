"""`orchestratex run` and `orchestratex demo`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import stat
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..exceptions import ConfigurationError, Conflict, ProviderNotConfigured, UserError
from ..orchestrator import Orchestrator, RunResult
from ..providers import SimulatedProvider
from ..routing import BayesianRouter
from ..stores import Store, open_store
from ._interrupt import STDOUT_FAILED, Interrupted, RunGuard
from ._live import LiveView
from ._models import catalog_file, catalog_setup, simulation_reason
from ._options import check_run_options
from ._output import Output, StdoutFailed, json_text
from ._scores import score_text
from ._setup import run_orchestrator
from ._spinner import Spinner
from ._stores import shown_url, store_option

if TYPE_CHECKING:
    from .._catalog_file import CatalogFile

__all__ = ["DEMO_PROMPT", "in_command_words", "run_command"]

DEMO_PROMPT = "Write a Python function to calculate fibonacci numbers"
DEMO_THRESHOLD = 9.0
DEMO_SEED = 12
"""Seeds the simulator and the router so the demo shows what docs/cli.md says: a cheap model first, then two
refinements that switch models (checked by tests/test_cli.py)."""


def _demo(args: argparse.Namespace) -> Callable[[Store], Orchestrator]:
    latency = 0.0 if args.fast else 0.25
    sim = SimulatedProvider(seed=DEMO_SEED, latency_scale=latency)
    router = BayesianRouter(seed=DEMO_SEED)
    return lambda store: Orchestrator(providers=[sim], router=router, store=store, evaluation_threshold=DEMO_THRESHOLD)


_STARTING_AFTER_S = 2.0
"""How long a run may take to its first event (its session and orchestration stored) before the spinner says it is
starting."""


async def _run(
    args: argparse.Namespace, make: Callable[[Store], Orchestrator], file: CatalogFile | None = None
) -> RunResult:
    demo = args.command == "demo"
    options = (
        {}
        if demo
        else {
            "domain": args.domain,
            "context": args.context,
            "max_iterations": args.max_iterations,
            "evaluation_threshold": args.threshold,
            "preferred_models": args.models,
            "cost_limit": args.cost_limit,
        }
    )
    options = {k: v for k, v in options.items() if v is not None}
    if not demo:
        await _check_first(make, args.prompt, options)
    store = await open_store("memory://" if demo else args.store)
    try:
        orchestrator = make(store)
        guard = RunGuard(
            orchestrator,
            detach=getattr(args, "detach", False),
            store=store_option(getattr(args, "store", None)),
            catalog=_catalog_option(getattr(args, "catalog", None)),
            needs=_server_needs(file) if getattr(args, "detach", False) else "",
        )
        view = None if args.json else _live_view(args, guard, file)
        # `--json` prints nothing until the run ends: what it waits for goes to stderr, when that is a terminal
        spinner = _stderr_spinner() if view is None else view.spinner
        # (a store whose write lock another process holds keeps the run from its first event for up to its busy
        # timeout, which went by without a sign of life; a run that starts at once shows its first lines first)
        starting = asyncio.get_running_loop().call_later(_STARTING_AFTER_S, spinner.unless_waiting, "starting…")
        try:
            result = await guard.run(
                DEMO_PROMPT if demo else args.prompt,
                user_id=local_user(),
                on_event=view or spinner,
                judges=getattr(args, "judges", None),
                **options,
            )
        except Interrupted as exc:
            stopped = exc.result
            if view is not None and stopped is not None:
                _best_so_far(view, stopped)
            raise
        except Conflict:  # (its lease taken over: see `_taken_over`)
            if guard.orchestration_id is None:
                raise
            result = await _taken_over(orchestrator, guard.orchestration_id, store_option(getattr(args, "store", None)))
        finally:
            starting.cancel()
            spinner.close()
            await orchestrator.aclose()
        if view is not None and result.final_response is not None:
            tag = " (simulated)" if result.simulated else ""
            view.final_answer(result.final_response, f"final answer by {result.final_model}{tag}")
        elif view is not None:  # (a run that failed after an answer, its judges failing say: paid for, and shown)
            _unfinished(view, result)
        return result
    finally:
        await store.close()


def _catalog_option(given: str | None) -> str:
    """` --catalog FILE` when the command was given one, for the server a detached run is left for: started as the
    command said (`orchestratex serve --store …`), without the file, it resumed the run on other models — the
    shipped catalog's, or the simulator's when no key is set —, the file's unknown to it."""
    import shlex

    if not given:
        return ""
    try:
        regular = stat.S_ISREG(os.stat(os.path.expanduser(given)).st_mode)
    except OSError:
        regular = False
    # (a pipe, `--catalog <(curl …)`, is gone once read, and `serve` refuses one: the file it was saved to, then)
    return f" --catalog {shlex.quote(given)}" if regular else " --catalog FILE"


def _server_needs(file: CatalogFile | None) -> str:
    """`, with OPENROUTER_API_KEY set (a server builds every endpoint of models.toml)` for a catalog file with an
    endpoint that cannot be built, which `run --provider ollama` left out: the server a detached run is left for
    refuses such a file ("provider 'openrouter' of models.toml needs an API key"), so the command it named to resume
    the run never started."""
    if file is None:
        return ""
    blocked = catalog_setup(file).blocked
    if not blocked:
        return ""
    needs = [
        f"{s.key_env} set" if s.installed and s.problem is None and s.key_env else f"{s.name} usable ({s.describe()})"
        for s in blocked
    ]
    return f", with {' and '.join(needs)} (a server builds every endpoint of {file.path})"


async def _check_first(make: Callable[[Store], Orchestrator], prompt: str, options: dict[str, object]) -> None:
    """The run's checks (its model names, domain, numbers, whether any model could judge it), made on an orchestrator
    over a store in memory before the run's store is opened: a mistyped `--models`, a misspelt `--domain` was refused
    once the store was open, and a mistyped `--store` path had been created meanwhile, an empty database and its
    directories left behind."""
    from ..orchestrator._plan import plan
    from ..stores import MemoryStore

    orchestrator = make(MemoryStore())
    try:
        await plan(orchestrator, prompt, user_id=local_user(), **options)  # type: ignore[arg-type]
    finally:
        await orchestrator.aclose()


async def _taken_over(orchestrator: Orchestrator, oid: str, store: str) -> RunResult:
    """The run as another process left it, after it took the run over: a command stopped (Ctrl-Z) or frozen (a laptop
    asleep) past its lease (60 s) leaves its run to a server on the same store, which resumes it. The command then
    ended with `Conflict: orchestration … is not leased to '5690-2e95…': another process runs it`, and printed nothing
    of the run, which the server had finished. It now says so, and shows the run as it is (the `--json` document, the
    final answer, the exit code of how it ended)."""
    stored = await orchestrator.store.get_orchestration(oid)
    events = await orchestrator.store.list_events(stored.session_id, orchestration_id=oid, limit=100_000)
    going = stored.status in ("pending", "running")
    print(
        f"orchestratex: orchestration {oid} was taken over by another process (a server on this store resumes a run "
        "whose process has not answered for its lease, 60 s, as this one had not: stopped or asleep); "
        + (f"it goes on there: `orchestratex runs show {oid}{store}`" if going else f"it ended {stored.status} there"),
        file=sys.stderr,
        flush=True,
    )
    return RunResult(stored, events, orchestrator.simulated)


def _best_so_far(view: LiveView, stopped: RunResult) -> None:
    """The best answer of an interrupted run, as it is: the live view had shown only its first 200 characters, and
    an answer the run paid for (9.1/10 below a threshold of 10, say) was otherwise not printed."""
    if stopped.final_response is None:
        _unfinished(view, stopped)
        return
    if stopped.status == "completed":  # (the signal came as the run ended: its answer is the final one)
        tag = " (simulated)" if stopped.simulated else ""
        view.final_answer(stopped.final_response or "", f"final answer by {stopped.final_model}{tag}")
        return
    notes = ["simulated"] if stopped.simulated else []
    notes += [] if stopped.final_score is None else [f"score {score_text(stopped.final_score)}/10"]
    notes += ["the run detached" if stopped.status == "running" else f"the run ended {stopped.status}"]
    view.final_answer(stopped.final_response or "", f"best answer so far by {stopped.final_model} ({'; '.join(notes)})")


def _unfinished(view: LiveView, result: RunResult) -> None:
    """The answer of a run that ended without a final one, as `runs show` titles it (`answer of #1 by … (not judged:
    the run ended failed)`): the live view had shown its first 200 characters only, and a run whose judges all
    failed, or one interrupted before they scored its answer, left the rest of the answer it paid for unseen."""
    from ._runs import answer_so_far

    so_far = answer_so_far(result.orchestration, result.simulated)
    if so_far is not None:
        view.final_answer(so_far[1], so_far[0])


def local_user() -> str:
    """The user id of a run from the command line: the login name (`USER`), or `local` where it is unset or could not
    be a user id (blank, white space at an end, a `/`, an invisible or control character, `.` or `..`, more than 200
    characters): the library
    refused an empty one, and the server's API could never name the others (`/api/sessions/user/{user_id}`)."""
    name = os.environ.get("USER", "")
    if not name.strip() or name != name.strip() or name in (".", "..") or "/" in name or not name.isprintable():
        return "local"
    if len(name) > MAX_USER_ID_CHARS:  # (stored under it, the run was out of reach of the server's user routes)
        return "local"
    return name


MAX_USER_ID_CHARS = 200
"""The longest user id the server's routes take (`orchestratex.server._users.MAX_USER_ID_CHARS`, which this module
cannot import: the server is an extra)."""


def _live_view(args: argparse.Namespace, guard: RunGuard, file: CatalogFile | None = None) -> LiveView:
    """The live view on stdout; a reader that goes away (`| head -1`) interrupts the run like SIGPIPE would, and
    a stdout that fails otherwise (`> /dev/full`) interrupts it too."""

    def stdout_failed(error: OSError) -> None:
        if isinstance(error, BrokenPipeError):
            guard.interrupt("SIGPIPE")
        else:
            guard.interrupt(STDOUT_FAILED, error.strerror or str(error))

    forced = getattr(args, "provider", None) == ["sim"]
    note = "--provider sim" if forced else "the demo always simulates" if args.command == "demo" else None
    output = Output(on_closed=stdout_failed)
    # piped or redirected: no spinner in the file, but one on stderr's terminal; not when stdout is a pipe, whose
    # reader (`| tee run.log`, `| grep`, `| cat`) may write each line onto that same terminal, where the spinner's
    # frames were left stuck to the lines (`⠙ … is answering…   answered 414 tokens …`)
    spinner = None if output.rich or _a_pipe(sys.stdout) else _stderr_spinner()
    catalog = None if file is None else file.catalog
    return LiveView(output, simulated_note=note or simulation_reason(catalog), spinner=spinner)


def _a_pipe(file: object) -> bool:
    """Whether `file` is a pipe or a socket (another process reads it), not a file, a device or a terminal."""
    try:
        mode = os.fstat(file.fileno()).st_mode  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _stderr_spinner() -> Spinner:
    """A spinner on stderr, shown when stderr is a terminal: a run whose stdout is a file, a pipe or `--json`'s
    document said nothing on the screen for as long as it ran, minutes with real models."""
    return Spinner(Output(sys.stderr), owns_stdout=False)


MAX_STDIN_MB = 64
"""The most `run -` ever reads of standard input, in MiB. Without a bound, `run - < /dev/zero` or `yes | orchestratex
run -` read until memory ran out, and a 2 GB log piped by mistake took gigabytes of memory before failing as too
long."""

BYTES_A_TOKEN_AT_MOST = 16
"""`run -` reads at most this many bytes a token of the largest context window of the catalog: four times the
library's estimate of a prompt's tokens (a quarter of its bytes), so a prompt refused here is one no model could
take, while one nearer the windows is left to the run, which says how far over it is."""


def _stdin_bound(file: CatalogFile | None) -> tuple[int, str]:
    """The most `run -` reads (bytes), and the largest context window of the catalog in words, for its error."""
    from ..catalog import ModelCatalog

    catalog = ModelCatalog.default() if file is None else file.catalog
    largest = max(catalog, key=lambda m: m.context_window, default=None)
    if largest is None:
        return MAX_STDIN_MB * 2**20, ""
    window = largest.context_window
    said = f"the largest, {largest.name}'s, {window:,} tokens, is some {_size(window * 4)} of text"
    return min(MAX_STDIN_MB * 2**20, window * BYTES_A_TOKEN_AT_MOST), said


def _size(size: int) -> str:
    """`16 MB`, `4.15 MB`, `64 KB`: a size in bytes as its error says it (in units of 1024)."""
    return f"{size / 2**20:.3g} MB" if size >= 2**20 else f"{size / 2**10:.3g} KB"


def _read_stdin(bound: tuple[int, str]) -> str:
    """Standard input as UTF-8 text without a leading byte order mark, its line endings read as `\\n` (as text-mode
    reading does); `UserError` past `bound` (see `_stdin_bound`), before anything is stored. A prompt just under
    the fixed 64 MB bound of old, 16 times the largest window of the shipped catalog, was stored three times over
    (180 MB of the store for good, some 600 MB of memory) before the run failed as too long."""
    most, largest = bound
    raw = (
        sys.stdin.buffer.read(most + 1)
        if hasattr(sys.stdin, "buffer")
        else sys.stdin.read(most + 1).encode("utf-8", "surrogateescape")
    )
    if len(raw) > most:
        raise UserError(
            f"standard input holds more than {_size(most)}: no model's context window takes a prompt that long"
            f"{f' ({largest})' if largest else ''}; pipe a shorter prompt"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # (Windows PowerShell 5's `>`, Notepad's "Unicode")
            fix = "it starts with UTF-16's byte order mark: convert it (`iconv -f UTF-16 -t UTF-8`)"
        else:
            fix = "pipe UTF-8 text (e.g. through `iconv -t UTF-8`)"
        raise UserError(
            f"standard input is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}): {fix}"
        ) from None
    if "\x00" in text:
        raise UserError(f"standard input is not text (a NUL byte at offset {raw.index(0)}): {_nul_fix(raw)}")
    # a byte order mark (Notepad and other Windows editors save one) marks the encoding; it is not the prompt's text
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _nul_fix(raw: bytes) -> str:
    """What to do with standard input holding NUL bytes, which no text does: UTF-16 without a byte order mark (every
    other byte NUL, as `iconv -t UTF-16LE` or .NET's `Encoding.Unicode` writes it: valid UTF-8, so it was sent to the
    models as `h␀e␀l␀l␀o␀`, at twice the tokens), or a binary file (a tar archive of text files is
    valid UTF-8 too)."""
    head = raw[:4096]
    for zeros, name in ((head[1::2], "UTF-16LE"), (head[0::2], "UTF-16BE")):
        if zeros and zeros.count(0) >= 0.9 * len(zeros):
            return f"it looks like {name} without a byte order mark: convert it (`iconv -f {name} -t UTF-8`)"
    return "is it a binary file? pipe the text to orchestrate"


def _check_stdin_once(args: argparse.Namespace) -> None:
    """`UserError` for `run -` with a catalog file that is standard input itself (`--catalog /dev/stdin`, or
    `ORCHESTRATEX_CATALOG` naming it): piped, the catalog took the whole input and the prompt was said to be empty;
    redirected from a file, the file was read twice, and its catalog text sent to the models as the prompt."""
    from .._catalog_file import env_catalog_path

    given = getattr(args, "catalog", None)
    path = given or env_catalog_path()
    if args.prompt != "-" or path is None or sys.stdin is None:
        return
    try:
        same = os.path.samestat(os.stat(os.path.expanduser(path)), os.fstat(sys.stdin.fileno()))
    except (OSError, ValueError, AttributeError):  # (no such file: the catalog's own check says so)
        return
    if same:
        option = f"--catalog {path}" if given else f"ORCHESTRATEX_CATALOG={path}"
        raise UserError(
            f"run - reads the prompt from standard input, and {option} names standard input too: one input cannot "
            "be both; save the catalog to a file (--catalog models.toml), or give the prompt as an argument"
        )


def _check_detach(args: argparse.Namespace) -> None:
    """`--detach` hands an interrupted run to a server on the same store: refused with a store that ends with this
    process (`memory://`, `sqlite://`), where it would only be lost, while the command said a server resumes it."""
    from ._stores import chosen_store_url, in_memory

    url = chosen_store_url(args.store)
    if args.detach and in_memory(url):
        raise UserError(
            f"--detach leaves an interrupted run for a server on the same store, but {shown_url(url)} lives in this "
            "process only: "
            "give a store a server can open (--store sqlite:///runs.db), or leave --detach out"
        )


_LIBRARY_ONLY = (
    # (what the library's message says a program can do, which the command cannot: no option gives an evaluator, nor
    # `judging="when_needed"`, so a user who tried `--max-iterations 1` as told got the same error again)
    (
        ", add a second model to your catalog file (a local one at price 0 will do), or pass"
        " Orchestrator(evaluator=...) with an evaluator that needs no judge model; or take single answers unjudged:"
        ' judging="when_needed" and'
        " max_iterations=1",
        ", or add a second model to a catalog file (--catalog FILE; a local one at price 0 will do)",
    ),
    ("route to other models (preferred_models)", "route to other models (--models)"),
    (
        # (a catalog file whose other models are disabled: `--max-iterations 1`, as told, met the same error again)
        " (catalog.set_status(name, 'active'), or status = \"active\" in the catalog file), add another model, or take"
        ' single answers unjudged: judging="when_needed" and max_iterations=1',
        ' (status = "active" in the catalog file), or add another model',
    ),
)


def _judges_left_out(args: argparse.Namespace, message: str) -> str:
    """`; or let paid judge: --provider ollama,paid` for a run that has no judge because `--provider` left out the
    configured providers whose models could judge (only the named providers' models judge its answers)."""
    left_out = getattr(args, "left_out", None)
    if not left_out or not message.startswith("no model can judge"):
        return ""
    named = ",".join(args.provider)
    return (
        f"; --provider {named} leaves out {', '.join(left_out)}, whose models could judge (only the models of the"
        f" providers named judge a run's answers): --provider {named},{left_out[0]}"
    )


def in_command_words(message: str) -> str:
    """A library's error `message` with what it tells a program to pass (`Orchestrator(evaluator=...)`,
    `preferred_models`) said as the command's options, or left out where no option does it."""
    for library, command in _LIBRARY_ONLY:
        message = message.replace(library, command)
    return message


def _leave_out(exc: ProviderNotConfigured, args: argparse.Namespace, file: CatalogFile | None) -> ProviderNotConfigured:
    """`exc` (an endpoint of the catalog file that cannot be built: its key unset), with the `--provider` that runs
    the file without it when no provider was named: it said only what to set, while the run needs no key of an
    endpoint `--provider` leaves out."""
    from ._models import catalog_setup

    if file is None or getattr(args, "provider", None) or exc.provider not in file.providers:
        return exc
    usable = [name for name, state in catalog_setup(file).states.items() if state.configured]
    if not usable:
        return exc
    return ProviderNotConfigured(
        f"{exc.message}; or leave {exc.provider} out of the run: --provider {','.join(usable)}",
        provider=exc.provider,
        env_var=exc.env_var,
    )


def _print_json(result: RunResult, cost_limit: float | None) -> None:
    """`result`'s document; `cost_limit` is its session's (`--cost-limit`: the run made its session with it)."""
    from ._runs import run_document

    Output().verbatim(json_text(run_document(result, cost_limit)))


def run_command(args: argparse.Namespace) -> int:
    file = None
    if args.command == "run":
        check_run_options(args)  # (before standard input is read or a store opened)
        _check_detach(args)
        _check_stdin_once(args)
        file = catalog_file(args)  # (read once: its models bound what standard input may hold)
    make = run_orchestrator(args, file) if args.command == "run" else _demo(args)
    if args.command == "run" and args.prompt == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UserError("run -: pipe the prompt into standard input (echo 'question' | orchestratex run -)")
        # the line endings `echo` or a file's last line leave are not part of the question (as with `$(...)`)
        args.prompt = _read_stdin(_stdin_bound(file)).rstrip("\n")
    if args.command == "run" and not args.prompt.strip():
        raise UserError("the prompt is empty: give the text to orchestrate")
    try:
        result = asyncio.run(_run(args, make, file))
    except ConfigurationError as exc:
        raise ConfigurationError(in_command_words(exc.message) + _judges_left_out(args, exc.message)) from None
    except ProviderNotConfigured as exc:
        raise _leave_out(exc, args, file) from None
    except Interrupted as exc:
        if args.json and exc.result is not None:  # a script reading stdout gets the run's document (and its id)
            with contextlib.suppress(StdoutFailed):  # (the message on stderr names the run either way)
                _print_json(exc.result, getattr(args, "cost_limit", None))
        raise
    if args.json:
        try:
            _print_json(result, getattr(args, "cost_limit", None))
        except StdoutFailed as exc:
            if args.command == "run":
                from ._stores import chosen_store_url, in_memory

                # (not `runs show --store memory://`, which refuses such a store: the run ended with the command)
                url = chosen_store_url(args.store)
                exc.note = (
                    f"orchestration {result.id} ended {result.status}, and its store, {shown_url(url)}, with the"
                    " command: nothing keeps its document"
                    if in_memory(url)
                    else f"orchestration {result.id} ended {result.status}: see `orchestratex runs show {result.id}"
                    f"{store_option(args.store)}`"
                )
            raise
    return 0 if result.status == "completed" else 1
