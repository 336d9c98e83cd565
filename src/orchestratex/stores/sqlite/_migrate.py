"""Migrations of an older database to `SCHEMA_VERSION`, run by `create_schema` in its transaction.

Version 1 stored each orchestration whole in `orchestrations.doc`, and found overages with
`json_extract(doc, '$.overage_cost')`. Version 2 splits it into head, state and steps (see
`_orchestrations`), keeps the overage in `overage_pico`, and adds `sessions.granted`.

The first release of version 1 had no `call_stats` (the running sums analytics read): `sum_calls` fills it from
the calls recorded before it.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import time

from pydantic import ValidationError

from ...exceptions import StoreError
from ...records import Orchestration
from ...telemetry._logs import PROGRESS
from .._unreadable import stored_orchestration
from ..checks import to_pico
from ._orchestrations import HEAD_FIELDS, TEXT, split

__all__ = ["convert", "prepare", "sum_calls"]

_BATCH = 500
"""Orchestrations converted per query (a bound on the memory a migration needs)."""

PROGRESS_EVERY = 10_000
"""A migration logs how far it is every this many orchestrations (about every 3 s): one of a large database takes
minutes, during which every process opening the file waits."""

logger = logging.getLogger("orchestratex.stores.sqlite")


def prepare(conn: sqlite3.Connection, version: int | None) -> None:
    """The changes the current tables' definitions need before they are created or checked."""
    if version == 1:
        for statement in (
            "ALTER TABLE sessions ADD COLUMN granted INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE orchestrations ADD COLUMN state TEXT NOT NULL DEFAULT '{}'",
            "ALTER TABLE orchestrations ADD COLUMN rev INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE orchestrations ADD COLUMN overage_pico INTEGER NOT NULL DEFAULT 0",
            "DROP INDEX IF EXISTS ix_orchestrations_session_overage",  # (on json_extract(doc, ...))
            "DROP INDEX IF EXISTS ix_orchestrations_user_overage",
            "DROP INDEX IF EXISTS ix_orchestrations_resumable",  # (ix_orchestrations_user_active serves)
        ):
            conn.execute(statement)


def convert(conn: sqlite3.Connection, version: int | None) -> None:
    """The data's conversion, once every table and index exists."""
    if version == 1:
        _split_orchestrations(conn)


_SUM_CALLS = """
    INSERT INTO call_stats SELECT
        '{scope}', {scope_id}, model_name, {domain}, 1, role = 'generate', role = 'judge', failed,
        cost_pico, input_tokens, output_tokens,
        CASE WHEN role = 'generate' AND score IS NOT NULL THEN score ELSE 0.0 END,
        role = 'generate' AND score IS NOT NULL
    FROM calls WHERE true ORDER BY id
    ON CONFLICT (scope, scope_id, model_name, domain) DO UPDATE SET
        calls = calls + 1, generations = generations + excluded.generations,
        judgements = judgements + excluded.judgements, errors = errors + excluded.errors,
        cost_pico = cost_pico + excluded.cost_pico, input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens, score_sum = score_sum + excluded.score_sum,
        scored = scored + excluded.scored"""
"""The trigger `calls_summarise`'s sums, of every call in the order they were recorded (so its float sums are
the ones the trigger would have made)."""


def sum_calls(conn: sqlite3.Connection) -> None:
    """Fill `call_stats`, just made for a database that had calls before it (written by the first release of
    version 1), with the sums of those calls: analytics read them there, and showed no model, no token and no
    latency for every call made before the upgrade."""
    for scope, scope_id, domain in (
        ("user", "user_id", "''"),
        ("session", "session_id", "''"),
        ("model", "''", "domain"),
    ):
        conn.execute(_SUM_CALLS.format(scope=scope, scope_id=scope_id, domain=domain))


def _split_orchestrations(conn: sqlite3.Connection) -> None:
    """Each whole document of version 1 becomes its head, state and steps."""
    (total,) = conn.execute("SELECT COUNT(*) FROM orchestrations").fetchone()
    began, done, last = time.monotonic(), 0, 0
    while True:
        rows = conn.execute(
            "SELECT rowid, id, doc FROM orchestrations WHERE rowid > ? ORDER BY rowid LIMIT ?", (last, _BATCH)
        ).fetchall()
        if not rows:
            if total >= PROGRESS_EVERY:
                logger.warning(
                    "SQLite database %s: %s orchestrations migrated to version 2 in %.0f s",
                    _main_file(conn),
                    f"{done:,}",
                    time.monotonic() - began,
                    extra=PROGRESS,
                )
            return
        for rowid, oid, doc in rows:
            head, state, overage_pico, steps = _parts(conn, rowid, oid, doc)
            conn.execute(
                f"UPDATE orchestrations SET doc = {TEXT}, state = {TEXT}, overage_pico = ?, rev = 0 WHERE rowid = ?",
                (head, state, overage_pico, rowid),
            )
            conn.executemany(
                f"INSERT INTO steps (orchestration_id, idx, doc) VALUES (?, ?, {TEXT})",
                [(oid, i, step) for i, step in enumerate(steps)],
            )
        last = rows[-1][0]
        before, done = done, done + len(rows)
        if done < total and done // PROGRESS_EVERY > before // PROGRESS_EVERY:
            logger.warning(
                "SQLite database %s: migrating to version 2, %s of %s orchestrations done (%.0f s)",
                _main_file(conn),
                f"{done:,}",
                f"{total:,}",
                time.monotonic() - began,
                extra=PROGRESS,
            )


def _parts(
    conn: sqlite3.Connection, rowid: int, oid: str, doc: str
) -> tuple[str | bytes, str | bytes, int, tuple[str | bytes, ...]]:
    """The head, state, overage (pico-dollars) and steps of the document of version 1 of orchestration `oid` (JSON, in
    UTF-8 or as text: see `_orchestrations.TEXT`).

    A document this version cannot read (an iteration's `latency_ms` written as `null` by a provider's NaN, before
    such latencies were refused) is split as it is stored, field by field, and logged: reading that run fails as it
    did before, but the database opens (its migration refused to, and so every command and the server failed).
    Only a document that is not a JSON object stops the migration (nothing is migrated: the transaction is rolled
    back)."""
    try:
        try:
            orchestration = Orchestration.model_validate_json(doc)
        except ValidationError as exc:  # (a cost limit above MAX_AMOUNT an earlier version took: kept)
            orchestration = stored_orchestration(doc, exc)
        parts = split(orchestration)
    except ValidationError as exc:
        raw = _json_object(doc)
        if raw is None:
            raise StoreError(f"cannot migrate the orchestration at rowid {rowid} to schema version 2: {exc}") from exc
        logger.warning(
            "SQLite database %s: the orchestration %s (rowid %s) is not a document this version can read; it is"
            " migrated as it is stored, and reading it fails as before: %s",
            _main_file(conn),
            oid,
            rowid,
            " ".join(str(exc).split()),
        )
        head = {k: v for k, v in raw.items() if k in HEAD_FIELDS or k == "_id"}
        state = {k: v for k, v in raw.items() if k not in head and k != "iterations"}
        iterations = raw.get("iterations")
        steps = tuple(json.dumps(it) for it in iterations) if isinstance(iterations, list) else ()
        overage, pico = raw.get("overage_cost"), 0
        if isinstance(overage, int | float) and not isinstance(overage, bool):
            pico = to_pico(overage) if math.isfinite(overage) and overage > 0 else 0
        return json.dumps(head), json.dumps(state), pico, steps
    return parts.head, parts.state, parts.overage_pico, parts.steps


def _json_object(doc: str) -> dict[str, object] | None:
    try:
        raw = json.loads(doc)
    except ValueError:
        return None
    return raw if isinstance(raw, dict) else None


def _main_file(conn: sqlite3.Connection) -> str:
    return next((str(file) for (_, name, file) in conn.execute("PRAGMA database_list") if name == "main"), "?")
