from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from orchestratex import lab
from orchestratex.exceptions import UserError
from orchestratex.records import Evaluation, Iteration, Orchestration, Session, Thread
from orchestratex.routing.fitted import FittedRouter
from orchestratex.stores import MemoryStore

MODELS = ("m-a", "m-b")


def _write_routerbench(folder: Path, task: str, split: str, rows: list[tuple[str, list[str], list[str]]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    header = ["", "sample_id", "prompt", "eval_name", *MODELS]
    header += [f"{m}|model_response" for m in MODELS] + [f"{m}|total_cost" for m in MODELS]
    header.append("oracle_model_to_route_to")
    with (folder / f"{task}_{split}.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i, (prompt, quality, cost) in enumerate(rows):
            writer.writerow([i, f"{task}.{i}", repr([prompt]), task, *quality, "['yes']", "['no!']", *cost, "m-a"])


def test_routerbench_csv(tmp_path: Path) -> None:
    folder = tmp_path / "routerbench"
    _write_routerbench(
        folder,
        "arc",
        "train",
        [("Q1\n\nWhat?", ["1.0", "0.0"], ["0.01", "0.001"]), ("Q2", ["", "1.0"], ["0.01", "0.001"])],
    )
    _write_routerbench(folder, "mbpp", "train", [("Write code", ["0.0", "1.0"], ["0.02", "0.002"])])
    table = lab.load_routerbench(tmp_path, "train", tasks=("arc", "mbpp"))
    assert table.models == MODELS
    assert table.prompts == ("Q1\n\nWhat?", "Write code")  # the row with an empty cell is skipped
    assert table.tasks == ("arc", "mbpp")
    np.testing.assert_allclose(table.cost, [[0.01, 0.001], [0.02, 0.002]])
    assert table.output_chars is not None
    np.testing.assert_allclose(table.output_chars, [[len("['yes']"), len("['no!']")]] * 2)
    with pytest.raises(FileNotFoundError, match="tasks there"):
        lab.load_routerbench(tmp_path, "train", tasks=("winogrande",))
    with pytest.raises(ValueError, match="split"):
        lab.load_routerbench(tmp_path, "dev")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="nowhere': no such directory"):
        lab.load_routerbench(tmp_path / "nowhere", "train")
    with pytest.raises(FileNotFoundError, match="not the routing data directory"):
        lab.load_routerbench(folder, "train")  # the routerbench folder itself
    with pytest.raises(ValueError, match=r"tasks is a list of task names, e.g. tasks=\['mbpp'\]"):
        lab.load_routerbench(tmp_path, "train", tasks="mbpp")


def test_routellm_formats_and_contamination(tmp_path: Path) -> None:
    gsm = tmp_path / "routellm" / "gsm8k"
    gsm.mkdir(parents=True)
    with (gsm / "gsm8k_responses.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prompt", lab.ROUTELLM_WEAK, lab.ROUTELLM_STRONG])
        writer.writerows([["1+1?", "True", "True"], ["leaked", "False", "True"], ["hard", "False", "True"]])
    (gsm / "contaminated_prompts.jsonl").write_text(json.dumps({"eval_prompt": "leaked "}) + "\n")
    table = lab.load_routellm(tmp_path, "gsm8k")
    assert table.models == (lab.ROUTELLM_STRONG, lab.ROUTELLM_WEAK)
    assert table.prompts == ("1+1?", "hard")
    np.testing.assert_array_equal(table.quality, [[1, 1], [1, 0]])
    np.testing.assert_array_equal(table.cost, [[1, 0], [1, 0]])
    assert len(lab.load_routellm(tmp_path, "gsm8k", exclude_contaminated=False)) == 3
    # exclude_contaminated=None (as a settings file leaves an option unset) kept the contaminated prompts in, and
    # "no" left them out: a held-out set scored with prompts the routers were trained on, or not, by accident
    for unset in (None, "no", 0):
        with pytest.raises(UserError, match=r"^exclude_contaminated is True \(the default: drop the prompts"):
            lab.load_routellm(tmp_path, "gsm8k", exclude_contaminated=unset)  # type: ignore[arg-type]

    mt = tmp_path / "routellm" / "mt_bench"
    mt.mkdir()
    (mt / "question.jsonl").write_text(
        json.dumps({"question_id": 81, "category": "writing", "turns": ["Write a poem", "Shorter"]}) + "\n"
    )
    judgements = [
        {"question_id": 81, "model": model, "turn": turn, "score": score}
        for model, scores in ((lab.ROUTELLM_STRONG, (9, 10)), (lab.ROUTELLM_WEAK, (7, 8)))
        for turn, score in zip((1, 2), scores, strict=True)
    ]
    (mt / "judgements.jsonl").write_text("".join(json.dumps(j) + "\n" for j in judgements))
    bench = lab.load_routellm(tmp_path, "mt_bench")
    np.testing.assert_allclose(bench.quality, [[9.5, 7.5]])
    assert bench.tasks == ("writing",)
    # ids name the benchmark: two sets concatenate with distinct ids (the replay's judge needs them), once on one
    # quality scale (GSM8K's 1/0 next to MT-Bench's 1–10 scores is refused)
    scores = dataclasses.replace(bench, quality=bench.quality / 10)
    assert lab.OutcomeTable.concat([table, scores]).ids == ("gsm8k/0", "gsm8k/2", "mt_bench/81")
    with pytest.raises(ValueError, match="benchmark must be"):
        lab.load_routellm(tmp_path, "humaneval")  # type: ignore[arg-type]


def test_data_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(lab.DATA_ENV, str(tmp_path))
    assert lab.data_dir() == tmp_path
    assert lab.data_dir(tmp_path / "mine") == tmp_path / "mine"  # an explicit directory wins
    (tmp_path / "routellm" / "gsm8k").mkdir(parents=True)
    (tmp_path / "routellm" / "gsm8k" / "gsm8k_responses.csv").write_text(
        f"prompt,{lab.ROUTELLM_STRONG},{lab.ROUTELLM_WEAK}\n2+2?,True,False\n"
    )
    assert lab.load_routellm(None, "gsm8k").prompts == ("2+2?",)  # None: the environment's directory
    monkeypatch.delenv(lab.DATA_ENV)
    with pytest.raises(FileNotFoundError, match=lab.DATA_ENV):
        lab.data_dir()  # no folder layout is assumed
    with pytest.raises(FileNotFoundError, match=lab.DATA_ENV):
        lab.load_routerbench(None, "train")


def test_the_data_directory_variable_of_earlier_versions_is_named_when_it_alone_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # earlier versions read ORCHESTRATEX_ROUTING_DATA: set in a shell profile for them, it was ignored without a word
    monkeypatch.delenv(lab.DATA_ENV, raising=False)
    monkeypatch.setenv("ORCHESTRATEX_ROUTING_DATA", str(tmp_path))
    told = f"ORCHESTRATEX_ROUTING_DATA, set here to {str(tmp_path)!r}, is its name in earlier versions"
    with pytest.raises(FileNotFoundError, match=re.escape(told)):
        lab.data_dir()
    with pytest.raises(FileNotFoundError, match=re.escape(f"rename it {lab.DATA_ENV}")):
        lab.load_routerbench(None, "train")
    monkeypatch.setenv(lab.DATA_ENV, str(tmp_path / "now"))  # the current name wins, as it is
    assert lab.data_dir() == tmp_path / "now"


def _orchestration(prompt: str, tried: list[tuple[str, float, float]]) -> Orchestration:
    iterations = [
        Iteration(
            index=i + 1,
            model_name=model,
            prompt=prompt,
            phase="evaluated",
            cost=cost,
            evaluation=Evaluation(score=score, feedback="", judge_models=["judge"]),
        )
        for i, (model, score, cost) in enumerate(tried)
    ]
    return Orchestration(
        thread_id=THREAD.id, session_id=SESSION.id, user_id="u", prompt=prompt, domain="coding", iterations=iterations
    )


SESSION = Session(user_id="u")
THREAD = Thread(session_id=SESSION.id, user_id="u", original_prompt="p")


async def test_history_from_a_store() -> None:
    async with MemoryStore() as store:
        await store.create_session(SESSION)
        await store.create_thread(THREAD)
        bug = _orchestration("fix my bug", [("sim:a", 6.0, 0.01), ("sim:b", 9.0, 0.1)])
        sort = _orchestration("sort a list", [("sim:b", 8.0, 0.2), ("sim:b", 9.5, 0.2)])
        await store.create_orchestration(bug)
        await store.create_orchestration(sort)
        await store.create_orchestration(_orchestration("unanswered", []))
        table = await lab.load_history(store, page_size=2)
    assert table.models == ("sim:a", "sim:b")
    assert table.prompts == ("fix my bug", "sort a list")
    assert table.tasks == ("coding", "coding")
    assert table.ids == (bug.id, sort.id)  # distinct across stores and pages
    np.testing.assert_allclose(table.quality, [[6.0, 9.0], [np.nan, 8.0]])
    assert table.complete().prompts == ("fix my bug",)


async def test_history_of_an_empty_store_is_an_error() -> None:
    async with MemoryStore() as store:
        with pytest.raises(ValueError, match="no evaluated orchestrations"):
            await lab.load_history(store)


from .lab_data import DATA  # noqa: E402


@pytest.mark.skipif(
    not (DATA / "routerbench").is_dir(), reason=f"routing data not found at {DATA} (set {lab.DATA_ENV})"
)
def test_real_routerbench_slice_loads() -> None:
    table = lab.load_routerbench(DATA, "test", tasks=("mbpp",))
    assert len(table) == 128 and len(table.models) == 11
    assert table.quality.max() == 1.0 and (table.cost > 0).all()


def _damage(tmp_path: Path, content: bytes) -> Path:
    """A data directory whose RouterBench `mbpp_train.csv` holds `content`."""
    folder = tmp_path / "routerbench"
    _write_routerbench(folder, "mbpp", "train", [("Write code", ["0.0", "1.0"], ["0.02", "0.002"])] * 3)
    (folder / "mbpp_train.csv").write_bytes(content)
    return tmp_path


def _good_csv(tmp_path: Path) -> bytes:
    folder = tmp_path / "good" / "routerbench"
    rows = [(f"Write code {i}", ["0.0", "1.0"], ["0.02", "0.002"]) for i in range(3)]
    _write_routerbench(folder, "mbpp", "train", rows)
    return (folder / "mbpp_train.csv").read_bytes()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda good: b"", r"mbpp_train.csv' is empty: expected a CSV file with a header row"),
        (lambda good: good[: len(good) * 2 // 3], r"data row 2 has \d+ cells where the header has 11: .*cut short"),
        (lambda good: b"\x89PNG\r\n\x1a\n\xff\xfe" + good, r"is not UTF-8 text \(an undecodable byte at offset 0\)"),
        (lambda good: good.replace(b"prompt", b"question", 1), r"has no column 'prompt'; its header is"),
        (
            lambda good: good.replace(b",m-a,m-b,", b",m-x,m-b,", 1),
            r"model 'm-a' has a cost column but no quality column",
        ),
        (lambda good: good.replace(b"0.002", b"cheap", 1), r"data row 1, column 'm-b\|total_cost' is 'cheap', not a"),
        (lambda good: good.replace(b"0.002", b"nan", 1), r"data row 1, column 'm-b\|total_cost' is 'nan': a measured"),
        (lambda good: good.replace(b"0.02,", b"inf,", 1), r"data row 1, column 'm-a\|total_cost' is 'inf': a measured"),
        (
            lambda good: good.replace(b"0.002", b"-0.002", 1),
            r"column 'm-b\|total_cost' is '-0.002': expected a number >= 0",
        ),
        (
            lambda good: good.replace(b",0.0,1.0,", b",NaN,1.0,", 1),
            r"data row 1, column 'm-a' is 'NaN': a measured value",
        ),
        (lambda good: good.replace(b",oracle_model_to_route_to", b",m-a"), r"the header names the column 'm-a' twice"),
        (
            lambda good: good.replace(b",0.0,1.0,", b",11,1.0,", 1),
            r"data row 1, column 'm-a' is '11': expected a number between 0 and 10",
        ),
        (lambda good: good.replace(b"mbpp.1,", b"mbpp.0,"), r"data rows 1 and 2 have the same sample_id 'mbpp.0'"),
        (lambda good: good.replace(b",0.02,", b",,"), r"every one of its 3 data rows has an empty quality or cost"),
        (
            lambda good: good.replace(b"m-a|total_cost", b"m-a|totalcost", 1),
            r"model 'm-a' has a quality and a response column but no cost column 'm-a\|total_cost'",
        ),
    ],
    ids=[
        "empty",
        "cut-short",
        "binary",
        "no-prompt-column",
        "no-quality-column",
        "not-a-number",
        "nan-cost",
        "infinite-cost",
        "negative-cost",
        "nan-quality",
        "column-twice",  # before: the second column's values, in silence
        "quality-above-10",  # before: named the table and its row 0, not the file
        "same-sample-id",  # before: named neither the file nor the rows
        "every-row-skipped",  # before: "quality has shape (0,), expected (0, 2)"
        "no-cost-column",  # before: the model was left out of the table without a word
    ],
)
def test_a_damaged_routerbench_file_is_named_with_what_is_wrong(
    tmp_path: Path, damage: Callable[[bytes], bytes], message: str
) -> None:
    # Before: UnicodeDecodeError, KeyError('prompt'), "could not convert string to float", a table of no shape,
    # or (cut short) the rows before the cut loaded without a word.
    directory = _damage(tmp_path, damage(_good_csv(tmp_path)))
    with pytest.raises(ValueError, match=message):
        lab.load_routerbench(directory, "train", tasks=["mbpp"])


def test_an_extra_column_is_ignored(tmp_path: Path) -> None:
    good = _good_csv(tmp_path).decode()
    lines = good.splitlines()
    wider = "\r\n".join([lines[0] + ",notes", *(line + ",seen" for line in lines[1:])]) + "\r\n"
    table = lab.load_routerbench(_damage(tmp_path, wider.encode()), "train", tasks=["mbpp"])
    assert table.models == MODELS and len(table) == 3


def test_damaged_routellm_files_are_named(tmp_path: Path) -> None:
    gsm = tmp_path / "routellm" / "gsm8k"
    gsm.mkdir(parents=True)
    responses = gsm / "gsm8k_responses.csv"
    responses.write_text(f"prompt,{lab.ROUTELLM_STRONG}\n1+1?,True\n")
    with pytest.raises(ValueError, match=f"has no column '{lab.ROUTELLM_WEAK}'"):
        lab.load_routellm(tmp_path, "gsm8k")
    responses.write_text(f"prompt,{lab.ROUTELLM_STRONG},{lab.ROUTELLM_WEAK}\n1+1?,True,False\n2+2?,yes,False\n")
    with pytest.raises(ValueError, match=f"data row 2, column '{lab.ROUTELLM_STRONG}' is 'yes': expected True or"):
        lab.load_routellm(tmp_path, "gsm8k")
    (gsm / "contaminated_prompts.jsonl").write_text('{"eval_prompt": "1+1?"}\n{"eval_pro')
    with pytest.raises(ValueError, match=r"contaminated_prompts.jsonl': line 2 is not JSON"):
        lab.load_routellm(tmp_path, "gsm8k")
    mt = tmp_path / "routellm" / "mt_bench"
    mt.mkdir()
    (mt / "question.jsonl").write_text(json.dumps({"question_id": 81, "turns": ["Write a poem"]}) + "\n")
    (mt / "judgements.jsonl").write_text(json.dumps({"question_id": 81, "model": lab.ROUTELLM_STRONG}) + "\n")
    with pytest.raises(ValueError, match=r"judgements.jsonl': line 1 has no 'score'"):
        lab.load_routellm(tmp_path, "mt_bench")


@pytest.mark.parametrize(
    ("benchmark", "message"),
    [
        ("mmlu", r"^no RouteLLM MMLU file \(mmlu_<subject>.csv\) in '.*mmlu'$"),
        ("gsm8k", r"^no RouteLLM file 'gsm8k_responses.csv' in '.*gsm8k'$"),
        ("mt_bench", r"^no RouteLLM file 'question.jsonl' in '.*mt_bench'$"),
    ],
)
def test_a_routellm_folder_without_its_files_says_which_file_is_missing(
    tmp_path: Path, benchmark: str, message: str
) -> None:
    """An MMLU folder without its subject files used to load as a table of no rows, which failed later with
    "was it filtered empty?"; a folder without GSM8K's or MT-Bench's file failed with a bare errno message."""
    (tmp_path / "routellm" / benchmark).mkdir(parents=True)
    (tmp_path / "routellm" / benchmark / "contaminated_prompts.jsonl").write_text("")
    with pytest.raises(FileNotFoundError, match=message):
        lab.load_routellm(tmp_path, benchmark)  # type: ignore[arg-type]


def test_a_csv_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    # Before: a file saved with a UTF-8 byte-order mark (as Excel writes) "has no column 'prompt'; its header is
    # ['\ufeffprompt', ...]" when `prompt` is its first column.
    gsm = tmp_path / "routellm" / "gsm8k"
    gsm.mkdir(parents=True)
    text = f"prompt,{lab.ROUTELLM_STRONG},{lab.ROUTELLM_WEAK}\n1+1?,True,False\n2+2?,True,True\n"
    (gsm / "gsm8k_responses.csv").write_text(text, encoding="utf-8-sig")
    table = lab.load_routellm(tmp_path, "gsm8k")
    assert table.prompts == ("1+1?", "2+2?")


def test_a_non_finite_mt_bench_score_is_named(tmp_path: Path) -> None:
    # Before: a `NaN` score (JSON as Python writes it) became an "unobserved" cell, refused without a file or line.
    mt = tmp_path / "routellm" / "mt_bench"
    mt.mkdir(parents=True)
    (mt / "question.jsonl").write_text(json.dumps({"question_id": 81, "turns": ["Write a poem"]}) + "\n")
    judged = [
        {"question_id": 81, "model": m, "score": s}
        for m, s in ((lab.ROUTELLM_STRONG, 9), (lab.ROUTELLM_WEAK, float("nan")))
    ]
    (mt / "judgements.jsonl").write_text("".join(json.dumps(j) + "\n" for j in judged))
    with pytest.raises(ValueError, match=r"judgements.jsonl': line 2: 'score' is nan, not a finite number"):
        lab.load_routellm(tmp_path, "mt_bench")


def _mt_bench(tmp_path: Path, questions: list[dict[str, object]], scores: dict[object, tuple[float, float]]) -> Path:
    mt = tmp_path / "routellm" / "mt_bench"
    mt.mkdir(parents=True, exist_ok=True)
    (mt / "question.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    judged = [
        {"question_id": qid, "model": model, "score": score}
        for qid, pair in scores.items()
        for model, score in zip((lab.ROUTELLM_STRONG, lab.ROUTELLM_WEAK), pair, strict=True)
    ]
    (mt / "judgements.jsonl").write_text("".join(json.dumps(j) + "\n" for j in judged))
    return tmp_path


@pytest.mark.parametrize(
    ("question", "score", "message"),
    [
        ({"category": 3}, 9, r"question.jsonl': line 1: 'category' is 3, not a string"),
        ({"question_id": 1.5}, 9, r"question.jsonl': line 1: question_id 1.5 is not a whole number"),
        ({"question_id": 2}, 9, r"question.jsonl': lines 1 and 2 have the same question_id 2"),
        ({}, 11, r"judgements.jsonl': line 1: 'score' is 11; a judge's score is between 1 and 10"),
    ],
    ids=["category-not-a-string", "question-id-not-whole", "question-id-twice", "score-above-10"],
)
def test_a_bad_mt_bench_field_is_named(tmp_path: Path, question: dict[str, object], score: float, message: str) -> None:
    # Before: an int category became a task the fitted router saved but could not load; 1.5 was read as 1; a
    # repeated id or a score of 11 was refused naming the table, not the file nor the line.
    questions = [{"question_id": 1, "turns": ["Write a poem"], **question}, {"question_id": 2, "turns": ["Sing"]}]
    directory = _mt_bench(tmp_path, questions, {1: (score, 5.0), 2: (8.0, 4.0)})
    with pytest.raises(UserError, match=message):
        lab.load_routellm(directory, "mt_bench")


def test_an_mt_bench_question_without_a_category_is_general_and_its_router_loads(tmp_path: Path) -> None:
    # Before: `"category": null` became the task None: the router fitted on it saved a file it refused to load.
    questions = [{"question_id": 1, "turns": ["Write a poem"], "category": None}, {"question_id": 2, "turns": ["x"]}]
    table = lab.load_routellm(_mt_bench(tmp_path, questions, {1: (9.0, 5.0), 2: (8.0, 4.0)}), "mt_bench")
    assert table.tasks == ("general", "general")
    router = FittedRouter().fit(table)
    assert FittedRouter.load(router.save(tmp_path / "r.npz")).models == table.models
    with pytest.raises(UserError, match=r"table 't': the task of row 1 is None: a task is a string"):
        lab.OutcomeTable(
            name="t",
            models=("a",),
            prompts=("p", "q"),
            quality=np.ones((2, 1)),
            cost=np.ones((2, 1)),
            tasks=("x", None),  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("page_size", [0, -1, True, 2.5])
async def test_history_refuses_a_page_size_that_is_not_a_whole_number_above_0(page_size: object) -> None:
    # Before: 0 looped forever without yielding (asyncio.wait_for could not stop it), 2.5 raised a TypeError about
    # slice indices, -1 named the store's `limit`.
    async with MemoryStore() as store:
        await store.create_session(SESSION)
        await store.create_thread(THREAD)
        await store.create_orchestration(_orchestration("fix my bug", [("sim:a", 6.0, 0.01)]))
        with pytest.raises(UserError, match=r"page_size is a number of orchestrations per read >= 1 \(e.g. 500\)"):
            await asyncio.wait_for(lab.load_history(store, page_size=page_size), 5)  # type: ignore[arg-type]
        with pytest.raises(UserError, match=r"models is a list of model names, e.g. models=\['sim:a'\]; got the str"):
            await lab.load_history(store, models="sim:a")  # before: one model per character, "names a model twice"


def test_json_lines_saved_with_a_byte_order_mark_load(tmp_path: Path) -> None:
    """Before: MT-Bench's `question.jsonl` (or a `contaminated_prompts.jsonl`) saved with a UTF-8 byte-order mark, as
    Windows editors and PowerShell write it, was refused: "line 1 is not JSON (Unexpected UTF-8 BOM (decode using
    utf-8-sig)): cut short or damaged?", though the CSV files so saved load."""
    mt = tmp_path / "routellm" / "mt_bench"
    mt.mkdir(parents=True)
    bom = "\ufeff"
    (mt / "question.jsonl").write_text(
        bom + json.dumps({"question_id": 81, "category": "writing", "turns": ["Write a poem"]}) + "\n"
        + json.dumps({"question_id": 82, "category": "math", "turns": ["Leaked"]}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    (mt / "contaminated_prompts.jsonl").write_text(bom + json.dumps({"eval_prompt": "Leaked"}) + "\n", encoding="utf-8")
    judgements = [
        {"question_id": q, "model": model, "turn": 1, "score": score}
        for q in (81, 82)
        for model, score in ((lab.ROUTELLM_STRONG, 9), (lab.ROUTELLM_WEAK, 7))
    ]
    (mt / "judgements.jsonl").write_text(bom + "".join(json.dumps(j) + "\n" for j in judgements), encoding="utf-8")
    bench = lab.load_routellm(tmp_path, "mt_bench")
    assert bench.ids == ("mt_bench/81",)  # the leaked question dropped: the contaminated file was read too
    np.testing.assert_allclose(bench.quality, [[9.0, 7.0]])


def test_a_task_named_twice_is_refused_rather_than_loaded_twice(tmp_path: Path) -> None:
    """Before: `load_routerbench(d, "test", tasks=["mbpp", "mbpp"])` loaded every mbpp row twice (256 rows of 128
    prompts), each under a new id (`0:routerbench/mbpp_test/…`, `1:…`), without a word."""
    _write_routerbench(tmp_path / "routerbench", "mbpp", "test", [("Write code", ["0.0", "1.0"], ["0.02", "0.002"])])
    with pytest.raises(UserError, match=r"tasks names 'mbpp' twice \(\['mbpp', 'arc', 'mbpp'\]\): name each task once"):
        lab.load_routerbench(tmp_path, "test", tasks=["mbpp", "arc", "mbpp"])
    assert len(lab.load_routerbench(tmp_path, "test", tasks=["mbpp"])) == 1


async def test_history_from_a_store_url_as_an_orchestrator_takes_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `await lab.load_history("sqlite:///runs.db")` (the URL `Orchestrator(store=...)` was given) failed with
    "'str' object has no attribute 'list_orchestrations'", and so did an Orchestrator or a path given for the store.
    A URL is now opened for the read and closed after it; anything else is a UserError saying what to give."""
    from orchestratex import Orchestrator

    monkeypatch.setenv("ORCHESTRATEX_SIM_LATENCY_SCALE", "0")
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    async with Orchestrator(store=url, max_iterations=1) as orchestrator:
        for prompt in ("Sort a list in Python", "Reverse a string in Python"):
            await orchestrator.run(prompt, domain="coding")
        with pytest.raises(UserError, match=r"not Orchestrator: give orchestrator.store"):
            await lab.load_history(orchestrator)  # type: ignore[arg-type]
        from_store = await lab.load_history(orchestrator.store)
    from_url = await lab.load_history(url)
    assert from_url.prompts == from_store.prompts == ("Sort a list in Python", "Reverse a string in Python")
    np.testing.assert_array_equal(from_url.quality, from_store.quality)
    assert await lab.load_history(url) is not None  # the store was closed after the read: it opens again
    with pytest.raises(UserError, match=r"not \w*Path: give a store URL, e.g. 'sqlite:///"):
        await lab.load_history(tmp_path / "runs.db")  # type: ignore[arg-type]


async def test_history_from_a_url_of_no_store_says_so_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `await lab.load_history("sqlite:///runs-typo.db")` (a path mistyped) made a new, empty database of
    150 KB there and said "the store holds no evaluated orchestrations for this selection", as if the history were
    empty; `memory://` said the same of the new store it opened. Both now say what is wrong, creating nothing."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as refused:
        await lab.load_history("sqlite:///runs-typo.db")
    assert str(refused.value) == (
        f"load_history(store): there is no SQLite database at {str(tmp_path / 'runs-typo.db')!r} (the store URL"
        f" 'sqlite:///runs-typo.db', relative to the working directory {str(tmp_path)!r}); nothing was created:"
        " check the path (sqlite:////absolute/path.db for an absolute one)"
    )
    with pytest.raises(UserError, match=r"^load_history\(store\): there is no SQLite database at '/"):
        await lab.load_history(f"sqlite:///{tmp_path / 'gone' / 'runs.db'}")
    for url in ("memory://", "sqlite://"):
        with pytest.raises(UserError, match=r"opens a new, empty store in this process's memory: give the Store"):
            await lab.load_history(url)
    assert list(tmp_path.iterdir()) == []


async def test_history_models_never_answered_are_named_with_the_store_s_models() -> None:
    """Before: `load_history(store, models=["a"])` (a bare id or an alias, where runs record `sim:a`) gave a column
    of nothing, which failed only later, in `fit`, with "table 'history' has no outcome for ['a']"."""
    async with MemoryStore() as store:
        await store.create_session(SESSION)
        await store.create_thread(THREAD)
        await store.create_orchestration(_orchestration("fix my bug", [("sim:a", 6.0, 0.01), ("sim:b", 9.0, 0.1)]))
        with pytest.raises(UserError, match=r"no evaluated answer of \['a'\] .*: \['sim:a', 'sim:b'\]"):
            await lab.load_history(store, models=["a", "sim:b"])
        table = await lab.load_history(store, models=["sim:b", "sim:a"])
    assert table.models == ("sim:b", "sim:a")


def test_a_data_directory_given_one_level_too_deep_or_as_a_file_says_so(tmp_path: Path) -> None:
    """Before: `load_routerbench(".../routing/routerbench", "test")` (the folder holding the CSVs, a common slip) said
    only "not the routing data directory", and a file given as the directory "no such directory"."""
    _write_routerbench(tmp_path / "routerbench", "mbpp", "test", [("Write code", ["0.0", "1.0"], ["0.02", "0.002"])])
    (tmp_path / "routellm" / "gsm8k").mkdir(parents=True)
    deeper = re.escape(f"but a folder inside it: give {str(tmp_path)!r}")
    with pytest.raises(FileNotFoundError, match=rf"not the routing data directory {deeper}"):
        lab.load_routerbench(tmp_path / "routerbench", "test", tasks=["mbpp"])
    with pytest.raises(FileNotFoundError, match=rf"not the routing data directory {deeper}"):
        lab.load_routellm(tmp_path / "routellm" / "gsm8k", "gsm8k")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"notes.txt': a file, not a directory"):
        lab.load_routerbench(tmp_path / "notes.txt", "test")
    assert len(lab.load_routerbench(tmp_path, "test", tasks=["mbpp"])) == 1


def test_tasks_given_as_a_generator_or_a_set_load_once_each(tmp_path: Path) -> None:
    """Before: `tasks=(t for t in ["mbpp"])` was read up by the names' check and loaded nothing ("nothing to
    concatenate"), and `tasks=5` failed with "'int' object is not iterable"."""
    _write_routerbench(tmp_path / "routerbench", "mbpp", "test", [("Write code", ["0.0", "1.0"], ["0.02", "0.002"])])
    assert len(lab.load_routerbench(tmp_path, "test", tasks=(t for t in ["mbpp"]))) == 1
    assert len(lab.load_routerbench(tmp_path, "test", tasks={"mbpp"})) == 1
    with pytest.raises(UserError, match=r"tasks is a list of task names, e.g. tasks=\['mbpp'\] .*; got 5"):
        lab.load_routerbench(tmp_path, "test", tasks=5)  # type: ignore[arg-type]


def test_a_data_directory_from_the_environment_variable_is_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `lab.load_routerbench(None, "test")` with `ORCHESTRATEX_DATA_DIR` set in an env file as
    `/data/routing ` (a space after it) said only "no 'routerbench' directory in '/data/routing ': no such
    directory", naming neither the variable (the call named no directory) nor the space."""
    _write_routerbench(tmp_path / "routerbench", "mbpp", "test", [("Write code", ["0.0", "1.0"], ["0.02", "0.002"])])
    monkeypatch.setenv("ORCHESTRATEX_DATA_DIR", f"{tmp_path} ")
    spaced = re.escape(f"{str(tmp_path) + ' '!r} ($ORCHESTRATEX_DATA_DIR, whose value has white space around it)")
    with pytest.raises(FileNotFoundError, match=rf"in {spaced}: no such directory"):
        lab.load_routerbench(None, "test", tasks=["mbpp"])
    with pytest.raises(FileNotFoundError, match=rf"in {spaced}: no such directory"):
        lab.load_routellm(None, "gsm8k")
    monkeypatch.setenv("ORCHESTRATEX_DATA_DIR", str(tmp_path / "routerbench"))
    with pytest.raises(FileNotFoundError, match=re.escape("routerbench' ($ORCHESTRATEX_DATA_DIR): not the routing")):
        lab.load_routerbench(None, "test", tasks=["mbpp"])
    with pytest.raises(FileNotFoundError, match=r"nowhere': no such directory"):  # a directory given: as before
        lab.load_routerbench(tmp_path / "nowhere", "test")
    monkeypatch.setenv("ORCHESTRATEX_DATA_DIR", str(tmp_path))
    assert len(lab.load_routerbench(None, "test", tasks=["mbpp"])) == 1


async def test_history_leaves_out_refinements_which_answered_another_prompt() -> None:
    """Before: `load_history` took a refinement's score as the model's outcome on the original prompt: a model that
    was handed a rejected answer and the judges' feedback on it and scored 9 was recorded as scoring 9 on the
    question, flattering the models that rescue others' answers (a router fitted on the table took it first). A
    run through a real `Orchestrator`: `a` answers the question (4), `b` refines (9); only `a` answered the question."""
    from orchestratex import Orchestrator

    from ..helpers import NO_WAIT, answer_attempt, catalog, score_of_answer, scripted

    orchestrator = Orchestrator(
        providers=[scripted(answer_attempt, score_of_answer({1: 4.0, 2: 9.0}))],
        catalog=catalog("a", "b", "j"),
        judges=["function:j"],
        retry=NO_WAIT,
    )
    async with orchestrator:
        refined = await orchestrator.run(
            "Fix my bug", preferred_models=["function:a", "function:b"], max_iterations=2, evaluation_threshold=8
        )
        table = await lab.load_history(orchestrator.store)
    tried = [(it.model_name, it.score) for it in refined.orchestration.iterations]
    assert [score for _, score in tried] == [4.0, 9.0]
    (first, _), (rescuer, _) = tried
    assert first != rescuer  # (the loop refines with a model other than the one that failed)
    assert table.models == (first,)  # before: (first, rescuer), the rescuer's cell 9.0
    assert table.prompts == ("Fix my bug",)
    np.testing.assert_allclose(table.quality, [[4.0]])
    async with orchestrator:
        never = re.escape(f"no evaluated answer of {[rescuer]} to a prompt as asked in this selection (refinements")
        with pytest.raises(UserError, match=never):
            await lab.load_history(orchestrator.store, models=[rescuer])


def _judged_turns(tmp_path: Path, judgements: list[tuple[str, int, float]]) -> Path:
    mt = tmp_path / "routellm" / "mt_bench"
    mt.mkdir(parents=True)
    (mt / "question.jsonl").write_text(json.dumps({"question_id": 81, "turns": ["Write a poem", "Shorter"]}) + "\n")
    lines = [{"question_id": 81, "model": model, "turn": turn, "score": score} for model, turn, score in judgements]
    (mt / "judgements.jsonl").write_text("".join(json.dumps(j) + "\n" for j in lines))
    return tmp_path


def test_an_mt_bench_turn_judged_twice_or_not_at_all_is_named(tmp_path: Path) -> None:
    """Before: a judgement line given twice (two exports concatenated) counted its turn twice in the question's
    mean, and a file cut at a line's end left a question's mean of the turns left: figures silently wrong."""
    strong, weak = lab.ROUTELLM_STRONG, lab.ROUTELLM_WEAK
    whole = [(strong, 1, 9.0), (strong, 2, 10.0), (weak, 1, 7.0), (weak, 2, 4.0)]
    np.testing.assert_allclose(
        lab.load_routellm(_judged_turns(tmp_path / "a", whole), "mt_bench").quality, [[9.5, 5.5]]
    )
    twice = _judged_turns(tmp_path / "b", [*whole, (weak, 1, 7.0)])
    with pytest.raises(UserError, match=r"judgements.jsonl': lines 3 and 5 both judge turn 1 of question 81 answe"):
        lab.load_routellm(twice, "mt_bench")  # before: the weak model's mean read 6.0, not 5.5
    cut = _judged_turns(tmp_path / "c", whole[:3])
    with pytest.raises(UserError, match=r"question 81 has 2 turns, and no judgement of turn 2 answered by mistralai"):
        lab.load_routellm(cut, "mt_bench")  # before: the weak model's mean read 7.0, of its first turn alone
    with pytest.raises(UserError, match=r"judgements.jsonl': line 1: 'turn' is 'one', not a turn's number"):
        lab.load_routellm(_judged_turns(tmp_path / "d", [(strong, "one", 9.0), *whole[1:]]), "mt_bench")  # type: ignore[list-item]


def test_a_routellm_file_without_rows_is_named(tmp_path: Path) -> None:
    """Before: a GSM8K file cut down to its header loaded as a table of 0 rows (refused later as "filtered empty?"),
    an MMLU subject's file so cut dropped that subject without a word, and an empty MT-Bench question file said
    nothing either; a RouterBench file so cut was already refused."""
    header = f"prompt,{lab.ROUTELLM_STRONG},{lab.ROUTELLM_WEAK}\n"
    gsm = tmp_path / "routellm" / "gsm8k"
    gsm.mkdir(parents=True)
    (gsm / "gsm8k_responses.csv").write_text(header)
    with pytest.raises(UserError, match=r"gsm8k_responses.csv': no rows, only a header: is the file cut short\?"):
        lab.load_routellm(tmp_path, "gsm8k")
    mmlu = tmp_path / "routellm" / "mmlu"
    mmlu.mkdir()
    (mmlu / "mmlu_anatomy.csv").write_text(header + "What is a bone?,True,False\n")
    (mmlu / "mmlu_virology.csv").write_text(header)
    with pytest.raises(UserError, match=r"mmlu_virology.csv': no rows, only a header"):
        lab.load_routellm(tmp_path, "mmlu")  # before: 1 row, of anatomy alone
    mt = tmp_path / "routellm" / "mt_bench"
    mt.mkdir()
    (mt / "question.jsonl").write_text("\n")
    (mt / "judgements.jsonl").write_text("")
    with pytest.raises(UserError, match=r"question.jsonl': no questions: is the file cut short\?"):
        lab.load_routellm(tmp_path, "mt_bench")


def test_routerbench_files_with_their_models_in_another_column_order_load(tmp_path: Path) -> None:
    """Before: a task's file re-saved with its columns sorted (pandas, a spreadsheet) was refused: "tables
    'routerbench/arc_train' and 'routerbench/mbpp_train' have different models", though they have the same."""
    folder = tmp_path / "routerbench"
    _write_routerbench(folder, "arc", "train", [("Q1", ["1.0", "0.0"], ["0.01", "0.001"])])
    _write_routerbench(folder, "mbpp", "train", [("Write code", ["0.0", "1.0"], ["0.02", "0.002"])])
    path = folder / "mbpp_train.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    columns = list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as fh:  # the models' columns in reverse order
        writer = csv.DictWriter(fh, fieldnames=columns[:4] + sorted(columns[4:-1], reverse=True) + columns[-1:])
        writer.writeheader()
        writer.writerows(rows)
    table = lab.load_routerbench(tmp_path, "train", tasks=("arc", "mbpp"))
    assert table.models == MODELS  # the first file's order, each row's cells under their own model
    np.testing.assert_allclose(table.quality, [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(table.cost, [[0.01, 0.001], [0.02, 0.002]])
    with path.open("w", newline="", encoding="utf-8") as fh:  # one model's columns left out
        kept = [c for c in columns if not c.startswith(MODELS[0])]
        writer = csv.DictWriter(fh, fieldnames=kept, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(UserError, match=rf"'routerbench/mbpp_train' lacks \['{MODELS[0]}'\]: give tables of the"):
        lab.load_routerbench(tmp_path, "train", tasks=("arc", "mbpp"))


def test_a_prompt_with_half_an_emoji_escape_is_named_not_a_traceback(tmp_path: Path) -> None:
    """Before: an MT-Bench question whose JSON escapes half an emoji (`"\\ud83d"`, as a text cut between the two
    halves of a pair leaves it) loaded, and `replay_loop` (or `replay`) on it failed with a UnicodeEncodeError."""
    mt = tmp_path / "routellm" / "mt_bench"
    mt.mkdir(parents=True)
    questions = [{"question_id": 81, "turns": ["Write a poem"]}, {"question_id": 82, "turns": ["Smile \\ud83d please"]}]
    (mt / "question.jsonl").write_text("".join(json.dumps(q).replace("\\\\", "\\") + "\n" for q in questions))
    judged = [
        {"question_id": q, "model": model, "score": 8}
        for q in (81, 82)
        for model in (lab.ROUTELLM_STRONG, lab.ROUTELLM_WEAK)
    ]
    (mt / "judgements.jsonl").write_text("".join(json.dumps(j) + "\n" for j in judged))
    message = r"table 'routellm/mt_bench': the prompt of row 1 \(id 'mt_bench/82'\) holds a lone surrogate \('\\ud83d'"
    with pytest.raises(UserError, match=message):
        lab.load_routellm(tmp_path, "mt_bench")
    with pytest.raises(UserError, match=r"table 'mine': the prompt of row 0 holds a lone surrogate"):
        lab.OutcomeTable(name="mine", models=("a",), prompts=("\ud800",), quality=np.ones((1, 1)), cost=np.ones((1, 1)))


async def test_history_keeps_the_length_of_each_answer() -> None:
    """Before: `load_history` dropped what each answer's length was, though the store keeps the answer: a replay of
    the history answered 400 characters for each, and `profiles_for` priced the models' tokens without them."""
    from orchestratex import Orchestrator

    async with Orchestrator(simulate=True, store=MemoryStore(), max_iterations=2) as orchestrator:
        results = [await orchestrator.run(f"Write a function that adds {i} to a number") for i in range(3)]
        table = await lab.load_history(orchestrator.store)
    assert table.output_chars is not None
    for result in results:
        row = table.ids.index(result.id)
        first = result.orchestration.iterations[0]
        assert first.response is not None
        assert table.output_chars[row, table.model_index(first.model_name)] == len(first.response)
    np.testing.assert_array_equal(np.isnan(table.output_chars), ~table.observed)


def test_an_mt_bench_question_file_cut_at_a_line_end_is_named(tmp_path: Path) -> None:
    """Before: a `question.jsonl` cut at a line's end (a copy stopped short) loaded the questions left as the whole
    benchmark without a word (the real file cut to 60 lines: 52 prompts, not 72), though `judgements.jsonl` judges
    the questions it lost."""
    mt = tmp_path / "routellm" / "mt_bench"
    mt.mkdir(parents=True)
    questions = [{"question_id": q, "turns": [f"Question {q}"], "category": "writing"} for q in (81, 82, 83)]
    (mt / "question.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions[:1]))
    judged = [
        {"question_id": q, "model": model, "turn": 1, "score": 8.0}
        for q in (81, 82, 83)
        for model in (lab.ROUTELLM_STRONG, lab.ROUTELLM_WEAK, "claude-v1")
    ]
    (mt / "judgements.jsonl").write_text("".join(json.dumps(j) + "\n" for j in judged))
    cut = re.escape(f"judges 2 questions (82, 83) that {str(mt / 'question.jsonl')!r} does not have (1 questions)")
    with pytest.raises(UserError, match=cut + r": is the question file cut short\?"):
        lab.load_routellm(tmp_path, "mt_bench")
    (mt / "question.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    assert len(lab.load_routellm(tmp_path, "mt_bench")) == 3
    # judgements of other models on questions the file does not hold are not this benchmark's: ignored, as before
    others = [{"question_id": 99, "model": "claude-v1", "turn": 1, "score": 5.0}]
    (mt / "judgements.jsonl").write_text("".join(json.dumps(j) + "\n" for j in [*judged, *others]))
    assert len(lab.load_routellm(tmp_path, "mt_bench")) == 3


@pytest.mark.skipif(not (DATA / "routellm").is_dir(), reason=f"routing data not found at {DATA} (set {lab.DATA_ENV})")
def test_the_real_mt_bench_question_file_cut_short_is_refused(tmp_path: Path) -> None:
    real = DATA / "routellm" / "mt_bench"
    mt = tmp_path / "routellm" / "mt_bench"
    mt.mkdir(parents=True)
    for name in ("judgements.jsonl", "contaminated_prompts.jsonl"):
        (mt / name).write_bytes((real / name).read_bytes())
    (mt / "question.jsonl").write_text("".join((real / "question.jsonl").read_text().splitlines(keepends=True)[:60]))
    with pytest.raises(UserError, match=r"judges 20 questions \(141, 142, 143, 144, 145, …\) that .* \(60 questions\)"):
        lab.load_routellm(tmp_path, "mt_bench")
    assert len(lab.load_routellm(DATA, "mt_bench")) == 72  # the whole file loads as before
