"""`OutcomeTable`: what each model scored and cost on each prompt, the raw material of the lab."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ..exceptions import UserError
from ..routing._knobs import is_whole

__all__ = ["FloatArray", "IntArray", "OutcomeTable", "check_arguments"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class OutcomeTable:
    """Per-prompt outcomes of several models: one row a prompt, one column a model.

    `quality` is on the data's own scale, between 0 and 10 (1/0 for correct/wrong, a 0–1 score,
    or a 1–10 judge score; a value outside 0–10 is refused);
    `cost` is US dollars per call (or a relative cost where the data has no prices, as for
    RouteLLM's two-model sets: 1 for the strong model, 0 for the weak one). A cell that was
    never observed (a user's own history only shows the models it routed to) is NaN in both;
    a fitted router learns from the observed cells, a replay needs `complete()` rows.
    """

    name: str
    """What the table holds (e.g. `routerbench/test`)."""
    models: tuple[str, ...]
    """Model names, in column order."""
    prompts: tuple[str, ...]
    """The prompt of each row."""
    quality: FloatArray
    """(rows, models) quality of each model's answer."""
    cost: FloatArray
    """(rows, models) what each model's call cost."""
    tasks: tuple[str, ...] = ()
    """The task (benchmark or domain) of each row, a string (anything else is refused); empty when unknown."""
    ids: tuple[str, ...] = ()
    """A stable identifier of each row, distinct (a repeated one is refused); row numbers when not given."""
    output_chars: FloatArray | None = field(default=None, repr=False)
    """(rows, models) length in characters of each model's answer, when known (for token estimates): a number
    >= 0 in every observed cell (NaN only where the outcome is unobserved)."""

    def __post_init__(self) -> None:
        self._as_tuples()
        n, m = len(self.prompts), len(self.models)
        if m == 0:
            raise UserError(f"table {self.name!r} has no models")
        if len(set(self.models)) != m:
            raise UserError(f"table {self.name!r} names a model twice: {list(self.models)}")
        odd = next((i for i, x in enumerate(self.models) if not isinstance(x, str) or not x.strip()), None)
        if odd is not None:
            raise UserError(
                f"table {self.name!r}: the model name {self.models[odd]!r} is not a name: give each model a string"
            )
        bad = next((i for i, p in enumerate(self.prompts) if not isinstance(p, str)), None)
        if bad is not None:
            raise UserError(f"table {self.name!r}: the prompt of row {bad} is {self.prompts[bad]!r}, not a string")
        self._check_text()
        quality = np.asarray(self.quality, dtype=np.float64)
        cost = np.asarray(self.cost, dtype=np.float64)
        for label, array in (("quality", quality), ("cost", cost)):
            if array.shape != (n, m):
                raise UserError(f"table {self.name!r}: {label} has shape {array.shape}, expected {(n, m)}")
            if np.any(np.isinf(array)):
                raise UserError(f"table {self.name!r}: {label} has infinite values")
        if not np.array_equal(np.isnan(quality), np.isnan(cost)):
            raise UserError(f"table {self.name!r}: a cell is unobserved (NaN) in quality but not in cost, or back")
        if np.any(cost < 0):
            raise UserError(f"table {self.name!r}: costs must be >= 0")
        self._check_quality_range(quality, n)
        object.__setattr__(self, "quality", quality)
        object.__setattr__(self, "cost", cost)
        self._check_rows(n, m)

    def _check_text(self) -> None:
        """Refuse a prompt holding a lone surrogate (`"\\ud83d"`: JSON's escape of half an emoji, as `json.loads`
        reads it): no run takes one, and a replay failed on it with a `UnicodeEncodeError` from deep inside."""
        for i, prompt in enumerate(self.prompts):
            if prompt.isascii():  # (a flag: no scan)
                continue
            try:
                prompt.encode("utf-8")
            except UnicodeEncodeError as exc:
                row = f"row {i}" + (f" (id {self.ids[i]!r})" if len(self.ids) == len(self.prompts) else "")
                raise UserError(
                    f"table {self.name!r}: the prompt of {row} holds a lone surrogate ({prompt[exc.start]!r} at "
                    f"character {exc.start}), which is not text and no run takes: mend the data (a JSON \\u escape "
                    "of a surrogate must be one of a pair)"
                ) from None

    def _as_tuples(self) -> None:
        """`models`, `prompts`, `tasks` and `ids` as tuples, whatever sequence gave them (a list, a numpy array of
        strings: tables so built compare, concatenate and index as any other), a numpy string as a plain `str`."""
        for label in ("models", "prompts", "tasks", "ids"):
            given = getattr(self, label)
            if isinstance(given, str | bytes):  # (a string is a sequence of characters, one per row or model)
                raise UserError(
                    f"table {self.name!r}: {label} is a list (one per {_ONE[label]}), not the string {given!r}"
                )
            if not isinstance(given, tuple) or any(type(x) is not str and isinstance(x, str) for x in given):
                object.__setattr__(self, label, tuple(str(x) if isinstance(x, str) else x for x in given))

    def _ids_as_text(self) -> None:
        """Ids as strings, as the row numbers of a table built without ids are: a whole number (a pandas index,
        `np.arange`) as its digits; anything else that is not a string is a `UserError`. Before, numbers were kept:
        a `LoopOutcome` holding one could not be written as JSON, and `concat` kept both the id 100 and the id "100"."""
        odd = next((i for i, x in enumerate(self.ids) if not isinstance(x, str) and not is_whole(x)), None)
        if odd is not None:
            raise UserError(
                f"table {self.name!r}: the id of row {odd} is {self.ids[odd]!r}: an id is a string (or a whole number)"
            )
        if any(not isinstance(x, str) for x in self.ids):
            object.__setattr__(self, "ids", tuple(x if isinstance(x, str) else str(int(x)) for x in self.ids))

    def _check_quality_range(self, quality: FloatArray, n: int) -> None:
        """Refuse a quality outside 0–10, naming the model and the first row that has one."""
        bad = np.argwhere((quality < 0) | (quality > 10))  # NaN (unobserved) compares false: allowed
        if bad.size == 0:
            return
        row, col = (int(i) for i in bad[0])
        where = f"row {row}" + (f" (id {self.ids[row]!r})" if len(self.ids) == n else "")
        raise UserError(
            f"table {self.name!r}: model {self.models[col]!r} has quality {quality[row, col]:g} on {where}; quality "
            "is between 0 and 10 (1/0 for correct/wrong, a 0–1 score or a 1–10 judge score): rescale it"
        )

    def _check_rows(self, n: int, m: int) -> None:
        if self.tasks and len(self.tasks) != n:
            raise UserError(f"table {self.name!r}: {len(self.tasks)} tasks for {n} rows")
        odd = next((i for i, t in enumerate(self.tasks) if not isinstance(t, str)), None)
        if odd is not None:  # (a router fitted on it would save a file it cannot load)
            raise UserError(f"table {self.name!r}: the task of row {odd} is {self.tasks[odd]!r}: a task is a string")
        if not self.ids:
            object.__setattr__(self, "ids", tuple(str(i) for i in range(n)))
        else:
            self._ids_as_text()
        if len(self.ids) != n:
            raise UserError(f"table {self.name!r}: {len(self.ids)} ids for {n} rows")
        elif len(set(self.ids)) != n:
            twice = [i for i, count in Counter(self.ids).items() if count > 1]
            raise UserError(
                f"table {self.name!r}: ids must be distinct, {twice[:5]}{' …' if len(twice) > 5 else ''} repeat "
                f"({len(twice)} in all): give each row its own id, or leave ids out (row numbers)"
            )
        if self.output_chars is not None:
            chars = np.asarray(self.output_chars, dtype=np.float64)
            if chars.shape != (n, m):
                raise UserError(f"table {self.name!r}: output_chars has shape {chars.shape}, expected {(n, m)}")
            # (an observed answer's length feeds price fits and replays, which failed inside numpy on a NaN)
            bad = np.argwhere(~np.isnan(self.quality) & ~(np.isfinite(chars) & (chars >= 0)))
            if bad.size:
                row, col = (int(i) for i in bad[0])
                raise UserError(
                    f"table {self.name!r}: output_chars of model {self.models[col]!r} on row {row} (id "
                    f"{self.ids[row]!r}) is {chars[row, col]:g}: an observed answer's length is a number of characters "
                    ">= 0 (NaN only where the outcome is unobserved); leave output_chars out if lengths are unknown"
                )
            object.__setattr__(self, "output_chars", chars)

    # -- shape --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.prompts)

    def __repr__(self) -> str:
        return f"OutcomeTable({self.name!r}, rows={len(self)}, models={len(self.models)})"

    @property
    def task_names(self) -> tuple[str, ...]:
        """The distinct tasks, in order of first appearance (`general` alone for a table built without tasks, whose
        rows replays and fits take as `general`: before, none, and `with_task("general")` found no such task)."""
        if not self.tasks:
            return ("general",) if len(self.prompts) else ()
        return tuple(dict.fromkeys(self.tasks))

    def task_of(self, row: int) -> str:
        """The task of `row` (`general` when the table has none)."""
        return self.tasks[row] if self.tasks else "general"

    def model_index(self, model: str) -> int:
        """The column of `model`; a clear error when the table does not have it."""
        try:
            return self.models.index(model)
        except ValueError:
            raise KeyError(f"table {self.name!r} has no model {model!r}; it has {list(self.models)}") from None

    @property
    def observed(self) -> NDArray[np.bool_]:
        """(rows, models) whether each cell was observed."""
        return ~np.isnan(self.quality)

    @property
    def is_complete(self) -> bool:
        """Whether every model's outcome is known on every row (what a replay needs)."""
        return bool(self.observed.all())

    def complete(self) -> OutcomeTable:
        """Only the rows where every model's outcome is known."""
        return self.subset(np.flatnonzero(self.observed.all(axis=1)), name=f"{self.name}[complete]")

    def require_complete(self) -> None:
        """Raise a clear error unless the table has rows and every cell is observed."""
        if len(self) == 0:
            raise UserError(f"table {self.name!r} has no rows: nothing to replay or measure (was it filtered empty?)")
        if not self.is_complete:
            missing = int((~self.observed).sum())
            raise UserError(
                f"table {self.name!r} has {missing} unobserved outcomes; replaying a router needs every model's "
                "outcome on every prompt: use table.complete() (or fit a router on it instead)"
            )

    # -- slicing ------------------------------------------------------------------------------
    def subset(self, rows: Sequence[int] | IntArray, *, name: str | None = None) -> OutcomeTable:
        """The table restricted to `rows` (in that order); a row taken again (a bootstrap sample) gets the id
        `<id>#2`, `<id>#3`, … so that ids stay distinct (the next free number when the table already has that id,
        as a bootstrap sample has: a bootstrap of it keeps distinct ids too)."""
        given = np.asarray(rows)
        if given.size and (given.dtype.kind not in "iu" or given.ndim != 1):  # (1.5 or True would pass as 1)
            mask = " (for a True/False mask, give np.flatnonzero(mask))" if given.dtype.kind == "b" else ""
            shown = given.tolist() if given.size <= 8 else f"{given[:8].tolist()} …"
            raise UserError(f"rows are whole row numbers of table {self.name!r}, e.g. [0, 2, 5]{mask}; got {shown}")
        idx = given.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"row index out of range for table {self.name!r} of {len(self)} rows")
        pick = idx.tolist()
        taken: dict[int, int] = {}
        ids = []
        known: set[str] | None = None  # the table's ids and those given so far, read once a row is taken again
        for i in pick:
            taken[i] = taken.get(i, 0) + 1
            if taken[i] == 1:
                ids.append(self.ids[i])
                continue
            if known is None:
                known = {*self.ids, *ids}
            # (a bootstrap of a bootstrap: its rows `x` and `x#2` both taken twice made `x#2` twice, a UserError)
            while (again := f"{self.ids[i]}#{taken[i]}") in known:
                taken[i] += 1
            known.add(again)
            ids.append(again)
        return OutcomeTable(
            name=name or self.name,
            models=self.models,
            prompts=tuple(self.prompts[i] for i in pick),
            quality=self.quality[idx],
            cost=self.cost[idx],
            tasks=tuple(self.tasks[i] for i in pick) if self.tasks else (),
            ids=tuple(ids),
            output_chars=None if self.output_chars is None else self.output_chars[idx],
        )

    def with_task(self, *tasks: str) -> OutcomeTable:
        """Only the rows of the given tasks."""
        _check_names(self, "with_task", "task", tasks, self.task_names)
        unknown = set(tasks) - set(self.task_names)
        if unknown:
            raise KeyError(f"table {self.name!r} has no task {sorted(unknown)}; it has {list(self.task_names)}")
        rows = [i for i in range(len(self)) if self.task_of(i) in tasks]
        return self.subset(rows, name=f"{self.name}[{','.join(tasks)}]")

    def with_models(self, *models: str) -> OutcomeTable:
        """Only the columns of the given models, in that order."""
        _check_names(self, "with_models", "model", models, self.models)
        cols = [self.model_index(m) for m in models]
        return OutcomeTable(
            name=self.name,
            models=tuple(models),
            prompts=self.prompts,
            quality=self.quality[:, cols],
            cost=self.cost[:, cols],
            tasks=self.tasks,
            ids=self.ids,
            output_chars=None if self.output_chars is None else self.output_chars[:, cols],
        )

    def kfold(self, k: int = 5, *, seed: int = 0) -> Iterator[tuple[IntArray, IntArray]]:
        """`k` (train rows, test rows) splits of a seeded shuffle, stratified by task when the table has tasks.

        Rows with the same prompt (RouteLLM's MMLU repeats 105) fall in the same fold, so no held-out prompt is
        also one the router was fitted on; `k` may be at most the number of distinct prompts.
        """
        first: dict[str, int] = {}  # prompt -> its first row: the rows of a prompt go together (whatever their task)
        same = np.asarray([first.setdefault(p, i) for i, p in enumerate(self.prompts)], dtype=np.int64)
        distinct = len(first)
        if not is_whole(k) or not 2 <= k <= distinct:  # (numpy's integers too: `for k in np.arange(...)`)
            most = f"the number of rows ({len(self)})" if distinct == len(self) else f"the {distinct} distinct prompts"
            raise UserError(f"k is a whole number between 2 and {most}, got {k!r}")
        if not is_whole(seed) or seed < 0:  # (numpy raised its own)
            raise UserError(f"seed is a whole number >= 0, got {seed!r}")
        k, rng = int(k), np.random.default_rng(int(seed))
        fold = np.empty(len(self), dtype=np.int64)
        groups: dict[str, list[int]] = {}
        for i in first.values():
            groups.setdefault(self.task_of(i), []).append(i)
        offset = 0
        for rows in groups.values():
            perm = rng.permutation(np.asarray(rows, dtype=np.int64))
            fold[perm] = (np.arange(len(perm)) + offset) % k
            offset += len(perm)
        fold = fold[same]  # a repeated prompt's rows take its first row's fold
        everything = np.arange(len(self), dtype=np.int64)
        for f in range(k):
            yield everything[fold != f], everything[fold == f]

    @staticmethod
    def concat(tables: Iterable[OutcomeTable], *, name: str | None = None) -> OutcomeTable:
        """Rows of several tables (a list, or any iterable such as a generator) with the same models (in any column
        order: the first table's is kept), one after the other; anything else is a `UserError`.

        Ids stay as they are when they are distinct across the tables; when two tables share an id (e.g. two
        tables numbered from 0), every id is prefixed with its table's name (`<name>/<id>`, and with the
        table's position too when names repeat), so that each row keeps a distinct id.
        """
        if isinstance(tables, OutcomeTable):
            raise UserError(
                f"concat takes a list of tables, not one table ({tables.name!r}): put them in a list, [a, b]"
            )
        if isinstance(tables, str | bytes | Mapping) or not isinstance(tables, Iterable):
            raise UserError(f"concat takes a list of OutcomeTables, e.g. OutcomeTable.concat([a, b]), not {tables!r}")
        tables = list(tables)  # (a generator of tables, as well as a list: before, "not subscriptable")
        odd = next((t for t in tables if not isinstance(t, OutcomeTable)), None)
        if odd is not None:
            raise UserError(f"concat takes a list of OutcomeTables; the list holds {type(odd).__name__} {odd!r}")
        if not tables:
            raise UserError("nothing to concatenate")
        models = tables[0].models
        for t in tables[1:]:
            if set(t.models) != set(models):
                lacks = [m for m in models if m not in t.models]
                extra = [m for m in t.models if m not in models]
                raise UserError(
                    f"tables {tables[0].name!r} and {t.name!r} have different models: "
                    + "; ".join(
                        ([f"{t.name!r} lacks {lacks}"] if lacks else []) + ([f"it also has {extra}"] if extra else [])
                    )
                    + ": give tables of the same models (table.with_models(...) keeps some of them)"
                )
        # (the same models in another column order, as a CSV file re-saved with its columns sorted: before, refused
        # as "different models")
        tables = [t if t.models == models else t.with_models(*models) for t in tables]
        _check_scales(tables)
        chars = [t.output_chars for t in tables]
        return OutcomeTable(
            name=name or "+".join(t.name for t in tables),
            models=models,
            prompts=tuple(p for t in tables for p in t.prompts),
            quality=np.concatenate([t.quality for t in tables]),
            cost=np.concatenate([t.cost for t in tables]),
            tasks=tuple(t.task_of(i) for t in tables for i in range(len(t))),
            ids=_distinct_ids(tables),
            output_chars=None if any(c is None for c in chars) else np.concatenate(chars),  # type: ignore[arg-type]
        )


_ONE = {"models": "column", "prompts": "row", "tasks": "row", "ids": "row"}


def _check_names(table: OutcomeTable, method: str, kind: str, names: tuple[object, ...], known: Sequence[str]) -> None:
    """`with_task`'s and `with_models`' names: at least one, each a string (a list passed whole is named so)."""
    example = ", ".join(repr(n) for n in known[:2])
    if not names:
        raise UserError(f"{method}() names no {kind}: give at least one, e.g. table.{method}({example})")
    given = next((n for n in names if not isinstance(n, str)), None)
    if given is not None:
        hint = f"; to pass a list, unpack it: table.{method}(*{given!r})" if isinstance(given, list | tuple) else ""
        raise UserError(f"{method}() takes {kind} names as arguments, e.g. table.{method}({example}){hint}")


def _distinct_ids(tables: Sequence[OutcomeTable]) -> tuple[str, ...]:
    """The tables' ids one after the other, prefixed by their table when they would repeat."""
    ids = tuple(i for t in tables for i in t.ids)
    if len(set(ids)) == len(ids):
        return ids
    names = [t.name for t in tables]
    unique = len(set(names)) == len(names)
    return tuple(f"{t.name}/{i}" if unique else f"{k}:{t.name}/{i}" for k, t in enumerate(tables) for i in t.ids)


def _check_scales(tables: list[OutcomeTable]) -> None:
    """Refuse tables of 0–1 quality next to tables of 1–10 scores: a table reads all its qualities on one scale (the
    largest's), so GSM8K's right answers (1) concatenated with MT-Bench's scores became scores of 1 out of 10, judged
    wrong, and `replay_loop` reported a mean of the two scales in silence."""
    tops = [(t, float(np.nanmax(t.quality))) for t in tables if bool(t.observed.any())]
    small = next((t for t, top in tops if top <= 1), None)
    large = next(((t, top) for t, top in tops if top > 1), None)
    if small is not None and large is not None:
        raise UserError(
            f"tables {small.name!r} (quality 0–1) and {large[0].name!r} (scores up to {large[1]:g}) are on different "
            f"scales, and a table reads all its qualities on one (a right answer of {small.name!r}, 1, would be a "
            f"score of 1 out of 10): rescale one first, e.g. dataclasses.replace(table, quality=table.quality / 10)"
        )


def rows_hint(table: object) -> str:
    """What to say of rows given where a table is due (as `kfold` gives them: `for train, test in table.kfold(5):
    lab.profiles_for(train)` failed on "'numpy.ndarray' object has no attribute 'prompts'"); "" of anything else."""
    if isinstance(table, np.ndarray) and np.issubdtype(table.dtype, np.integer):
        return ": these are rows of a table (as table.kfold(...) gives them); table.subset(rows) is their table"
    return ""


def check_arguments(call: str, table: object, router: object = None) -> None:
    """Refuse, naming the call's signature `call`, a table that is not an `OutcomeTable` or a router that is not a
    `Router` (arguments swapped, say), instead of failing later on a missing attribute."""
    from ..routing import Router
    from ..routing._base import check_router

    if not isinstance(table, OutcomeTable):
        raise UserError(
            f"{call}: table is an OutcomeTable (lab.load_routerbench(...), lab.OutcomeTable(...)), "
            f"not {type(table).__name__}{rows_hint(table)}"
        )
    if router is not None and not isinstance(router, Router):
        raise UserError(f"{call}: router is a Router (e.g. FittedRouter().fit(table)), not {type(router).__name__}")
    if router is not None:
        check_router(router)
