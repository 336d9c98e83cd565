"""Money and argument checks every Store implementation shares (the built-in stores and
orchestratex-mongodb use them; a third-party store should too, so all stores refuse the same
inputs with the same messages and round money the same way).

Stores keep US dollars as integer pico-dollars: sums are then exact, and `from_pico(to_pico(x))`
gives the float that `orchestratex.usage.add_costs` gives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from numbers import Real
from typing import Literal

from ..events import Event
from ..exceptions import UserError
from ..records import (
    TERMINAL_ORCHESTRATION_STATUSES,
    ApiKey,
    CallRecord,
    Document,
    Iteration,
    Orchestration,
    Session,
    SessionSettings,
    Thread,
)
from ..usage import MAX_AMOUNT, exact_pico

__all__ = [
    "COUNTER_MAX",
    "COUNTER_MIN",
    "MAX_AMOUNT",
    "check_amount",
    "check_api_key",
    "check_commit",
    "check_ids",
    "check_incr",
    "check_iterations",
    "check_name",
    "check_orchestration",
    "check_page",
    "check_session",
    "check_start",
    "check_step",
    "check_thread",
    "check_ttl",
    "counter_overflow",
    "created_order",
    "from_pico",
    "to_pico",
]

COUNTER_MIN = -(2**63)
COUNTER_MAX = 2**63 - 1
"""The range of a counter's value and of an `incr` amount: a signed 64-bit integer, as SQLite and MongoDB keep."""

_PICO = 10**12
_SHORT = 1024.0


def to_pico(amount: float | Decimal) -> int:
    """US dollars (a float, an int or a `Decimal`) as integer pico-dollars, rounded exactly as
    `orchestratex.usage.add_costs` rounds (a `Decimal` from its own exact value)."""
    if isinstance(amount, Decimal):  # (it does not mix with floats)
        exact = amount
    elif -_SHORT < amount < _SHORT:  # (NaN is not) here distinct multiples of 1e-12 are distinct floats
        scaled = amount * 1e12
        as_int = int(scaled)
        if as_int == scaled:  # the common case: the nearest whole number of pico-dollars, as the decimal's
            return as_int
        short = exact_pico(amount)  # exact for an amount with at most 12 decimals (2.9e-05)
        if short is not None:
            return short
        exact = Decimal(repr(float(amount)))  # (a numpy float's repr is np.float64(...), a Fraction's Fraction(...))
    else:
        whole = int(amount)  # (raises on NaN and infinities, as it did)
        if whole == amount:  # whole dollars: exact at any size (`amount * 1e12` is not, past $9,007)
            return whole * _PICO
        exact = Decimal(repr(float(amount)))
    return int(exact.scaleb(12).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def from_pico(pico: int) -> float:
    """Integer pico-dollars as a float of US dollars (int / int is correctly rounded)."""
    return int(pico) / _PICO


def check_amount(name: str, amount: float | Decimal) -> None:
    """Refuse an amount of US dollars that is not a number (a `bool`, a `str`, None: a `float`, an `int` or a
    `Decimal` is), or is negative, not finite or too large."""
    if type(amount) is float and 0 <= amount <= MAX_AMOUNT:  # the common case, without the ABC check of `Real`
        return
    if isinstance(amount, bool) or not isinstance(amount, Real | Decimal) or not math.isfinite(amount):
        raise UserError(f"{name} must be a number of US dollars between 0 and {MAX_AMOUNT:,.0f}, not {amount!r}")
    if not 0 <= amount <= MAX_AMOUNT:
        raise UserError(f"{name} must be a number of US dollars between 0 and {MAX_AMOUNT:,.0f}, not {amount!r}")


_MAX_TOTAL = COUNTER_MAX // _PICO
"""The largest orchestration total a store keeps: whole dollars whose pico-dollars fit in 64 bits (about $9.2M)."""


_ORCHESTRATION_TEXTS = ("thread_id", "session_id", "user_id", "prompt")
_ORCHESTRATION_OPTIONAL_TEXTS = ("domain", "context", "final_response", "final_model", "error")
_ORCHESTRATION_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
_STOP_REASONS = ("threshold", "max_iterations", "budget", "no_improvement", "cancelled", "error")


def check_orchestration(orchestration: Orchestration, iterations: Iterable[int] | None = None) -> None:
    """Refuse an orchestration a store could not keep and read back: a `total_cost` or `overage_cost` that is not
    a number, NaN, an infinity, negative or past about $9.2 million, or an iteration (those at the positions
    `iterations` gives, every one when None) holding a cost, a latency or a score that is not a finite number (the
    orchestrator computes them; code that sets them by hand can get a NaN, a missing value of an imported table), a
    status or stop reason this version does not know, or None (or a number) where text goes.
    JSON cannot hold a NaN: it was kept as `null`, and the run could then not be read, listed or counted (SQLite and
    MongoDB failed on a NaN total with a bare "cannot convert float NaN to integer")."""
    o = orchestration
    total, overage = o.total_cost, o.overage_cost
    if not (
        type(total) is float and type(overage) is float and 0 <= total <= _MAX_TOTAL and 0 <= overage <= _MAX_TOTAL
    ):  # (the common case, without the ABC check of `Real`)
        for name, value in (("total_cost", total), ("overage_cost", overage)):
            if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value <= _MAX_TOTAL:  # (NaN is not)
                raise UserError(
                    f"orchestration {o.id}: {name} must be a number of US dollars between 0 and {_MAX_TOTAL:,},"
                    f" not {value!r}; nothing was stored"
                )
    problem = _document_problem(o, _ORCHESTRATION_TEXTS, _ORCHESTRATION_OPTIONAL_TEXTS)
    if problem is None and o.status not in _ORCHESTRATION_STATUSES:
        problem = f"status must be one of {', '.join(map(repr, _ORCHESTRATION_STATUSES))}, not {o.status!r:.60}"
    if problem is None and o.stop_reason is not None and o.stop_reason not in _STOP_REASONS:
        problem = f"stop_reason must be one of {', '.join(map(repr, _STOP_REASONS))} or None, not {o.stop_reason!r:.60}"
    if problem is not None:  # (a newer version's status, a field set to None by hand: the run could not be read back)
        raise UserError(f"orchestration {o.id}: {problem}; nothing was stored")
    check_iterations(o, range(len(o.iterations)) if iterations is None else iterations)


def check_iterations(orchestration: Orchestration, iterations: Iterable[int]) -> None:
    """`check_orchestration`'s check of the iterations at the positions `iterations` gives, alone: for a store that
    has checked the rest of the document already (SQLite checks a commit's document first, its changed iterations
    once it knows which)."""
    steps = orchestration.iterations
    for i in iterations:
        if not _finite_iteration(steps[i]):
            _refuse_iteration(orchestration.id, i, steps[i])


def _finite_iteration(it: Iteration) -> bool:
    """Whether every number of `it` is finite (a NaN or an infinity makes the sum non-finite; a value that is not a
    number raises): the common case in about a microsecond, without naming the culprit."""
    try:
        total = it.cost + it.failed_cost + it.latency_ms + (it.catalog_cost or 0.0) + (it.reported_cost or 0.0)
        ev = it.evaluation
        if ev is not None:
            total += ev.score + ev.cost + (ev.raw_score or 0.0) + (ev.probability or 0.0)
            for v in ev.verdicts:
                total += v.cost + v.latency_ms + (v.score or 0.0) + (v.catalog_cost or 0.0) + (v.reported_cost or 0.0)
        return math.isfinite(total)
    except (TypeError, AttributeError):  # (AttributeError: not an `Iteration`, a dict appended by hand)
        return False


def _refuse_iteration(orchestration_id: str, index: int, it: Iteration) -> None:
    """Raise the `UserError` naming the first number of `it` that is not finite (none, if only their sum overflowed)."""
    if not isinstance(it, Iteration):
        raise UserError(
            f"orchestration {orchestration_id}: iterations[{index}] must be an Iteration, not {type(it).__name__}"
            "; nothing was stored"
        )
    numbers: list[tuple[str, object, bool]] = [
        ("cost", it.cost, False),
        ("failed_cost", it.failed_cost, False),
        ("latency_ms", it.latency_ms, False),
        ("catalog_cost", it.catalog_cost, True),
        ("reported_cost", it.reported_cost, True),
    ]
    ev = it.evaluation
    if ev is not None:
        numbers += [
            ("evaluation.score", ev.score, False),
            ("evaluation.cost", ev.cost, False),
            ("evaluation.raw_score", ev.raw_score, True),
            ("evaluation.probability", ev.probability, True),
        ]
        for j, v in enumerate(ev.verdicts):
            numbers += [
                (f"evaluation.verdicts[{j}].{name}", getattr(v, name), name != "cost" and name != "latency_ms")
                for name in ("cost", "latency_ms", "score", "catalog_cost", "reported_cost")
            ]
    for name, value, optional in numbers:
        if value is None and optional:
            continue
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise UserError(
                f"orchestration {orchestration_id}: iterations[{index}].{name} must be a finite number"
                f"{' or None' if optional else ''}, not {value!r}; nothing was stored"
            )


_SESSION_STATUSES = ("active", "paused", "completed", "cancelled")
_JUDGING = (None, "always", "when_needed", "when_possible")


def check_session(session: Session) -> None:
    """Refuse a new session a store could not keep and read back (a field set by hand after the session was made:
    None or a number where text goes, a status of a newer version, settings that are not `SessionSettings`), one
    holding reserved budget, or whose `total_cost` or `cost_limit` is not an amount (`UserError`). Such a session was
    stored, and then `get_session` raised pydantic's `ValidationError` and every `list_sessions` of its user failed."""
    if session.reserved_cost != 0:
        raise UserError("a new session cannot hold reserved budget (reserved_cost must be 0)")
    check_amount("total_cost", session.total_cost)
    problem = _document_problem(session, ("user_id",), ()) or _session_problem(session)
    if problem is not None:
        raise UserError(f"session {session.id!r}: {problem}; nothing was stored")
    if session.settings.cost_limit is not None:  # (set after validation: a NaN failed with a bare ValueError, a
        check_amount("cost_limit", session.settings.cost_limit)  # negative one made an unreadable session)


def _session_problem(session: Session) -> str | None:
    """What in `session`'s own fields could not be read back, or None."""
    settings = session.settings
    if not isinstance(settings, SessionSettings):
        return f"settings must be SessionSettings, not {settings!r:.60}"
    if session.status not in _SESSION_STATUSES:
        return f"status must be one of {', '.join(map(repr, _SESSION_STATUSES))}, not {session.status!r:.60}"
    if type(session.max_iterations) is not int or not 1 <= session.max_iterations <= 50:
        return f"max_iterations must be an int from 1 to 50, not {session.max_iterations!r:.60}"
    if not isinstance(session.session_start, datetime):
        return f"session_start must be a datetime, not {session.session_start!r:.60}"
    if session.session_end is not None and not isinstance(session.session_end, datetime):
        return f"session_end must be a datetime or None, not {session.session_end!r:.60}"
    if settings.judging not in _JUDGING:
        return (
            f"settings.judging must be 'always', 'when_needed', 'when_possible' or None, not {settings.judging!r:.60}"
        )
    for name in ("preferred_models", "judges"):
        names = getattr(settings, name)
        if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            return f"settings.{name} must be a list of model names or None, not {names!r:.60}"
    return None


def check_thread(thread: Thread) -> None:
    """Refuse a new thread a store could not keep and read back (a field set by hand after the thread was made: None
    or a number where text goes), with a `UserError`. Such a thread was stored, and then `get_thread` raised pydantic's
    `ValidationError` and every `list_threads` of its session failed."""
    problem = _document_problem(thread, ("session_id", "user_id", "original_prompt"), ("domain", "context"))
    if problem is not None:
        raise UserError(f"thread {thread.id!r}: {problem}; nothing was stored")


def check_api_key(key: ApiKey) -> None:
    """Refuse a new API key a store could not keep and read back (a field set by hand after the key was made: None
    where text goes, `admin=None`), with a `UserError`. Such a key was stored, and then every `list_api_keys`
    (`orchestratex keys list`, the server's admin routes) failed with pydantic's `ValidationError`, and so did the
    server's every request with that key."""
    problem = _document_problem(key, ("key_hash", "user_id"), ("label",))
    if problem is None and type(key.admin) is not bool:
        problem = f"admin must be True or False, not {key.admin!r:.60}"
    for name in ("revoked_at", "last_used_at"):
        value = getattr(key, name)
        if problem is None and value is not None and not isinstance(value, datetime):
            problem = f"{name} must be a datetime or None, not {value!r:.60}"
    if problem is not None:
        raise UserError(f"API key {key.id!r}: {problem}; nothing was stored")


def _document_problem(document: Document, texts: tuple[str, ...], optional_texts: tuple[str, ...]) -> str | None:
    """What in `document`'s id, times and text fields could not be read back, or None."""
    fields = document.__dict__
    for name in ("id", *texts):
        if not isinstance(fields[name], str):
            return f"{name} must be a string, not {fields[name]!r:.60}"
    for name in optional_texts:
        value = fields[name]
        if value is not None and not isinstance(value, str):
            return f"{name} must be a string or None, not {value!r:.60}"
    for name in ("created_at", "updated_at"):
        if not isinstance(fields[name], datetime):
            return f"{name} must be a datetime, not {fields[name]!r:.60}"
    return None


def check_page(limit: int, offset: int, *, offset_name: str = "offset") -> None:
    """Refuse a page size or offset (named `offset_name` in the message: `since` for events) that is negative, not an
    `int` (a `float`, a `bool`, a `str`, None) or past 2**63 - 1 (which SQLite cannot take)."""
    for value in (limit, offset):
        if isinstance(value, bool) or not isinstance(value, int) or value > COUNTER_MAX:
            raise UserError(
                f"limit and {offset_name} must be ints between 0 and 2**63 - 1"
                f" (got limit={limit!r}, {offset_name}={offset!r})"
            )
    if limit < 0 or offset < 0:
        raise UserError(f"limit and {offset_name} must be >= 0 (got limit={limit}, {offset_name}={offset})")


def check_commit(
    session_id: str, events: Sequence[Event], calls: Sequence[CallRecord], spent: float, released: float
) -> None:
    """Refuse a commit whose amounts are invalid, whose events or calls belong to another session, or whose call
    records hold what analytics cannot count (a cost, a latency or a score that is not finite, token counts past 64
    bits)."""
    if spent or released:
        check_amount("spent", spent)
        check_amount("released", released)
    for event in events:
        if event.session_id != session_id:
            raise UserError(f"event {event.type} belongs to session {event.session_id!r}, not {session_id!r}")
    for call in calls:
        if call.session_id != session_id:
            raise UserError(f"a call record of session {call.session_id!r} cannot commit to {session_id!r}")
        _check_call(call)


def _check_call(call: CallRecord) -> None:
    """Refuse a call record that analytics cannot count: a cost that is not an amount (NaN: a missing value of an
    imported table), a latency or a score that is not a finite number, token counts past 64 bits. (A NaN latency
    failed SQLite with "NOT NULL constraint failed", and a NaN cost made a MemoryStore's analytics of the user fail
    from then on.)"""
    what = f"the call record of {call.model_name!r} ({call.role})"
    if not (math.isfinite(call.cost) and abs(call.cost) <= MAX_AMOUNT):
        raise UserError(
            f"{what}: cost must be a finite number of US dollars up to {MAX_AMOUNT:,.0f}, not {call.cost!r}"
        )
    if not math.isfinite(call.latency_ms):
        raise UserError(f"{what}: latency_ms must be a finite number of milliseconds, not {call.latency_ms!r}")
    if call.score is not None and not math.isfinite(call.score):  # (SQLite kept NaN as no score, the others as NaN)
        raise UserError(f"{what}: score must be a finite number or None (no score), not {call.score!r}")
    for name, tokens in (("input_tokens", call.input_tokens), ("output_tokens", call.output_tokens)):
        if not COUNTER_MIN <= tokens <= COUNTER_MAX:
            raise UserError(f"{what}: {name} must fit in 64 bits (a signed integer), not {tokens!r}")


def check_ttl(ttl_s: float | None, kind: Literal["lease", "counter"] = "lease") -> None:
    """Refuse a `ttl_s` that is not > 0 seconds: a lease's (`claim`, `renew_leases`, `start`), or a counter's
    (`incr`), where None is allowed (a counter that never expires)."""
    if ttl_s is None and kind == "counter":
        return
    if (type(ttl_s) is float or type(ttl_s) is int) and ttl_s > 0:  # the common case, without `Real`'s ABC check
        return
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, Real) or not ttl_s > 0:  # (a str: a raw TypeError from `>`)
        raise UserError(f"a {kind} ttl_s must be > 0 seconds, not {ttl_s!r}")


def check_ids(orchestration_ids: object) -> None:
    """Refuse one id given where a list of them goes (`renew_leases`, `cancel_requests`): a string is a sequence of its
    letters, none of them an id, and every store answered an empty set without a word."""
    if isinstance(orchestration_ids, str | bytes):
        raise UserError(
            f"orchestration_ids is a list of ids, not the string {orchestration_ids!r:.40}: [{orchestration_ids!r:.40}]"
        )


def check_name(name: str, value: object) -> None:
    """Refuse a user id or a model name that is not a string (`user_analytics`, `model_stats`): None, a value read from
    a request or a config that lacked it, failed with pydantic's bare `ValidationError` about `scope_id`."""
    if not isinstance(value, str):
        raise UserError(f"{name} must be a string, not {value!r:.60}")


def check_incr(amount: int) -> None:
    """Refuse an `incr` amount that is not a whole number of the counters' range (a `bool`, a `float`, a `str`)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not COUNTER_MIN <= amount <= COUNTER_MAX:
        raise UserError(f"an incr amount must be an int between -2**63 and 2**63 - 1, not {amount!r}")


def counter_overflow(key: str, value: int, amount: int) -> UserError:
    """The error of an `incr` whose result would leave the counters' range (the counter keeps `value`)."""
    return UserError(
        f"counter {key!r} is at {value}: adding {amount} would leave the range of a counter (-2**63 to 2**63 - 1);"
        " nothing was added"
    )


def created_order(document: Document) -> tuple[datetime, str]:
    """The sort key of a listing oldest first: `created_at` (a naive one taken as UTC), then `id`."""
    created = document.created_at
    return (created if created.tzinfo is not None else created.replace(tzinfo=UTC)), document.id


def check_step(orchestration: Orchestration, reserve: float, owner: str | None, release_lease: bool) -> None:
    """Refuse `commit_step`'s extras when invalid (`ValueError`): a `reserve` that is not a valid amount, or any
    `reserve` with a final status (a final commit releases every reservation), and `release_lease` without
    the `owner` whose lease it releases. (Its commit is checked by `check_commit`.)"""
    if reserve:
        check_amount("reserve", reserve)
        if orchestration.status in TERMINAL_ORCHESTRATION_STATUSES:
            raise UserError("a final commit releases every reservation: it cannot reserve for another call")
    if release_lease and owner is None:
        raise UserError("release_lease needs the owner whose lease is released")


def check_start(
    orchestration: Orchestration, thread: Thread | None, ttl_s: float, events: Sequence[Event], reserve: float
) -> None:
    """Refuse a `Store.start` whose lease, events, reservation or new thread is invalid (`ValueError`): `ttl_s`
    not > 0, events of another session, a `reserve` that is not a valid amount or any `reserve` for an
    ended orchestration, a new `thread` that is not the orchestration's (its id and session), amounts of the
    orchestration a store cannot keep (`check_orchestration`)."""
    check_ttl(ttl_s)
    check_orchestration(orchestration)
    check_commit(orchestration.session_id, events, (), 0.0, 0.0)
    if reserve:
        check_amount("reserve", reserve)
        if orchestration.status in TERMINAL_ORCHESTRATION_STATUSES:
            raise UserError("an ended orchestration holds no reservation: it cannot reserve for a call")
    if thread is not None and (thread.id != orchestration.thread_id or thread.session_id != orchestration.session_id):
        raise UserError("the new thread must be the orchestration's, in its session")
    if thread is not None:
        check_thread(thread)
