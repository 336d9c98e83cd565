"""`orchestratex runs list` / `orchestratex runs show ID`: the orchestrations kept in the store."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .._dollars import dollars
from .._ids import in_utc
from ..exceptions import NotFound, OrchestrateXError, UserError
from ._interrupt import abandoned_note
from ._options import CATALOG_FILE, STORE_URL, given, named, not_blank, user_option, whole_number
from ._scores import score_text
from ._stores import shown_url, store_option

if TYPE_CHECKING:
    from ..catalog import ModelProfile
    from ..events import Event
    from ..orchestrator import RunResult
    from ..records import Iteration, Orchestration
    from ..stores import Store
    from ._output import Output
    from ._progress import Progress

__all__ = ["add_runs_parser", "an_id", "answer_so_far", "detached", "run_document", "runs_command"]

_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
_PAGE = 500
_RESUMABLE = 10_000
"""How many of the store's oldest unfinished runs free to resume `runs show` looks among for its own (`_stalled`)."""


def add_runs_parser(sub: Any) -> None:
    """`runs list` and `runs show` under the `orchestratex` parser's subcommands."""
    runs = sub.add_parser("runs", help="the orchestrations kept in the store: list them, show one")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="{list,show}", required=True, parser_class=type(runs))
    store_help = "store URL (default: ORCHESTRATEX_STORE_URL, else a SQLite file)"
    listing = runs_sub.add_parser("list", help="the most recent orchestrations, newest first")
    listing.add_argument("--limit", type=whole_number, default=20, help="how many to show (default 20; 0 for all)")
    listing.add_argument("--status", type=named, choices=_STATUSES, help="only orchestrations with this status")
    # (blank, as `--user "$UNSET"` gives it, is refused: it listed "no orchestrations of user ''", exit 0)
    listing.add_argument("--user", type=user_option, help="only this user's orchestrations")
    listing.add_argument("--json", action="store_true", help="print a JSON list of summaries")
    listing.add_argument("--store", type=given(STORE_URL), help=store_help)
    show = runs_sub.add_parser("show", help="one orchestration: iterations, routing, each judge's verdict, answer")
    show.add_argument(
        "id",
        type=not_blank("an orchestration's id, as `orchestratex runs list` shows it"),
        help="the orchestration's id (as `runs list` shows it, or a /v1 answer's chatcmpl-…)",
    )
    show.add_argument("--json", action="store_true", help="print the document as `run --json` does")
    show.add_argument("--store", type=given(STORE_URL), help=store_help)
    show.add_argument(
        "--catalog",
        type=given(CATALOG_FILE),
        help="the catalog file the run used (default: ORCHESTRATEX_CATALOG): its prices tell whether a call the run"
        " abandoned in flight may have been billed",
    )


def runs_command(args: argparse.Namespace) -> int:
    from ._stores import lasting_store_url

    url = lasting_store_url(
        args.store, "a memory:// store is empty in a new process", "give the store your runs use (--store URL)"
    )
    if args.runs_command == "list":
        if args.limit < 0:
            raise UserError("--limit must be >= 0")
        return asyncio.run(_list(url, args))
    return asyncio.run(_show(url, args))


async def _open(url: str) -> Store | None:
    from ._stores import sqlite_file_absent

    if sqlite_file_absent(url):
        return None
    from ..stores import open_store

    return await open_store(url)


# -- list -----------------------------------------------------------------------------------------------
async def _recent(
    store: Store, args: argparse.Namespace, progress: Progress | None = None
) -> tuple[list[Orchestration], int, bool]:
    """The last `limit` orchestrations matching the filters, newest first, read a page at a time from the end of the
    store's list (oldest first) back: `runs list` reads what it shows, not the whole history (unless the filters
    pass few of them); the store's count of orchestrations; and whether older ones may match too (read and left
    out past `limit`, or not read). `progress`, when given, is told how far the reading is."""
    want = args.limit or None
    kept: list[Orchestration] = []
    seen: set[str] = set()
    end = total = await _count(store)
    size = min(want or _PAGE, _PAGE)
    while end > 0 and (want is None or len(kept) < want):
        start = max(0, end - size)
        page = await store.list_orchestrations(limit=end - start, offset=start)
        for doc in reversed(page):
            if doc.id not in seen and _matches(doc, args):  # (a run deleted meanwhile shifts the offsets back)
                seen.add(doc.id)
                kept.append(doc)
        end, size = start, min(size * 2, _PAGE)
        if progress is not None:
            progress.say(f"reading the store's orchestrations… {total - end:,} of {total:,}")
    return kept[:want], total, want is not None and (len(kept) > want or end > 0)


async def _count(store: Store) -> int:
    """How many orchestrations the store holds (the Store API has no count): pages of one at offsets doubling until
    one is empty, then halving the gap, about 2·log2(n) reads of one orchestration."""
    if not await store.list_orchestrations(limit=1):
        return 0
    held, empty = 0, 1  # an orchestration at offset `held`, none at `empty` (once found)
    while await store.list_orchestrations(limit=1, offset=empty):
        held, empty = empty, empty * 2
    while empty - held > 1:
        middle = (held + empty) // 2
        if await store.list_orchestrations(limit=1, offset=middle):
            held = middle
        else:
            empty = middle
    return held + 1


def _matches(doc: Orchestration, args: argparse.Namespace) -> bool:
    return (args.status is None or doc.status == args.status) and (args.user is None or doc.user_id == args.user)


def _summary(doc: Orchestration) -> dict[str, Any]:
    data = doc.model_dump(mode="json", by_alias=True, exclude={"iterations", "settings", "context"})
    data["iterations"] = len(doc.iterations)
    return data


async def _list(url: str, args: argparse.Namespace) -> int:
    from ._progress import Progress

    docs: list[Orchestration] = []
    total, older = 0, False
    stalled: set[str] = set()
    # (a history of thousands took seconds to read, and on a terminal as long again to lay out, with nothing shown;
    # so did a store slow to open, a MongoDB server far away)
    progress = Progress("reading the store's orchestrations…")
    progress.start()
    try:
        store = await _open(url)
        if store is not None:
            try:
                docs, total, older = await _recent(store, args, progress)
                if not args.json and any(d.status == "running" and not detached(d) for d in docs):
                    stalled = set(await store.list_resumable(limit=_RESUMABLE))  # (see `_stalled`)
            finally:
                await store.close()
        progress.say(f"listing {len(docs):,} orchestrations…")
        return _listed(url, args, store is None, docs, total, older, progress, stalled)
    finally:
        progress.close()


def _listed(
    url: str,
    args: argparse.Namespace,
    absent: bool,
    docs: list[Orchestration],
    total: int,
    older: bool,
    progress: Progress,
    stalled: set[str],
) -> int:
    """`runs list`'s output of `docs` (read from the store, of `total`; `older`: older ones may pass the filters);
    `progress` is erased before anything is written. A `running` run no process runs is shown `detached` (`run
    --detach` interrupted) or `stalled` (its id in `stalled`: its process killed, its lease expired), as `runs show`
    says of it: it was listed `running`, as if it went on, until a server resumes it."""
    from ._output import Output, json_text, one_line, plain_table

    out = Output()
    if args.json:  # (what it does not show is said on stderr, as under the table: a script's `jq` reads stdout only)
        text = json_text([_summary(d) for d in docs])
        progress.close()
        out.verbatim(text)
        if absent:
            print(f"orchestratex: {_nothing(url, True, args)}", file=sys.stderr)
        _more(docs, total, older, args)
        return 0
    if not docs:
        progress.close()
        print(f"orchestratex: {_nothing(url, absent, args)}", file=sys.stderr)
        return 0
    headers = ["id", "created (UTC)", "status", "score", "cost $", "iter", "model", "prompt"]
    rows = [
        [
            d.id,
            in_utc(d.created_at).strftime("%Y-%m-%d %H:%M:%S"),
            "detached" if detached(d) else "stalled" if d.status == "running" and d.id in stalled else d.status,
            "" if d.final_score is None else score_text(d.final_score),
            dollars(d.total_cost).removeprefix("$"),
            str(len(d.iterations)),
            d.final_model or "",
            one_line(d.prompt),
        ]
        for d in docs
    ]
    if not out.rich:
        table = plain_table(headers, rows, right=_RIGHT)
        progress.close()
        out.verbatim(table)
    else:
        # (the filters in the title: `runs list --status failed` was titled as every orchestration of the store)
        filters = f" {_filters(args)}" if args.status or args.user is not None else ""
        _on_screen(out, f"Orchestrations{filters} in {shown_url(url)} (newest first)", headers, rows, progress.close)
    _more(docs, total, older, args)
    return 0


def _more(docs: list[Orchestration], total: int, older: bool, args: argparse.Namespace) -> None:
    """Say on stderr that the store holds more orchestrations than `--limit` showed: the list ended as if that were
    all of them (and `--json`'s, 20 by default, said nothing of the others). With `--status` or `--user`, when
    older orchestrations may pass them too: `runs list --status failed` showed 20 failures, said nothing, and read
    as every failure there was."""
    shown = "the most recent" if len(docs) == 1 else f"the {len(docs)} most recent"  # not "the 1 most recent"
    if args.status is None and args.user is None and total > len(docs):
        print(
            f"orchestratex: {shown} of {total:,} orchestrations; --limit N shows more, --limit 0 all of them",
            file=sys.stderr,
        )
    elif older:
        what = "orchestration" if len(docs) == 1 else "orchestrations"
        print(
            f"orchestratex: {shown} {what} {_filters(args)} (of {total:,} in the store); "
            "older ones may pass too: --limit N shows more, --limit 0 all of them",
            file=sys.stderr,
        )


def _nothing(url: str, absent: bool, args: argparse.Namespace) -> str:
    """Why `runs list` shows nothing: no such store file, no run at all, or none that passes the filters."""
    if absent:
        return (
            f"no orchestrations: the store {shown_url(url)} does not exist (yet); check --store or "
            "ORCHESTRATEX_STORE_URL"
        )
    filters = _filters(args)
    return f"no orchestrations {filters} in {shown_url(url)}" if filters else f"no orchestrations in {shown_url(url)}"


def _filters(args: argparse.Namespace) -> str:
    """`with status failed of user 'alice'`: what `--status` and `--user` keep, as the command's notes say it."""
    filters = [f"with status {args.status}"] if args.status else []
    filters += [f"of user {args.user!r}"] if args.user is not None else []
    return " ".join(filters)


_RIGHT = (3, 4, 5)
_DROP = (5, 1, 6, 4, 3)
"""The columns a narrow terminal leaves out first: iter, created, model, cost, score (never id nor status)."""
_COLOURS = {
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "pending": "cyan",
    "detached": "yellow",
    "stalled": "yellow",
}


def _on_screen(
    out: Output, title: str, headers: list[str], rows: list[list[str]], laid_out: Callable[[], None]
) -> None:
    """One screen line per orchestration: ids whole (to copy into `runs show`), the prompt in the width left;
    `laid_out()` is called before the first is written."""
    from rich.text import Text

    from ._output import fit_columns, harmless

    rows = [[harmless(cell) for cell in row] for row in rows]  # (measured as they will be shown)
    kept, widths = fit_columns(headers, rows, out.console.width, drop=_DROP)
    # (on a terminal narrower than an id, 24 cells, a row cut to one screen line cut the id it is there to give: its
    # rows are then written whole, for the terminal to wrap)
    show = out.row if widths[0] < out.console.width else out.line
    laid_out()
    out.row(Text(title, "bold"))
    for r, row in enumerate([headers, *rows]):
        line = Text()
        for n, (i, width) in enumerate(zip(kept, widths, strict=True)):
            cell = Text(row[i], "bold" if r == 0 else _COLOURS.get(row[i], "") if i == 2 else "")
            if n == len(kept) - 1:
                cell.truncate(width, overflow="ellipsis")
            else:
                cell.align("right" if i in _RIGHT else "left", width)
            line.append_text(cell)
            line.append("  " if n < len(kept) - 1 else "")
        show(line)


# -- show -----------------------------------------------------------------------------------------------
async def _load(
    url: str, oid: str, given: str | None = None
) -> tuple[Orchestration, list[Event], float | None, bool, str]:
    """The orchestration, its events, its session's cost limit (a run's `--cost-limit` is its session's), whether
    it is stalled (see `_stalled`) and, when it is not yet, what its lease says of the process holding it (see
    `_holder_gone`); `given` is the `--store` typed, which the commands suggested by an error repeat."""
    store = await _open(url)
    if store is None:
        raise UserError(f"no orchestration {oid!r}: the store {shown_url(url)} does not exist yet")
    try:
        try:
            doc = await store.get_orchestration(oid)
        except NotFound:
            other = await _other_id(store, oid)
            option = store_option(given)
            fix = (
                f"show one with `orchestratex runs show ID{option}`"
                if other
                else f"list them with `orchestratex runs list{option}`"
            )
            raise UserError(f"no orchestration {oid!r} in {shown_url(url)}{other} ({fix})") from None
        events = await store.list_events(doc.session_id, orchestration_id=doc.id, limit=100_000)
        try:
            session_limit = (await store.get_session(doc.session_id)).settings.cost_limit
        except NotFound:
            session_limit = None
        stalled = await _stalled(store, doc)
        gone = "" if stalled or doc.status != "running" or detached(doc) else await _holder_gone(store, doc)
        return doc, events, session_limit, stalled, gone
    finally:
        await store.close()


async def _holder_gone(store: Store, doc: Orchestration) -> str:
    """When the lease of running `doc` (in a SQLite store) is held by a process that is not running on this machine:
    when the lease expires (UTC), for `runs show` to say so. A run whose process was killed (SIGKILL, an out-of-memory
    kill) was shown going on, its call "waiting for its answer", for up to the lease's 60 s before it was said to be
    stalled. (The process may be another machine's, or another container's: said as such.)"""
    import os
    from datetime import UTC, datetime

    from ..stores.sqlite import SQLiteStore

    if not isinstance(store, SQLiteStore):
        return ""
    try:
        rows = await store._lookup(
            store._fetch, "SELECT lease_owner, lease_expires FROM orchestrations WHERE id = ?", (doc.id,)
        )
    except OrchestrateXError:
        return ""
    if not rows or rows[0][0] is None or rows[0][1] is None:
        return ""
    owner, expires = rows[0]
    pid = str(owner).partition("-")[0]  # (an orchestrator's lease owner: "<pid>-<random>")
    if not pid.isdigit():
        return ""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        until = datetime.fromtimestamp(float(expires), UTC)
        return f"{pid}:{until:%H:%M:%S}"
    except (PermissionError, OverflowError, ValueError, OSError):
        return ""
    return ""


async def _stalled(store: Store, doc: Orchestration) -> bool:
    """Whether `doc` is `running` with no process running it: its lease expired, as when the process that ran it was
    killed (SIGKILL, an out-of-memory kill) or crashed, and no server took it over yet. It was shown as going on, its
    call "waiting for its answer", for as long as no server was started on the store. (A run `run --detach` left is
    `detached` instead; a `pending` one, a server's about to start, is not stalled.)"""
    if doc.status != "running" or detached(doc):
        return False
    return doc.id in await store.list_resumable(limit=_RESUMABLE)


async def _other_id(store: Store, oid: str) -> str:
    """What `oid` is when it is not an orchestration's id but its session's or thread's (which `runs show` prints
    next to the orchestration's, and the server's API returns): `: it is the id of a session, whose orchestrations
    are …`; else nothing. (It said only "no orchestration", as if the id were mistyped.)"""
    for kind in ("session", "thread"):
        if kind == "session":
            found = await store.list_orchestrations(session_id=oid, limit=4)
        else:
            found = await store.list_orchestrations(thread_id=oid, limit=4)
        if found:
            ids = ", ".join(doc.id for doc in found[:3]) + (", …" if len(found) > 3 else "")
            return f": it is the id of a {kind}, whose orchestrations are {ids}"
    return ""


def an_id(given: str) -> str:
    """An id as typed: without white space around it, and in lower case when it is 24 hexadecimal digits in another
    case (`6B14D1…`, as some tools and fonts show hex): the store's ids are lower case, and `runs show 6B14D1…` said
    "no orchestration" of a run it held."""
    from .._ids import is_object_id

    text = given.strip()
    return text.lower() if is_object_id(text.lower()) else text


def _orchestration_id(given: str) -> str:
    """`runs show`'s id (see `an_id`), also as the OpenAI-compatible API names its run: `chatcmpl-<orchestration id>`,
    the `id` of a `/v1/chat/completions` answer, which was "no orchestration 'chatcmpl-6b15…'"."""
    from .._ids import is_object_id

    text = an_id(given)
    inner = an_id(text.removeprefix("chatcmpl-"))
    return inner if text.startswith("chatcmpl-") and is_object_id(inner) else text


async def _show(url: str, args: argparse.Namespace) -> int:
    from ..orchestrator import RunResult
    from ._progress import Progress

    oid = _orchestration_id(args.id)
    progress = Progress(f"reading orchestration {oid}…")  # (a store slow to open: a MongoDB server far away)
    progress.start()
    try:
        doc, events, session_limit, stalled, gone = await _load(url, oid, args.store)
    finally:
        progress.close()
    simulated = any(getattr(e, "simulated", False) for e in events if e.type == "orchestration_started")
    from ._output import Output, json_text

    out = Output()
    if args.json:
        out.verbatim(json_text(run_document(RunResult(doc, events, simulated), session_limit)))
        return 0
    free = not simulated and bool(doc.interrupted_calls or doc.abandoned_calls) and _free(doc, events, args.catalog)
    for line in _describe(doc, simulated, session_limit, stalled, store_option(args.store), free, gone):
        out.line(line)
    for it in doc.iterations:
        for line in _iteration(it, "detached" if detached(doc) else "stalled" if stalled else doc.status):
            out.line(line)
    from rich.text import Text

    tag = " (simulated)" if simulated else ""
    if doc.final_response is not None:
        out.line("")
        out.line(Text(f"── final answer by {doc.final_model}{tag} ──", "bold"))
        out.verbatim(doc.final_response)
    elif (
        so_far := answer_so_far(doc, simulated, stalled)
    ) is not None:  # (a run still going, or stopped: paid for, too)
        title, answer = so_far
        out.line("")
        out.line(Text(f"── {title} ──", "bold"))
        out.verbatim(answer)
    return 0


def run_document(result: RunResult, session_limit: float | None) -> dict[str, Any]:
    """The `--json` document of `run` and `runs show`: `RunResult.to_dict()`, its `settings.cost_limit` the limit the
    run ran under, its session's (where `run --cost-limit` puts it) or its own cap when that is lower. (It said
    `null` of a run made with `--cost-limit 0.5`, as if it had none.)"""
    data = result.to_dict()
    own = result.orchestration.settings.cost_limit
    if session_limit is not None:
        data["settings"]["cost_limit"] = session_limit if own is None else min(own, session_limit)
    return data


def answer_so_far(doc: Orchestration, simulated: bool, stalled: bool = False) -> tuple[str, str] | None:
    """The title and text of the answer `runs show` ends with when the run has no final answer (yet): the best one its
    judges scored, as `run` shows it when interrupted, else the last one they had not scored. (The last answer was
    shown, titled `not judged yet` even when its judges had scored it, while a better one was left out.)"""
    answered = [it for it in doc.iterations if it.response is not None]
    judged = [it for it in answered if it.score is not None]
    going = doc.status in ("pending", "running")
    state = (
        "the run is detached"
        if detached(doc)
        else "the run is stalled"
        if stalled
        else "the run is still going"
        if going
        else None
    )
    notes = ["simulated"] if simulated else []
    if judged:
        best = max(judged, key=lambda it: it.score or 0.0)  # (the first of equals, as the run keeps it)
        notes += [f"score {score_text(best.score or 0.0)}/10", state or f"the run ended {doc.status}"]
        return f"best answer so far: #{best.index} by {best.model_name} ({'; '.join(notes)})", best.response or ""
    if not answered:
        return None
    last = answered[-1]
    notes += (
        ["not judged yet", "the run is detached"]
        if detached(doc)
        else ["not judged yet", "the run is stalled"]
        if stalled
        else ["not judged yet"]
        if going
        else [f"not judged: the run ended {doc.status}"]
    )
    return f"answer of #{last.index} by {last.model_name} ({'; '.join(notes)})", last.response or ""


def detached(doc: Orchestration) -> bool:
    """Whether `doc` is suspended (`run --detach` interrupted, `Orchestrator.suspend`): `running` with no process
    running it until a server resumes it, its abandoned calls recorded for that server (a live run's are None)."""
    return doc.status in ("pending", "running") and doc.abandoned_calls is not None


def _free(doc: Orchestration, events: list[Event], given: str | None) -> bool:
    """Whether every model `doc` may have had a call in flight to is priced at $0, as `run` tells of its own run (the
    Ollama models of a catalog file, a `FunctionProvider`'s models priced at $0): those the run names (its answers,
    judges and routing candidates), each free in the catalog the command reads (`--catalog FILE`, else
    ORCHESTRATEX_CATALOG's, else the shipped one) or by the run's own record (a call of it that used tokens and cost
    nothing), and, for a judge it does not name, every model of a provider configured here. A model neither tells of
    may be priced; one the run paid for is."""
    from ._models import catalog_file, catalog_setup

    try:
        setup = catalog_setup(catalog_file(argparse.Namespace(catalog=given)))
    except OrchestrateXError:
        if given:
            raise
        setup = None  # (a broken ORCHESTRATEX_CATALOG: the run's own record alone, and the run shown all the same)
    names = {it.model_name for it in doc.iterations}
    calls = [(it.model_name, it.cost, it.catalog_cost, it.usage.total_tokens) for it in doc.iterations]
    for it in doc.iterations:
        for v in it.evaluation.verdicts if it.evaluation is not None else ():
            names.add(v.judge_model)
            calls.append((v.judge_model, v.cost, v.catalog_cost, v.usage.total_tokens))
    for event in events:
        if event.type == "model_selected":
            names |= {event.model_name, *event.scores}
    paid = {name for name, cost, catalog, _ in calls if cost or catalog}
    seen_free = {name for name, cost, catalog, tokens in calls if tokens and not cost and catalog == 0} - paid
    models = {m.name: m for m in setup.catalog} if setup is not None else {}
    configured = [m for m in models.values() if setup and (state := setup.states.get(m.provider)) and state.configured]
    free = {name for name, m in models.items() if _priced_at_nothing(m)}
    return not (names & paid) and names <= (free | seen_free) and all(_priced_at_nothing(m) for m in configured)


def _priced_at_nothing(model: ModelProfile) -> bool:
    """Whether the catalog prices `model` at $0 (an unpriced one is not: its price is unknown)."""
    return model.input_cost_per_1k == 0 and model.output_cost_per_1k == 0 and not model.cached_input_cost_per_1k


def _describe(
    doc: Orchestration,
    simulated: bool,
    session_limit: float | None = None,
    stalled: bool = False,
    store: str = "",
    free: bool = False,
    gone: str = "",
) -> Iterable[str]:
    """The header of `runs show`; `store` is ` --store URL` when the command was given one (see `store_option`), for
    the server its notes say to start: `orchestratex serve` alone serves the default store, which never resumes the
    run. `free`: every model the run may have called is priced at $0 (`_free`), so no call of it was billed. `gone`:
    `<pid>:<HH:MM:SS>` when the process holding the run's lease is not running here (`_holder_gone`)."""
    s = doc.settings
    limits = [_usd(s.cost_limit)] if s.cost_limit is not None else []
    limits += [f"{_usd(session_limit)} for its session"] if session_limit is not None else []
    limit = ", ".join(limits) or "none"
    yield f"orchestration {doc.id}: {doc.status}" + (" (simulated models)" if simulated else "")
    # (a conversation's run, from `/v1/chat/completions` or `run(messages)`: its prompt alone, "And times 3?", was
    # all that was shown of what the model answered)
    earlier = doc.messages[:-1]
    if earlier:
        yield f"conversation: {len(earlier)} message{'' if len(earlier) == 1 else 's'} before the prompt"
        width = max(len(m.role) for m in earlier) + 1
        for m in earlier:
            yield f"   {m.role + ':':<{width}} {_hanging(m.content, width + 4)}"
    yield f"prompt:   {_hanging(doc.prompt, 10)}"
    if doc.context:
        yield f"context:  {_hanging(doc.context, 10)}"
    yield f"domain:   {doc.domain or 'auto'} · user {doc.user_id} · session {doc.session_id} · thread {doc.thread_id}"
    created, updated = in_utc(doc.created_at), in_utc(doc.updated_at)
    yield f"created:  {created:%Y-%m-%d %H:%M:%S} UTC · updated {updated:%Y-%m-%d %H:%M:%S} UTC"
    models = ", ".join(s.preferred_models) if s.preferred_models else "all"
    yield (
        f"settings: up to {s.max_iterations} iteration{'' if s.max_iterations == 1 else 's'} · "
        f"threshold {s.evaluation_threshold:g}/10 · cost limit {limit} · models {models}"
    )
    score = "no score" if doc.final_score is None else f"score {score_text(doc.final_score)}/10 by {doc.final_model}"
    stop = f" · stop: {doc.stop_reason}" if doc.stop_reason else ""
    n = len(doc.iterations)
    yield f"result:   {score} · {n} iteration{'' if n == 1 else 's'} · {dollars(doc.total_cost)}{stop}"
    if doc.error:
        yield f"error:    {doc.error}"
    if doc.overage_cost > 0:  # (a total above the run's cost limit, with nothing said)
        bounds = [
            (s.cost_limit, _usd(s.cost_limit or 0)),
            (session_limit, f"{_usd(session_limit or 0)} for its session"),
        ]
        over = [text for at, text in bounds if at is not None and doc.total_cost > at]
        spent = f"{dollars(doc.total_cost)}"
        total = f"{spent} is over its cost limit ({over[0]})" if over else f"{spent} spent"
        yield (
            f"note:     {total}: {dollars(doc.overage_cost)} of it a provider billed past what was reserved for its"
            " calls (it reported usage beyond the request's bounds)"
        )
    if detached(doc):  # (it read as a run going on: "running", its call "waiting for its answer")
        yield (
            "note:     detached: no process runs it now; a server on this store (`orchestratex serve"
            f"{store}`) resumes it from its last completed step"
        )
    if stalled:  # (a killed process's run read as going on: "running", its call "waiting for its answer")
        yield (
            "note:     stalled: its lease expired and no process renewed it — the process that ran it was killed, "
            "crashed or is stopped (Ctrl-Z); a server on this store (`orchestratex serve"
            f"{store}`) resumes it from its last completed step"
        )
    if gone:
        pid, _, until = gone.partition(":")
        yield (
            f"note:     its lease is held by process {pid}, which is not running on this machine: if it ran here, it"
            f" was killed or crashed, and the run is stalled; a server on this store (`orchestratex serve{store}`)"
            f" resumes it once the lease expires, at {until} UTC"
        )
    if doc.interrupted_calls:  # (not only a crash: a run detached by `run --detach` too, which was said to have died)
        calls = doc.interrupted_calls
        billed = (
            "" if simulated or free else f", so the provider may have billed {'it' if calls == 1 else 'them'} twice"
        )
        yield (
            f"note:     {calls} call{' was' if calls == 1 else 's were'} in flight when an earlier process left the "
            f"run (it died, or handed the run on: `run --detach` interrupted, a server stopped), and made again{billed}"
        )
    if doc.abandoned_calls and not simulated and not free:  # (a cancelled run's calls stopped in flight: cost unknown)
        yield f"note:     {dollars(doc.total_cost)} spent{abandoned_note(doc.abandoned_calls)}"


def _hanging(text: str, width: int) -> str:
    """`text` with its lines after the first indented by `width` spaces, under the first (blank lines left blank): a
    prompt, a context or a message of several lines (`git diff | orchestratex run -`, a conversation's system message)
    went on at the left margin, where its lines read as fields of their own (a line `domain:   math` of the prompt)."""
    first, *rest = text.split("\n")
    return "\n".join([first, *(" " * width + line if line.strip() else line for line in rest)])


def _usd(limit: float) -> str:
    """A cost limit in US dollars as it was given: `$0.5`, `$123456.78`, `$0.00001`, `$1000000` (`:g` showed
    `$1e-05`, and `$123457` for a limit of $123,456.78)."""
    return "$" + format(Decimal(repr(limit)), "f").removesuffix(".0")


def _iteration(it: Iteration, status: str) -> Iterable[str]:
    score = "" if it.score is None else f" · score {score_text(it.score)}/10"
    u = it.usage
    yield ""
    if it.phase == "selected" and not u.total_tokens:  # its call has not answered: no "0 tokens · $0.000000 · 0.0 s"
        # (a run that failed with its model's call, as `error:` below says, was said to have abandoned it)
        waiting = (
            "no answer: its call was abandoned as the run was detached (the server resuming it makes it again)"
            if status == "detached"
            else "no answer yet: its process stopped while the call was in flight (the server resuming the run makes "
            "it again)"
            if status == "stalled"
            else "waiting for its answer"
            if status in ("pending", "running")
            else "no answer: the call was abandoned"
            if status == "cancelled" or not it.errors
            else "no answer: its call failed"
        )
        yield f"#{it.index} {it.model_name} (selected) · {waiting}"
    else:
        yield (
            f"#{it.index} {it.model_name} ({it.phase}){score} · {u.total_tokens} tokens ({u.input_tokens} in, "
            f"{u.output_tokens} out) · {dollars(it.cost)} · {it.latency_ms / 1000:.1f} s"
        )
    if it.reasoning:
        yield f"   routing: {' '.join(it.reasoning.split())}"
    if it.evaluation is not None:
        for v in it.evaluation.verdicts:
            verdict = "failed" if v.score is None else f"{score_text(v.score)}/10"
            said = v.error if v.error else " ".join(v.feedback.split())
            yield f"   judge {v.judge_model}: {verdict} ({dollars(v.cost)}): {said}"
    if it.failed_cost:  # (in the run's total and on no line above: the iteration's lines did not add up to it)
        yield (
            f"   billed for nothing kept: {dollars(it.failed_cost)} (a refused or empty answer before this one, or "
            "judges whose verdicts were not kept)"
        )
    for error in it.errors:
        yield f"   error: {error}"
