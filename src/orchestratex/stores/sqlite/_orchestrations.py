"""How an orchestration is stored: a row of small columns, its head and state, and one `steps` row per iteration.

An orchestration document is split three ways (`split`):

- the **head** (`orchestrations.doc`): the fields fixed when the run starts (ids, prompt, messages, context,
  settings, `created_at`), written once and rewritten only if they change;
- the **state** (`orchestrations.state`): every other field but the iterations (status, final answer,
  totals, `updated_at`, ...), a few hundred bytes rewritten by each commit;
- the **steps** (`steps`, one row per iteration): a commit writes only the iterations that are new or
  changed since the last commit, so a run's commits append to it instead of rewriting it whole.

Reading joins them back into the same document (`assemble`): the JSON of the head, the state and the
iterations, merged, parses to the orchestration as it was committed.

To know what changed, the store remembers what it last wrote for each run in flight (`Written`, kept in
a `WrittenCache`) with the row's revision (`rev`, incremented by every commit). A commit applies
its difference only while the row still has that revision (`UPDATE ... WHERE rev = ?`); otherwise (another
process wrote it, or nothing is remembered) it rewrites the row and every step in full.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from ..._ids import epoch_seconds
from ...exceptions import Conflict
from ...records import TERMINAL_ORCHESTRATION_STATUSES, Iteration, Orchestration
from ..checks import to_pico
from ..memory import _domain
from ._rows import Executor

__all__ = [
    "HEAD_FIELDS",
    "TEXT",
    "Parts",
    "Written",
    "WrittenCache",
    "assemble",
    "insert_orchestration",
    "read_orchestrations",
    "split",
    "write_orchestration",
]

HEAD_FIELDS = frozenset(
    {"id", "thread_id", "session_id", "user_id", "prompt", "messages", "context", "settings", "created_at"}
)
"""The fields kept in the head: set when a run starts. Any other field (one added later too) is in the state."""


_HEAD_FIELDS = set(HEAD_FIELDS)
_STATE_FIELDS = {f for f in Orchestration.model_fields if f not in HEAD_FIELDS and f != "iterations"}
_dump_orchestration = Orchestration.__pydantic_serializer__.to_json
_dump_iteration = Iteration.__pydantic_serializer__.to_json


def _dump(o: Orchestration, fields: set[str]) -> bytes:
    """The JSON of `fields` of `o`, as `model_dump_json(include=fields)` writes it (without its Python wrapper: 1.9–2.1
    µs for the head or the state, against 3.0–3.2 µs for a view model of the fields built and dumped), in UTF-8: the
    statements take it as it is (`CAST(? AS TEXT)`, see `TEXT`)."""
    json: bytes = _dump_orchestration(o, include=fields)
    return json


TEXT = "CAST(? AS TEXT)"
"""How a statement takes a JSON document given as its UTF-8 bytes, as serializers write it: stored as the text it is
(SQLite's cast of a blob to text keeps its bytes). A `str` made of them (`bytes.decode`) would be encoded back to
UTF-8 by `sqlite3` to bind it: two copies of every document written, and two passes over each character for a text
that is not ASCII (a prompt in French, a `—`), about a tenth of a run's instructions with a prompt of 50,000
characters. (A `str` cast so is stored as it is too.)"""


_COLUMNS = ("status", "domain", "final_score", "total_pico", "iterations", "overage_pico", "doc")
"""The columns a commit sets only when their value changed (most are indexed: a column left out of the
`SET` leaves its indexes alone). `state`, `updated_at` and `rev` are set by every commit."""
_SETS = tuple(f", {column} = {TEXT if column == 'doc' else '?'}" for column in _COLUMNS)
"""The `SET` clause of each of `_COLUMNS`."""


@dataclass(slots=True)
class Parts:
    """An orchestration as its row and steps are written."""

    id: str
    session_id: str
    thread_id: str
    user_id: str
    created_at: float
    updated_at: float
    terminal: bool
    columns: tuple[Any, ...]
    """The values of `_COLUMNS`, `doc` (the head) last."""
    state: bytes
    steps: tuple[bytes, ...]
    """The JSON of each iteration, in order (UTF-8, as the head and the state: see `TEXT`)."""
    head_key: tuple[Any, ...]
    """The head's values that cannot change in place (`_HEAD_KEY`: its ids, prompt, context and `created_at`)."""
    head_rest: bytes
    """The JSON of the head's fields that can (`_HEAD_REST`: the messages and the settings)."""

    @property
    def head(self) -> bytes:
        head: bytes = self.columns[-1]
        return head

    @property
    def overage_pico(self) -> int:
        overage: int = self.columns[5]
        return overage


_HEAD_REST = {"messages", "settings"}
_HEAD_KEY = attrgetter(*sorted(HEAD_FIELDS - _HEAD_REST))


def split(o: Orchestration, before: Written | None = None) -> Parts:
    """Serialise `o` as its head, state and steps (see the module docstring).

    The head is the one `before` wrote when none of its fields changed since: the same objects (strings, a time) and
    the same JSON of the messages and settings, which may change in place. It is the same JSON, without serialising
    the prompt (and the context) at every commit: 50,000 characters take pydantic 50-100 µs each time."""
    key, rest = _HEAD_KEY(o), _dump(o, _HEAD_REST)
    if before is not None and rest == before[4] and all(new is old for new, old in zip(key, before[3], strict=True)):
        head: bytes = before[1][-1]
    else:
        head = _dump(o, _HEAD_FIELDS)
    return Parts(
        id=o.id,
        session_id=o.session_id,
        thread_id=o.thread_id,
        user_id=o.user_id,
        created_at=epoch_seconds(o.created_at),
        updated_at=epoch_seconds(o.updated_at),
        terminal=o.status in TERMINAL_ORCHESTRATION_STATUSES,
        columns=(
            o.status,
            _domain(o),
            o.final_score,
            to_pico(o.total_cost),
            len(o.iterations),
            to_pico(o.overage_cost),
            head,
        ),
        state=_dump(o, _STATE_FIELDS),
        steps=tuple([_dump_iteration(it) for it in o.iterations]),
        head_key=key,
        head_rest=rest,
    )


def assemble(head: str, state: str, steps: Iterable[str]) -> str:
    """The JSON of the whole document from its parts (objects merged; `iterations` from the steps, in order)."""
    return f'{{{head[1:-1]},{state[1:-1]},"iterations":[{",".join(steps)}]}}'


Written = tuple[int, tuple[Any, ...], tuple[bytes, ...], tuple[Any, ...], bytes]
"""What this process last wrote of one orchestration: the row's revision `rev`, its `Parts.columns`, `Parts.steps`,
`Parts.head_key` and `Parts.head_rest`.
A plain tuple of strings, bytes and numbers, which Python's cyclic garbage collector stops tracking at its first pass:
an object of a class of its own would be walked by every full collection while its run is in flight (one per run,
replaced by each commit, and so promoted to the oldest generation, hastening the next full collection)."""


class WrittenCache:
    """`Written` per orchestration in flight, so that a commit writes only what changed (a run forgotten is
    written in full by its next commit: slower, as correct). A run's final commit, or a failed one, forgets it.

    A run whose lease this process holds (started, or committed, with an `owner`) is kept for as long as it
    holds it, however many runs are in flight: a bounded cache would evict runs that are still being written
    when more than its size are in flight at once, and make each of their commits a full rewrite (the
    entries weigh about what the orchestrator holds of those runs anyway). It lets go of a run when its lease
    is released or found lost (`unpin`); past `leased_size` such runs, the longest unwritten goes first.
    Other runs (written without an `owner`) are kept in a least-recently-written cache of `size`.
    """

    def __init__(self, size: int = 1024, leased_size: int = 65_536) -> None:
        self._size = size
        self._leased_size = leased_size
        self._entries: OrderedDict[str, Written] = OrderedDict()
        self._leased: dict[str, Written] = {}

    def __len__(self) -> int:
        return len(self._entries) + len(self._leased)

    def get(self, orchestration_id: str) -> Written | None:
        return self._leased.get(orchestration_id) or self._entries.get(orchestration_id)

    def put(self, orchestration_id: str, parts: Parts, rev: int, *, leased: bool = False) -> None:
        """Remember what was written of `orchestration_id` at `rev`; `leased`: while this process holds its lease."""
        if parts.terminal:
            self.forget(orchestration_id)
            return
        written: Written = (rev, parts.columns, parts.steps, parts.head_key, parts.head_rest)
        if leased:
            self._entries.pop(orchestration_id, None)
            leased_entries = self._leased
            leased_entries.pop(orchestration_id, None)  # (to the end: the most recently written)
            leased_entries[orchestration_id] = written
            if len(leased_entries) > self._leased_size:
                del leased_entries[next(iter(leased_entries))]
            return
        self._leased.pop(orchestration_id, None)
        self._remember(orchestration_id, written)

    def held(self, orchestration_id: str) -> bool:
        """Whether `orchestration_id` is remembered as written under a lease this process still holds."""
        return orchestration_id in self._leased

    def unpin(self, orchestration_id: str) -> None:
        """The lease of `orchestration_id` is released or lost: keep its entry only in the bounded cache."""
        written = self._leased.pop(orchestration_id, None)
        if written is not None:
            self._remember(orchestration_id, written)

    def forget(self, orchestration_id: str) -> None:
        self._entries.pop(orchestration_id, None)
        self._leased.pop(orchestration_id, None)

    def _remember(self, orchestration_id: str, written: Written) -> None:
        entries = self._entries
        entries[orchestration_id] = written
        entries.move_to_end(orchestration_id)
        if len(entries) > self._size:
            entries.popitem(last=False)


_INSERT = (
    "INSERT INTO orchestrations (id, session_id, thread_id, user_id, status, domain, final_score, total_pico,"
    " iterations, overage_pico, doc, created_at, updated_at, state, rev, lease_owner, lease_expires)"
    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {TEXT}, ?, ?, {TEXT}, 0, ?, ?)"
)
_UPSERT_STEP = (
    f"INSERT INTO steps (orchestration_id, idx, doc) VALUES (?, ?, {TEXT})"
    " ON CONFLICT (orchestration_id, idx) DO UPDATE SET doc = excluded.doc"
)


def insert_orchestration(
    db: Executor, p: Parts, lease_owner: str | None = None, lease_expires: float | None = None
) -> None:
    """Insert a new orchestration and its steps (revision 0); `sqlite3.IntegrityError` if its id is taken."""
    row = (p.id, p.session_id, p.thread_id, p.user_id, *p.columns, p.created_at, p.updated_at, p.state)
    db.execute(_INSERT, (*row, lease_owner, lease_expires))
    if p.steps:
        db.executemany(_UPSERT_STEP, [(p.id, i, step) for i, step in enumerate(p.steps)])


def write_orchestration(
    db: Executor, p: Parts, before: Written | None, owner: str | None, release_lease: bool, held: bool = False
) -> int:
    """Save `p` over the stored orchestration (inserting it when absent and no `owner` is given), writing only
    what changed since `before` when the row is still at its revision; returns the row's new revision.

    With `owner`, it applies only while `owner` holds the lease, else raises `Conflict` having written nothing
    (the caller's transaction or savepoint is rolled back). `release_lease` gives the lease up with it.

    `held`: `owner` has held the lease since this process wrote `before`, as far as it knows. Then a row at another
    revision was written by another process meanwhile, so the lease lapsed and was taken over in between (this
    process paused past its `ttl_s`: a stopped container, a suspended laptop), however it holds it now (its lease
    renewal took it back once the other had released it, or let it expire): writing `p` would put the state this
    process had over the other's steps, a run completed twice and its spending no longer its `total_cost`
    (`Conflict`)."""
    lease = ", lease_owner = NULL, lease_expires = NULL" if release_lease else ""
    fence = " AND lease_owner = ?" if owner is not None else ""
    fenced: tuple[Any, ...] = (owner,) if owner is not None else ()
    if before is not None:
        rev, columns, steps, _, _ = before
        changed = [i for i, (new, old) in enumerate(zip(p.columns, columns, strict=True)) if new != old]
        sets = "".join(_SETS[i] for i in changed)
        updated = db.execute(
            f"UPDATE orchestrations SET rev = rev + 1, state = {TEXT}, updated_at = ?{sets}{lease}"
            f" WHERE id = ? AND rev = ?{fence}",
            (p.state, p.updated_at, *(p.columns[i] for i in changed), p.id, rev, *fenced),
        ).rowcount
        if updated:
            _write_steps(db, p, steps)
            return rev + 1
    # nothing remembered, or the row moved on (another process, a commit that failed): write it all
    row = db.execute("SELECT rev, lease_owner FROM orchestrations WHERE id = ?", (p.id,)).fetchone()
    if owner is not None and (row is None or row[1] != owner):
        raise Conflict(f"orchestration {p.id} is not leased to {owner!r}: another process runs it")
    if held and before is not None and row is not None and row[0] != before[0]:
        raise Conflict(
            f"orchestration {p.id} was written by another process since {owner!r} last wrote it: its lease lapsed"
            " meanwhile and another process took the run over"
        )
    if row is None:
        insert_orchestration(db, p)
        return 0
    sets = "".join(_SETS)
    db.execute(
        f"UPDATE orchestrations SET rev = rev + 1, state = {TEXT}, updated_at = ?{sets}{lease} WHERE id = ?",
        (p.state, p.updated_at, *p.columns, p.id),
    )
    _write_steps(db, p, None)
    moved_on: int = row[0] + 1
    return moved_on


def _write_steps(db: Executor, p: Parts, before: tuple[bytes, ...] | None) -> None:
    """Upsert the steps that differ from `before` (all of them, and drop any beyond, when `before` is None)."""
    steps = p.steps
    if before is None:
        db.execute("DELETE FROM steps WHERE orchestration_id = ? AND idx >= ?", (p.id, len(steps)))
        changed = list(range(len(steps)))
    else:
        if len(steps) < len(before):
            db.execute("DELETE FROM steps WHERE orchestration_id = ? AND idx >= ?", (p.id, len(steps)))
        changed = [i for i, step in enumerate(steps) if i >= len(before) or step != before[i]]
    if len(changed) == 1:
        db.execute(_UPSERT_STEP, (p.id, changed[0], steps[changed[0]]))
    elif changed:
        db.executemany(_UPSERT_STEP, [(p.id, i, steps[i]) for i in changed])


def read_orchestrations(db: sqlite3.Connection, where: str, params: Sequence[Any], page: str = "") -> list[str]:
    """The JSON documents of the orchestrations matching `where` (ordered by `created_at, rowid`), each
    assembled from its row and steps, read in one statement (one consistent snapshot)."""
    rows = db.execute(
        "SELECT o.id, o.doc, o.state, s.doc FROM"
        f" (SELECT rowid AS r, id, created_at, doc, state FROM orchestrations {where}"
        f" ORDER BY created_at, rowid {page}) AS o"
        " LEFT JOIN steps AS s ON s.orchestration_id = o.id ORDER BY o.created_at, o.r, s.idx",
        params,
    ).fetchall()
    docs: list[str] = []
    current: str | None = None
    head = state = ""
    steps: list[str] = []
    for oid, row_head, row_state, step in rows:
        if oid != current:
            if current is not None:
                docs.append(assemble(head, state, steps))
            current, head, state, steps = oid, row_head, row_state, []
        if step is not None:
            steps.append(step)
    if current is not None:
        docs.append(assemble(head, state, steps))
    return docs
