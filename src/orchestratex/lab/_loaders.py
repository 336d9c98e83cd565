"""Load outcome tables: RouterBench CSVs, RouteLLM's benchmark files, and a user's own history."""

from __future__ import annotations

import ast
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..exceptions import UserError
from ..routing._knobs import is_whole
from ._files import cell_number, read_csv, read_jsonl
from ._progress import Progress, check_progress
from ._table import OutcomeTable

if TYPE_CHECKING:
    from ..records import Orchestration
    from ..stores import Store

__all__ = [
    "DATA_ENV",
    "ROUTELLM_STRONG",
    "ROUTELLM_WEAK",
    "ROUTERBENCH_TASKS",
    "data_dir",
    "load_history",
    "load_routellm",
    "load_routerbench",
]

DATA_ENV = "ORCHESTRATEX_DATA_DIR"
"""Environment variable naming the routing data directory (the one holding `routerbench/` and `routellm/`)."""
_EARLIER_DATA_ENV = "ORCHESTRATEX_ROUTING_DATA"
"""`DATA_ENV`'s name in earlier versions."""
ROUTERBENCH_TASKS = ("arc_challenge", "mbpp", "winograde")
"""The RouterBench files shipped in the data directory (file stems, as `<task>_<split>.csv`)."""
ROUTELLM_STRONG = "gpt-4-1106-preview"
ROUTELLM_WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"

_COST = "|total_cost"
_RESPONSE = "|model_response"


def data_dir(directory: str | Path | None = None) -> Path:
    """The routing data directory: `directory` when given, else `$ORCHESTRATEX_DATA_DIR`.

    Nothing else is assumed about where the data lives; with neither, a `FileNotFoundError`
    says how to name it. The path may not exist: check `.is_dir()` and skip what needs it.
    """
    if directory is not None:
        return Path(directory).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    earlier = os.environ.get(_EARLIER_DATA_ENV)
    if earlier:  # (set for an earlier version, it was read no more without a word about it)
        raise FileNotFoundError(
            f"no routing data directory: pass one, or set {DATA_ENV} to it ({_EARLIER_DATA_ENV}, set here to"
            f" {earlier!r}, is its name in earlier versions, which this one no longer reads: rename it {DATA_ENV})"
        )
    raise FileNotFoundError(f"no routing data directory: pass one, or set {DATA_ENV} to it")


def _open_dir(directory: Path, sub: str, *, from_env: bool = False) -> Path:
    """`directory / sub`, else a `FileNotFoundError` saying what `directory` is instead (and, when it came from
    `$ORCHESTRATEX_DATA_DIR`, that it did: the caller named no directory)."""
    path = directory / sub
    if not path.is_dir():
        if directory.is_dir():
            why = "not the routing data directory"
            inner = next((p for p in (directory, *directory.parents) if p.name in ("routerbench", "routellm")), None)
            if inner is not None and (inner.parent / sub).is_dir():  # (its routerbench/ or routellm/ folder given)
                why += f" but a folder inside it: give {str(inner.parent)!r}"
        else:
            why = "a file, not a directory" if directory.exists() else "no such directory"
        where = repr(str(directory))
        if from_env:
            value = os.environ.get(DATA_ENV, "")
            where += f" (${DATA_ENV}" + (", whose value has white space around it" if value != value.strip() else "")
            where += ")"
        raise FileNotFoundError(f"no {sub!r} directory in {where}: {why} (the one holding routerbench/ and routellm/)")
    return path


def _prompt_text(cell: str) -> str:
    """RouterBench stores a prompt as a Python list literal of strings: join its parts."""
    if cell.startswith("["):
        try:
            parts = ast.literal_eval(cell)
        except (ValueError, SyntaxError):
            return cell
        if isinstance(parts, list):
            return "\n".join(str(p) for p in parts)
    return cell


def load_routerbench(
    directory: str | Path | None, split: Literal["train", "test"], *, tasks: Iterable[str] = ROUTERBENCH_TASKS
) -> OutcomeTable:
    """RouterBench outcomes of `split` for `tasks`, concatenated: 1/0 correctness and dollar cost per model.

    `directory` is the routing data directory, None for `$ORCHESTRATEX_DATA_DIR` (see `data_dir`).
    Rows with an empty quality or cost cell are skipped, as the data's README says.
    """
    if split not in ("train", "test"):
        raise UserError(f"split must be 'train' or 'test', got {split!r}")
    if isinstance(tasks, str) or not isinstance(tasks, Iterable):
        raise UserError(
            f"tasks is a list of task names, e.g. tasks=['mbpp'] (of {list(ROUTERBENCH_TASKS)}); got {tasks!r}"
        )
    tasks = list(tasks)  # (a generator is read once; a set, a dict's keys are taken as any list)
    if not all(isinstance(t, str) for t in tasks):
        raise UserError(
            f"tasks is a list of task names, e.g. tasks=['mbpp'] (of {list(ROUTERBENCH_TASKS)}); got {tasks!r}"
        )
    if not tasks:
        raise UserError(f"name at least one task, e.g. tasks=['mbpp'] (of {list(ROUTERBENCH_TASKS)})")
    twice = next((t for i, t in enumerate(tasks) if t in tasks[:i]), None)
    if twice is not None:  # (its rows would be loaded twice, each under a new id)
        raise UserError(f"tasks names {twice!r} twice ({list(tasks)}): name each task once")
    folder = _open_dir(data_dir(directory), "routerbench", from_env=directory is None)
    tables = []
    for task in tasks:
        path = folder / f"{task}_{split}.csv"
        if not path.is_file():
            known = sorted({p.stem.rsplit("_", 1)[0] for p in folder.glob("*.csv")})
            raise FileNotFoundError(f"no RouterBench file {path.name!r} in {str(folder)!r}; tasks there: {known}")
        rows = read_csv(path, required=("prompt",))
        tables.append(routerbench_table(rows, name=f"routerbench/{task}_{split}", task=task, source=path))
    return OutcomeTable.concat(tables, name=f"routerbench/{split}")


def routerbench_table(
    rows: Sequence[dict[str, str]], *, name: str, task: str | None = None, source: Path | None = None
) -> OutcomeTable:
    """An outcome table from rows of a RouterBench CSV (as `csv.DictReader` gives them); `source`, the file
    they came from, is named in errors."""
    where = repr(str(source)) if source is not None else name
    if not rows:
        raise UserError(f"{where}: no rows")
    models = tuple(c[: -len(_COST)] for c in rows[0] if c is not None and c.endswith(_COST))
    if not models:
        raise UserError(f"{where}: no '<model>|total_cost' columns: is this a RouterBench CSV?")
    lacking = [m for m in models if m not in rows[0]]
    if lacking:
        raise UserError(f"{where}: model {lacking[0]!r} has a cost column but no quality column {lacking[0]!r}")
    answered = [c[: -len(_RESPONSE)] for c in rows[0] if c is not None and c.endswith(_RESPONSE)]
    unpriced = [m for m in answered if m not in models and m in rows[0]]
    if unpriced:  # (it would be left out of the table without a word)
        raise UserError(
            f"{where}: model {unpriced[0]!r} has a quality and a response column but no cost column "
            f"{unpriced[0] + _COST!r}: the file is damaged (or remove the model's columns to leave it out)"
        )
    if "prompt" not in rows[0]:
        raise UserError(f"{where}: no 'prompt' column: is this a RouterBench CSV?")

    def number(row: int, column: str, text: str, minimum: float, maximum: float | None = None) -> float:
        return cell_number(source or Path(name), row, column, text, minimum=minimum, maximum=maximum)

    prompts: list[str] = []
    quality: list[list[float]] = []
    cost: list[list[float]] = []
    chars: list[list[int]] = []
    tasks: list[str] = []
    ids: list[str] = []
    rows_of: dict[str, list[int]] = {}  # sample_id -> its data rows
    for number_, row in enumerate(rows, start=1):
        cells = [row.get(m, "") for m in models] + [row.get(m + _COST, "") for m in models]
        if any(c is None or c.strip() == "" for c in cells):
            continue
        prompts.append(_prompt_text(row["prompt"]))
        quality.append([number(number_, m, row[m], 0.0, 10.0) for m in models])  # (1/0, a 0–1 or 1–10 score)
        cost.append([number(number_, m + _COST, row[m + _COST], 0.0) for m in models])
        chars.append([len(row.get(m + _RESPONSE) or "") for m in models])
        tasks.append(task or row.get("eval_name", "general"))
        ids.append(row["sample_id"] or f"row {number_}" if "sample_id" in row else str(len(ids)))
        rows_of.setdefault(ids[-1], []).append(number_)
    if not prompts:
        raise UserError(
            f"{where}: every one of its {len(rows)} data rows has an empty quality or cost cell (such rows are "
            "skipped): no row is left"
        )
    again = next(((i, r) for i, r in rows_of.items() if len(r) > 1), None)
    if again is not None:
        raise UserError(
            f"{where}: data rows {again[1][0]} and {again[1][1]} have the same sample_id {again[0]!r}: give each "
            "row its own (or leave the cell empty: the row's number is its id)"
        )
    return OutcomeTable(
        name=name,
        models=models,
        prompts=tuple(prompts),
        quality=np.asarray(quality),
        cost=np.asarray(cost),
        tasks=tuple(tasks),
        ids=tuple(ids),
        output_chars=np.asarray(chars, dtype=np.float64),
    )


def _contaminated(folder: Path) -> set[str]:
    path = folder / "contaminated_prompts.jsonl"
    if not path.is_file():
        return set()
    return {str(_field(path, line, item, "eval_prompt")).strip() for line, item in read_jsonl(path)}


def _field(path: Path, line: int, item: dict[str, object], key: str) -> object:
    if key not in item:
        raise UserError(f"{str(path)!r}: line {line} has no {key!r}")
    return item[key]


def _truth(cell: str, path: Path, row: int, column: str) -> float:
    value = cell.strip().lower()
    if value in ("true", "1", "1.0"):
        return 1.0
    if value in ("false", "0", "0.0"):
        return 0.0
    raise UserError(f"{str(path)!r}: data row {row}, column {column!r} is {cell!r}: expected True or False")


def load_routellm(
    directory: str | Path | None,
    benchmark: Literal["gsm8k", "mmlu", "mt_bench"],
    *,
    exclude_contaminated: bool = True,
) -> OutcomeTable:
    """A RouteLLM evaluation set: the strong (GPT-4) and weak (Mixtral) model's quality on each prompt.

    Columns are `(ROUTELLM_STRONG, ROUTELLM_WEAK)`; cost is 1 for a strong call and 0 for a weak
    one, so a router's mean cost is its share of strong-model calls. GSM8K and MMLU quality is
    1/0 correctness (MMLU's task is the subject); MT-Bench quality is the GPT-4 judge's score
    (1–10) averaged over a question's two turns, the prompt is the first turn and the task the
    category. Prompts listed in `contaminated_prompts.jsonl` are dropped unless told otherwise.
    `directory` is the routing data directory, None for `$ORCHESTRATEX_DATA_DIR` (see `data_dir`).
    """
    if benchmark not in ("gsm8k", "mmlu", "mt_bench"):
        raise UserError(f"benchmark must be 'gsm8k', 'mmlu' or 'mt_bench', got {benchmark!r}")
    if not isinstance(exclude_contaminated, bool):  # (None kept the contaminated prompts in, "no" left them out)
        raise UserError(
            f"exclude_contaminated is True (the default: drop the prompts routers were trained on) or False, "
            f"not {exclude_contaminated!r}"
        )
    folder = _open_dir(data_dir(directory), f"routellm/{benchmark}", from_env=directory is None)
    skip = _contaminated(folder) if exclude_contaminated else set()
    if benchmark == "mt_bench":
        return _mt_bench(folder, skip)
    files = sorted(folder.glob("mmlu_*.csv")) if benchmark == "mmlu" else [folder / "gsm8k_responses.csv"]
    if not files:  # (an empty table would only fail later, as if a filter had left no row)
        raise FileNotFoundError(f"no RouteLLM MMLU file (mmlu_<subject>.csv) in {str(folder)!r}")
    _need(files[0])
    prompts, quality, tasks, ids = [], [], [], []
    for path in files:
        task = path.stem.removeprefix("mmlu_") if benchmark == "mmlu" else "gsm8k"
        rows = read_csv(path, required=("prompt", ROUTELLM_STRONG, ROUTELLM_WEAK))
        if not rows:  # (a header alone, a file cut short: an empty table, or an MMLU subject gone, without a word)
            raise UserError(f"{str(path)!r}: no rows, only a header: is the file cut short?")
        for line, row in enumerate(rows):
            if row["prompt"].strip() in skip:
                continue
            prompts.append(row["prompt"])
            quality.append([_truth(row[m], path, line + 1, m) for m in (ROUTELLM_STRONG, ROUTELLM_WEAK)])
            tasks.append(task)
            ids.append(f"{benchmark}/{task}/{line}" if benchmark == "mmlu" else f"{benchmark}/{line}")
    return _two_model_table(f"routellm/{benchmark}", prompts, quality, tasks, ids)


def _two_model_table(
    name: str, prompts: list[str], quality: list[list[float]], tasks: list[str], ids: list[str]
) -> OutcomeTable:
    """The row ids name the benchmark (`gsm8k/<row of the file>`, `mt_bench/<question id>`), so tables of
    different benchmarks concatenate without a clash."""
    n = len(prompts)
    cost = np.tile(np.array([1.0, 0.0]), (n, 1))
    return OutcomeTable(
        name=name,
        models=(ROUTELLM_STRONG, ROUTELLM_WEAK),
        prompts=tuple(prompts),
        quality=np.asarray(quality, dtype=np.float64).reshape(n, 2),
        cost=cost,
        tasks=tuple(tasks),
        ids=tuple(ids),
    )


def _need(path: Path) -> None:
    """A `FileNotFoundError` naming the data file and its folder when `path` is not there."""
    if not path.is_file():
        raise FileNotFoundError(f"no RouteLLM file {path.name!r} in {str(path.parent)!r}")


def _mt_bench(folder: Path, skip: set[str]) -> OutcomeTable:
    path = folder / "question.jsonl"
    _need(path)
    _need(folder / "judgements.jsonl")
    questions = []
    lines: dict[int, int] = {}  # question_id -> its line
    for line, q in read_jsonl(path):
        turns = _field(path, line, q, "turns")
        if not isinstance(turns, list) or not turns or not isinstance(turns[0], str):
            raise UserError(f"{str(path)!r}: line {line}: 'turns' is not a list of strings")
        category = q.get("category")
        if category is not None and not isinstance(category, str):
            raise UserError(f"{str(path)!r}: line {line}: 'category' is {category!r}, not a string")
        qid = _int(path, line, _field(path, line, q, "question_id"))
        if qid in lines:
            raise UserError(f"{str(path)!r}: lines {lines[qid]} and {line} have the same question_id {qid}")
        lines[qid] = line
        questions.append({**q, "question_id": qid, "category": category or "general"})
    if not questions:
        raise UserError(f"{str(path)!r}: no questions: is the file cut short?")
    path = folder / "judgements.jsonl"
    scores, judged_turns = _judgements(path)
    _check_questions(path, folder / "question.jsonl", lines, scores)
    prompts, quality, tasks, ids = [], [], [], []
    for q in questions:
        if q["turns"][0].strip() in skip:
            continue
        row = []
        for model in (ROUTELLM_STRONG, ROUTELLM_WEAK):
            got = scores.get((int(q["question_id"]), model))
            if not got:
                raise UserError(f"MT-Bench question {q['question_id']} has no judgement of {model}")
            _check_turns(path, q, model, judged_turns.get((int(q["question_id"]), model)))
            row.append(sum(got) / len(got))
        prompts.append(q["turns"][0])
        quality.append(row)
        tasks.append(q["category"])
        ids.append(f"mt_bench/{q['question_id']}")
    return _two_model_table("routellm/mt_bench", prompts, quality, tasks, ids)


def _check_questions(
    path: Path, questions: Path, lines: dict[int, int], scores: dict[tuple[int, str], list[float]]
) -> None:
    """Refuse judgements of the two models on a question `questions` lacks: its file was cut at a line's end (a copy
    stopped short), and the questions left loaded as the whole benchmark, without a word."""
    missing = sorted({qid for qid, model in scores if qid not in lines and model in (ROUTELLM_STRONG, ROUTELLM_WEAK)})
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (", …" if len(missing) > 5 else "")
        raise UserError(
            f"{str(path)!r} judges {len(missing)} question{'s' if len(missing) > 1 else ''} ({shown}) that "
            f"{str(questions)!r} does not have ({len(lines)} questions): is the question file cut short?"
        )


def _judgements(path: Path) -> tuple[dict[tuple[int, str], list[float]], dict[tuple[int, str], dict[int, int]]]:
    """The scores of each (question, model) in MT-Bench's `judgements.jsonl`, and the turns judged (turn -> line)
    where the judgements give their `turn`: a turn judged twice is a `UserError` naming both lines (counted twice,
    it weighed double in the question's mean)."""
    scores: dict[tuple[int, str], list[float]] = {}
    turns: dict[tuple[int, str], dict[int, int]] = {}
    for line, j in read_jsonl(path):
        key = (_int(path, line, _field(path, line, j, "question_id")), str(_field(path, line, j, "model")))
        score = _field(path, line, j, "score")
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise UserError(f"{str(path)!r}: line {line}: 'score' is {score!r}, not a finite number")
        if not 1 <= score <= 10:
            raise UserError(f"{str(path)!r}: line {line}: 'score' is {score!r}; a judge's score is between 1 and 10")
        if j.get("turn") is not None:
            turn, seen = _turn(path, line, j["turn"]), turns.setdefault(key, {})
            if turn in seen:
                raise UserError(
                    f"{str(path)!r}: lines {seen[turn]} and {line} both judge turn {turn} of question {key[0]} "
                    f"answered by {key[1]}: keep one judgement of each turn"
                )
            seen[turn] = line
        scores.setdefault(key, []).append(float(score))
    return scores, turns


def _check_turns(path: Path, question: dict[str, Any], model: str, judged: dict[int, int] | None) -> None:
    """Every turn of `question` judged for `model`, when its judgements give their turns: a file cut at a line's end
    otherwise left the mean of the turns left, without a word."""
    count = len(question["turns"])
    missing = [t for t in range(1, count + 1) if judged is not None and t not in judged]
    if missing:
        raise UserError(
            f"{str(path)!r}: question {question['question_id']} has {count} turns, and no judgement of "
            f"turn {', '.join(map(str, missing))} answered by {model}: is the file cut short?"
        )


def _turn(path: Path, line: int, value: object) -> int:
    """A judgement's turn: a whole number from 1."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise UserError(f"{str(path)!r}: line {line}: 'turn' is {value!r}, not a turn's number (1, 2, ...)")


def _int(path: Path, line: int, value: object) -> int:
    """A whole number (or one written as a string of digits), never a float cut short nor a boolean."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value)
    raise UserError(f"{str(path)!r}: line {line}: question_id {value!r} is not a whole number")


async def _history_at(
    url: str,
    session_id: str | None,
    thread_id: str | None,
    models: Iterable[str] | None,
    page_size: int,
    progress: bool | None,
) -> OutcomeTable:
    """`load_history` of the store at `url`, opened for the read and closed after it."""
    from ..stores import open_store

    if not url.strip():
        raise UserError("load_history(store): the store URL is empty: give a Store or a URL, e.g. 'sqlite:///runs.db'")
    _check_lasting(url)
    store = await open_store(url)
    try:
        return await load_history(
            store, session_id=session_id, thread_id=thread_id, models=models, page_size=page_size, progress=progress
        )
    finally:
        await store.close()


def _check_lasting(url: str) -> None:
    """Refuse a URL whose store cannot hold a history: a SQLite file that does not exist (a mistyped path made a new,
    empty database there, and "holds no evaluated orchestrations" hid the mistake), or one in this process's memory
    only (`memory://`, `sqlite://`: new and empty when opened from a URL)."""
    from ..stores import store_from_url
    from ..stores.memory import MemoryStore
    from ..stores.sqlite import SQLiteStore

    store = store_from_url(url)
    if isinstance(store, MemoryStore) or (isinstance(store, SQLiteStore) and store.path == ":memory:"):
        raise UserError(
            f"load_history(store): {url!r} opens a new, empty store in this process's memory: give the Store itself"
            " (orchestrator.store) or the URL of a lasting one, e.g. 'sqlite:///runs.db'"
        )
    if isinstance(store, SQLiteStore) and not os.path.exists(store.path):
        where = os.path.abspath(store.path)
        relative = "" if os.path.isabs(store.path) else f", relative to the working directory {os.getcwd()!r}"
        raise UserError(
            f"load_history(store): there is no SQLite database at {where!r} (the store URL {url!r}{relative});"
            " nothing was created: check the path (sqlite:////absolute/path.db for an absolute one)"
        )


def _check_store(store: object) -> None:
    """Refuse, saying what to give, something that is not a `Store` (an `Orchestrator`, a path)."""
    from ..stores import Store

    if isinstance(store, Store):
        return
    hint = ": give orchestrator.store" if type(store).__name__ == "Orchestrator" else ""
    if isinstance(store, os.PathLike):
        hint = f": give a store URL, e.g. 'sqlite:///{os.fspath(store)}'"
    raise UserError(
        f"load_history(store): store is a Store or a store URL (e.g. 'sqlite:///runs.db'), not "
        f"{type(store).__name__}{hint}"
    )


def _check_history_arguments(models: object, page_size: object) -> None:
    if not is_whole(page_size) or page_size < 1:  # type: ignore[operator]
        raise UserError(f"page_size is a number of orchestrations per read >= 1 (e.g. 500), got {page_size!r}")
    if isinstance(models, str):
        raise UserError(f"models is a list of model names, e.g. models=[{models!r}]; got the string {models!r}")


async def load_history(
    store: Store | str,
    *,
    session_id: str | None = None,
    thread_id: str | None = None,
    models: Iterable[str] | None = None,
    page_size: int = 500,
    progress: bool | None = None,
) -> OutcomeTable:
    """A user's own orchestrations as an outcome table: the judges' score (0–10) and cost of each model that answered
    the prompt as asked.

    `store` is a `Store` (opened: `orchestrator.store` inside `async with`) or a store URL
    (`"sqlite:///runs.db"`, as `Orchestrator(store=...)` takes one), opened for the read and closed after it.
    One row per orchestration (its original prompt and domain); a model's cell holds its first
    evaluated answer to that prompt as asked. A refinement (an answer to the prompt with an earlier answer and the
    judges' feedback on it) is not the model's outcome on the prompt and is left out. Models never tried on a
    prompt are unobserved (NaN):
    fit a router on the table, or replay on `table.complete()` (the rows every model answered as asked: few,
    as a run asks one model first). `models` (a list of the store's model names)
    chooses the columns and their order; `page_size` is the number of orchestrations read per store call.
    `progress`: the count of orchestrations read so far on stderr, as the lab's other long operations show theirs
    (None: on a terminal or in Jupyter once the read has run a second; True: always; False: never).
    """
    _check_history_arguments(models, page_size)
    check_progress(progress)
    if isinstance(store, str):
        return await _history_at(store, session_id, thread_id, models, int(page_size), progress)
    _check_store(store)
    page_size = int(page_size)  # (numpy's integers too; the stores take an int)
    found: list[tuple[str, str, dict[str, tuple[float, float, float]]]] = []
    ids: list[str] = []
    offset = 0
    # (a long history — about 3,500 orchestrations a second from SQLite here — was read without a word)
    with Progress("load_history", None, show=progress, unit="orchestrations") as bar:
        while True:
            page = await store.list_orchestrations(
                session_id=session_id, thread_id=thread_id, limit=page_size, offset=offset
            )
            for orch in page:
                cells = _answers_to_the_prompt(orch)
                if cells:
                    found.append((orch.prompt, orch.domain or "general", cells))
                    ids.append(orch.id)
            bar.advance(len(page))
            if len(page) < page_size:
                break
            offset += page_size
    if not found:
        raise UserError("the store holds no evaluated orchestrations for this selection")
    return _history_table(found, ids, models)


def _answers_to_the_prompt(orch: Orchestration) -> dict[str, tuple[float, float, float]]:
    """Each model's (score, cost, length of the answer in characters) of its first evaluated answer to the
    orchestration's prompt as asked.

    A refinement answered another prompt (the question with an earlier answer and the judges' feedback on it):
    its score is not the model's outcome on the question, and counted as one it flattered the models that rescue
    others' answers. An attempt is on the question as asked when its prompt is the first attempt's.
    """
    iterations = sorted(orch.iterations, key=lambda i: i.index)
    cells: dict[str, tuple[float, float, float]] = {}
    if not iterations:
        return cells
    asked = iterations[0].prompt
    for it in iterations:
        if it.evaluation is not None and it.prompt == asked and it.model_name not in cells:
            cells[it.model_name] = (float(it.evaluation.score), float(it.cost), float(len(it.response or "")))
    return cells


def _history_table(
    found: list[tuple[str, str, dict[str, tuple[float, float, float]]]], ids: list[str], models: Iterable[str] | None
) -> OutcomeTable:
    """`load_history`'s table of the orchestrations `found` (prompt, domain, model -> (score, cost, answer's
    characters)), with the columns `models` (by default every model evaluated, in order of first answer). The
    answers' lengths are kept (before, dropped: `replay_loop` answered 400 characters for each, and `profiles_for`
    priced tokens without them)."""
    seen = tuple(dict.fromkeys(m for _, _, c in found for m in c))
    names = tuple(models) if models is not None else seen
    never = [m for m in names if m not in seen]
    if never:  # (an alias such as "gpt4", or a bare id: a column of nothing, which only failed later)
        raise UserError(
            f"load_history(models=...): no evaluated answer of {never} to a prompt as asked in this selection "
            f"(refinements are left out); the store names its models in full, as runs record them: {list(seen)}"
        )
    quality = np.full((len(found), len(names)), np.nan)
    cost = np.full((len(found), len(names)), np.nan)
    chars = np.full((len(found), len(names)), np.nan)
    for r, (_, _, cells) in enumerate(found):
        for c, model in enumerate(names):
            if model in cells:
                quality[r, c], cost[r, c], chars[r, c] = cells[model]
    return OutcomeTable(
        name="history",
        models=names,
        prompts=tuple(p for p, _, _ in found),
        quality=quality,
        cost=cost,
        tasks=tuple(d for _, d, _ in found),
        ids=tuple(ids),
        output_chars=chars,
    )
