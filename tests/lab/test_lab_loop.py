"""`lab.replay_loop` drives the real Orchestrator: recorded outcomes and costs, a simulated judge through the
real judging path, the router seeing every attempt."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from orchestratex import lab
from orchestratex.catalog import ModelProfile
from orchestratex.exceptions import UserError
from orchestratex.records import RoutingDecision
from orchestratex.routing import Router, RoutingFeedback, Task
from orchestratex.routing.fitted import FittedRouter

from .lab_synthetic import synthetic_table


class Scripted(Router):
    """Tries the models in a fixed order and remembers what the orchestrator showed it."""

    name = "scripted"

    def __init__(self, order: Sequence[str]) -> None:
        self.order = list(order)
        self.tasks: list[Task] = []
        self.candidates: list[list[str]] = []
        self.feedback: list[RoutingFeedback] = []

    async def select(self, task: Task, candidates: Sequence[ModelProfile]) -> RoutingDecision:
        self.tasks.append(task)
        self.candidates.append([c.name for c in candidates])
        version = self.order[min(len(task.attempts), len(self.order) - 1)]
        model = next(c for c in candidates if c.version == version)
        return RoutingDecision(model_name=model.name, reasoning="scripted", scores={}, domain=task.domain)

    async def observe(self, feedback: RoutingFeedback) -> None:
        self.feedback.append(feedback)


async def test_replay_runs_the_orchestrator_with_recorded_outcomes_and_a_paid_judge() -> None:
    table = synthetic_table(40, seed=1)
    router = Scripted(["small", "large"])
    judge = lab.SimulatedJudge(input_cost_per_1k=0.001, output_cost_per_1k=0.002)
    seen: list[tuple[int, int, lab.LoopReplay]] = []
    result = await lab.replay_loop(
        table,
        router=router,
        judge=judge,
        max_iterations=3,
        progress=lambda d, t, p: seen.append((d, t, p)),
        progress_every=10,
    )
    assert [d for d, _, _ in seen] == [10, 20, 30, 40]
    small, large = table.model_index("small"), table.model_index("large")
    for row, outcome in enumerate(result.outcomes):
        if table.quality[row, small] == 1:  # accepted at once: one answer, small's recorded cost + one judging
            assert outcome.models == ("small",) and outcome.scores == (9.0,)
            answers = table.cost[row, small]
        else:  # rejected (3/10), escalated, accepted: the router saw the failed attempt
            assert outcome.models == ("small", "large") and outcome.scores == (3.0, 9.0)
            answers = table.cost[row, small] + table.cost[row, large]
        assert outcome.quality == 1.0 and outcome.stop_reason == "threshold"
        assert outcome.judge_cost > 0
        assert outcome.cost == pytest.approx(answers + outcome.judge_cost, abs=1e-9)
    assert result.quality == 1.0 and result.repeats == 0.0
    refinements = [t for t in router.tasks if t.attempts]
    assert refinements and all(t.failed_models == ("lab:small",) for t in refinements)
    assert all(t.attempts[0].score == 3.0 and t.max_iterations == 3 for t in refinements)
    assert all("labjudge:judge" not in names for names in router.candidates)  # a judge is never a candidate
    assert all(f.evaluation_cost > 0 for f in router.feedback)
    assert "quality 1.0000" in result.summary()


async def test_the_judge_reads_the_row_it_judges_when_tables_were_numbered_apart() -> None:
    """Two tables built without ids (both numbered from 0), concatenated: each answer is judged on its own row."""

    def table(name: str, cheap_right: float) -> lab.OutcomeTable:
        return lab.OutcomeTable(
            name=name, models=("cheap", "strong"), prompts=tuple(f"{name} question {i}" for i in range(20)),
            quality=np.tile([cheap_right, 1.0], (20, 1)), cost=np.tile([0.0001, 0.005], (20, 1)),
        )  # fmt: skip

    both = lab.OutcomeTable.concat([table("a", 1.0), table("b", 0.0)])
    result = await lab.replay_loop(both, router=Scripted(["cheap", "strong"]), max_iterations=2)
    first, second = result.outcomes[:20], result.outcomes[20:]
    assert all(o.models == ("cheap",) and o.scores == (9.0,) for o in first)  # cheap is right on table a
    assert all(o.models == ("cheap", "strong") and o.scores == (3.0, 9.0) for o in second)
    assert result.attempts == 1.5 and len({o.id for o in result.outcomes}) == 40


async def test_a_flipping_judge_errs_at_its_rate_and_keeps_its_verdict() -> None:
    table = synthetic_table(400, seed=2)
    flip = lab.SimulatedJudge(flip_rate=0.3, seed=4)
    exact = await lab.replay_loop(table, router=Scripted(["medium"]), max_iterations=1)
    noisy = await lab.replay_loop(table, router=Scripted(["medium"]), judge=flip, max_iterations=1)
    medium = table.model_index("medium")
    right = table.quality[:, medium] == 1
    exact_scores = np.asarray([o.scores[0] for o in exact.outcomes])
    noisy_scores = np.asarray([o.scores[0] for o in noisy.outcomes])
    assert ((exact_scores == 9.0) == right).all()
    assert 0.22 < float((noisy_scores != exact_scores).mean()) < 0.38
    again = await lab.replay_loop(table, router=Scripted(["medium"]), judge=flip, max_iterations=1)
    assert [o.scores for o in again.outcomes] == [o.scores for o in noisy.outcomes]  # drawn once per answer


async def test_the_cascade_beats_the_single_shot_rule_in_the_loop() -> None:
    table = synthetic_table(300, seed=5)
    train, test = table.subset(range(200)), table.subset(range(200, 300))
    profiles = lab.profiles_for(train)

    def router(cascade: bool) -> FittedRouter:
        return FittedRouter(cost_weight=30.0, alpha=1.0, text=False, cascade=cascade).fit(train, profiles=profiles)

    before = await lab.replay_loop(test, router=router(False), max_iterations=3, profiles=profiles)
    after = await lab.replay_loop(test, router=router(True), max_iterations=3, profiles=profiles)
    assert before.repeats > 0.9  # the single-shot rule sends every refinement back to the rejected model
    assert after.repeats == 0.0
    assert after.quality > before.quality


async def test_bad_input_is_refused() -> None:
    table = synthetic_table(10)
    with pytest.raises(ValueError, match="max_iterations"):
        await lab.replay_loop(table, router=Scripted(["small"]), max_iterations=0)
    with pytest.raises(ValueError, match="own name"):
        await lab.replay_loop(table, router=Scripted(["small"]), judge=[lab.SimulatedJudge(), lab.SimulatedJudge()])
    with pytest.raises(ValueError, match="flip_rate"):
        lab.SimulatedJudge(flip_rate=1.5)
    partial = lab.OutcomeTable(
        name="gaps",
        models=("a", "b"),
        prompts=("p",),
        quality=np.array([[1.0, np.nan]]),
        cost=np.array([[0.1, np.nan]]),
    )
    with pytest.raises(ValueError, match="unobserved"):
        await lab.replay_loop(partial, router=Scripted(["a"]))


async def test_no_recorded_cost_overruns_its_reservation(caplog: pytest.LogCaptureFixture) -> None:
    """Fitted prices reproduce costs on average only, and a long answer comes after many short ones (a cap
    learned from lengths would be too small): every call's reserved worst case still covers its recorded cost."""
    rng = np.random.default_rng(3)
    n = 60
    chars = np.where(np.arange(n)[:, None] < 40, 40.0, 6000.0) * np.ones((n, 2))
    prompts = tuple(f"question {i} " + "x" * int(rng.integers(10, 400)) for i in range(n))
    tokens = np.asarray([len(p) for p in prompts])[:, None] / 4 + chars / 4
    cost = tokens * np.array([0.0005, 0.02]) / 1000 * rng.uniform(0.3, 3.0, (n, 2))  # far from any one price
    table = lab.OutcomeTable(
        name="uneven", models=("cheap", "dear"), prompts=prompts, quality=np.zeros((n, 2)), cost=cost,
        output_chars=chars,
    )  # fmt: skip
    caplog.set_level("WARNING", logger="orchestratex")
    result = await lab.replay_loop(table, router=Scripted(["cheap", "dear", "cheap"]), max_iterations=3, patience=3)
    assert not [r for r in caplog.records if "reserved worst case" in r.getMessage()]
    assert all(o.models == ("cheap", "dear", "cheap") for o in result.outcomes)  # nobody excluded from a run
    spent = sum(o.cost - o.judge_cost for o in result.outcomes)
    assert spent == pytest.approx(2 * cost[:, 0].sum() + cost[:, 1].sum(), rel=1e-9)  # at the recorded costs


async def test_bad_replay_arguments_are_refused_up_front() -> None:
    table = synthetic_table(5)
    with pytest.raises(UserError, match="progress_every is a number of prompts >= 1"):
        await lab.replay_loop(table, router=Scripted(["small"]), progress=print, progress_every=0)
    for price in ({"input_cost_per_1k": -1.0}, {"output_cost_per_1k": float("nan")}):
        with pytest.raises(UserError, match="cost_per_1k is US dollars per 1,000 tokens"):
            lab.SimulatedJudge(**price)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="score_noise"):
        lab.SimulatedJudge(score_noise=float("nan"))


async def test_arguments_of_the_wrong_kind_are_a_user_error() -> None:
    """They used to fail inside: `max_iterations="3"` with a TypeError from a comparison, `judge="strict"` with an
    AttributeError, a `SimulatedJudge` with a price or rate written as text or a name that is not text with a
    TypeError (and `flip_rate=True` was taken as 1)."""
    table = synthetic_table(5)
    router = Scripted(["small"])
    for bad in ("3", True, 2.5):
        with pytest.raises(UserError, match=r"^max_iterations is a whole number of attempts >= 1"):
            await lab.replay_loop(table, router=router, max_iterations=bad)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"^judge is a lab.SimulatedJudge or a list of them, not str 'strict'$"):
        await lab.replay_loop(table, router=router, judge="strict")  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"the list holds dict \{\}$"):
        await lab.replay_loop(table, router=router, judge=[lab.SimulatedJudge(), {}])  # type: ignore[list-item]
    for knob in ({"flip_rate": "0.1"}, {"flip_rate": True}, {"input_cost_per_1k": "0.001"}, {"right_score": None}):
        with pytest.raises(UserError, match=r"^SimulatedJudge\(\w+=\.\.\.\) is a number, not "):
            lab.SimulatedJudge(**knob)
    with pytest.raises(UserError, match="a judge's name is a plain model name"):
        lab.SimulatedJudge(name=5)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"^SimulatedJudge\(seed=\.\.\.\) is a whole number, not 'x'$"):
        lab.SimulatedJudge(seed="x")  # type: ignore[arg-type]


async def test_a_threshold_outside_the_judges_scale_is_named_as_the_replay_names_it() -> None:
    # it was refused at the first row by the orchestrator, as "evaluation_threshold: Input should be less than or
    # equal to 10", a name replay_loop does not have (and "6" as "evaluation_threshold must be a number")
    table = synthetic_table(5)
    for bad in (11, -1, "6", float("nan"), True):
        with pytest.raises(UserError, match=r"^threshold is the judges' score that accepts an answer, 0–10 \(e.g. 6\)"):
            await lab.replay_loop(table, router=Scripted(["small"]), threshold=bad)  # type: ignore[arg-type]
    assert (await lab.replay_loop(table, router=Scripted(["small"]), threshold=np.float64(6.0))).outcomes


async def test_an_answer_reports_its_recorded_length_not_its_stand_in_s() -> None:
    """A one-letter recorded answer is replayed as a marked stand-in longer than it; its usage (which the
    routers learn output costs from) is the recorded answer's, whatever the mark's length or the table's ids."""
    n = 6
    table = lab.OutcomeTable(
        name="short", models=("small", "large"), prompts=tuple(f"pick A or B ({i})" for i in range(n)),
        quality=np.ones((n, 2)), cost=np.full((n, 2), 0.001), output_chars=np.full((n, 2), 3.0),
        ids=tuple(f"a-very-long-sample-identifier-{i}" for i in range(n)),
    )  # fmt: skip
    router = Scripted(["small"])
    await lab.replay_loop(table, router=router, max_iterations=1)
    assert [f.output_tokens for f in router.feedback] == [1] * n


async def test_a_task_no_run_can_take_as_its_domain_is_refused_before_any_row() -> None:
    """A table's task goes to each run as its domain: `maths` (one typo from `math`) or an empty task was refused
    by the orchestrator at its first row, after the rows before it were replayed, with advice about a domain the
    user never wrote. It is now refused before anything is replayed, naming the table's task and its rows."""
    base = synthetic_table(12)
    for task in ("maths", ""):
        tasks = tuple("facts" if i < 8 else task for i in range(len(base)))
        table = lab.OutcomeTable(
            name="odd", models=base.models, prompts=base.prompts, quality=base.quality, cost=base.cost, tasks=tasks
        )
        router = Scripted(["small"])
        seen: list[int] = []

        def record(done: int, total: int, partial: lab.LoopReplay, seen: list[int] = seen) -> None:
            seen.append(done)

        with pytest.raises(UserError, match=rf"table 'odd': the task '{task}' \(rows 8, 9, 10, …\) cannot be a run"):
            await lab.replay_loop(table, router=router, progress=record, progress_every=1)
        assert seen == [] and router.tasks == []  # nothing was replayed


async def test_an_empty_prompt_is_refused_before_any_row() -> None:
    """Before: the run of a row whose prompt is blank failed with "the prompt is empty: give the text to
    orchestrate", after every row before it was replayed, and nothing said which row of the table it was."""
    base = synthetic_table(12)
    prompts = tuple("  \n" if i in (6, 9) else p for i, p in enumerate(base.prompts))
    table = lab.OutcomeTable(
        name="blank", models=base.models, prompts=prompts, quality=base.quality, cost=base.cost, ids=base.ids
    )
    router = Scripted(["small"])
    with pytest.raises(UserError, match=r"table 'blank': the prompts of rows 6 \(id '6'\), 9 \(id '9'\) are empty"):
        await lab.replay_loop(table, router=router)
    assert router.tasks == []  # nothing was replayed


async def test_a_recorded_answer_longer_than_a_default_window_is_replayed_and_judged() -> None:
    """Before: one recorded answer of 1,000,000 characters (a 250,000-token output cap for every run) made every run
    of the replay fail — "the prompt (about 23 tokens) leaves no room for an answer of up to 250,000 tokens in any
    model's context window" — and the replay reported quality 0 at $0 without a word. The replay's windows now hold
    the prompt, a refinement quoting the previous answer and the answer; a judge's too."""
    n = 4
    chars = np.full((n, 2), 100.0)
    chars[0, 0] = 1e6
    table = lab.OutcomeTable(
        name="long", models=("small", "large"), prompts=tuple(f"question {i}" for i in range(n)),
        quality=np.array([[0.0, 1.0]] * n), cost=np.tile([0.001, 0.01], (n, 1)), output_chars=chars,
    )  # fmt: skip
    result = await lab.replay_loop(table, router=Scripted(["small", "large"]), max_iterations=3, progress=False)
    assert [o.models for o in result.outcomes] == [("small", "large")] * n  # rejected, then refined
    assert result.quality == 1.0 and all(o.stop_reason == "threshold" for o in result.outcomes)


async def test_a_run_that_fails_on_its_own_is_raised_not_counted_as_a_wrong_answer() -> None:
    """Before: a row whose run failed (stop reason `error`: no model could be routed to, as every row of the replay
    above did) counted as quality 0 at $0, and the replay printed a plausible summary of runs that never happened.
    The run's error is now raised, naming the row; a run stopped by its budget is still an outcome of the replay."""
    from orchestratex.lab._loop import _check_run

    from .test_lab_loaders import _orchestration

    table = synthetic_table(6)
    failed = _orchestration("question", []).model_copy(
        update={"status": "failed", "stop_reason": "error", "error": "the prompt leaves no room for an answer"}
    )
    with pytest.raises(UserError, match=r"the run of row 2 \(id '2'\) of table 'synthetic' failed: the prompt leaves"):
        _check_run(table, 2, failed)
    budget = await lab.replay_loop(table, router=Scripted(["small"]), cost_limit=1e-9, progress=False)
    assert {o.stop_reason for o in budget.outcomes} == {"budget"} and budget.quality == 0.0


async def test_a_cost_limit_the_recorded_costs_fit_lets_the_runs_answer_on_a_table_without_answer_lengths() -> None:
    """Before: on a table that records no answer lengths (RouteLLM's, the docs' examples, one of your own),
    `profiles_for` fitted each price on the prompt's tokens alone while the replay answered with 100 tokens at that
    price too, so a call's reserved worst case was dozens of times its recorded cost: with `cost_limit=0.002` per
    prompt, 20 times the cheap model's recorded $0.0001, every run stopped on its budget before any answer."""
    n = 40
    table = lab.OutcomeTable(
        name="mine",
        models=("cheap", "strong"),
        prompts=tuple(f"question {i}" for i in range(n)),
        quality=np.tile([1.0, 1.0], (n, 1)),
        cost=np.tile([0.0001, 0.005], (n, 1)),
    )
    fits = lab.fit_prices(table)
    assert [f.relative_error for f in fits] == pytest.approx([0.0, 0.0], abs=0.05)
    router = FittedRouter(cost_weight=20, text=False).fit(table, profiles=lab.profiles_for(table))
    replay = await lab.replay_loop(table, router=router, cost_limit=0.002, progress=False)
    assert {o.stop_reason for o in replay.outcomes} == {"threshold"}  # before: {"budget"}, quality 0
    assert replay.quality == 1.0 and replay.shares() == {"cheap": 1.0}
    assert replay.cost == pytest.approx(0.0001 + replay.judge_cost)


def test_a_replay_shown_in_a_notebook_cell_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dataclass's repr listed every `LoopOutcome`: a replay of 2,000 prompts, the last line of a cell, showed
    360,000 characters (megabytes for a RouterBench split)."""
    from ..kernel_cells import run_cells

    cells = run_cells(
        [
            f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from lab_synthetic import synthetic_table
from orchestratex import lab
from orchestratex.routing.fitted import FittedRouter
table = synthetic_table(2000)
router = FittedRouter().fit(table, progress=False)  # (its first fit imports scikit-learn: a progress line)
loop = await lab.replay_loop(table, router=router, max_iterations=2, progress=False)
loop
""",
        ],
        tmp_path,
        monkeypatch,
        timeout=240,
    )
    shown = cells[0].text
    assert re.fullmatch(
        r"LoopReplay\('synthetic', prompts=2000, max_iterations=2, "
        r"quality=[01]\.\d{4}, cost=[0-9.e-]+, attempts=1\.\d\d\)",
        shown.strip(),
    ), shown[:500]


def test_the_judging_of_an_answer_whose_verdicts_were_not_kept_is_judging_cost() -> None:
    """Before: a prompt's `judge_cost` summed only its kept evaluations' cost, so judges paid for verdicts that were
    not kept (on their iteration's `failed_cost`) counted as answers: `cost - judge_cost` was more than the answers
    cost, and `LoopReplay.judge_cost` less than the judging did."""
    from orchestratex.lab._loop import _outcome
    from orchestratex.records import Evaluation, Iteration

    from .test_lab_loaders import _orchestration

    table = synthetic_table(3)
    doc = _orchestration("question", []).model_copy(
        update={
            "iterations": [
                Iteration(
                    index=1,
                    model_name="lab:small",
                    prompt="question",
                    phase="failed",
                    response="an answer",
                    cost=0.0001,
                    failed_cost=0.00004,  # its judges, no verdict kept
                ),
                Iteration(
                    index=2,
                    model_name="lab:large",
                    prompt="question",
                    phase="evaluated",
                    response="an answer",
                    cost=0.01,
                    evaluation=Evaluation(score=9.0, feedback="", judge_models=["labjudge:judge"], cost=0.00002),
                ),
            ],
            "total_cost": 0.01016,
            "final_response": "an answer",
            "final_model": "lab:large",
            "stop_reason": "threshold",
        }
    )
    by_name = {"lab:small": 0, "lab:medium": 1, "lab:large": 2}
    outcome = _outcome(table, 0, doc, by_name)
    assert outcome.judge_cost == pytest.approx(0.00006)
    assert outcome.cost - outcome.judge_cost == pytest.approx(0.0101)  # the two answers, nothing else


async def test_a_model_reserves_for_its_own_longest_answer_and_a_judge_for_its_verdict() -> None:
    """Before: every call of a replay reserved the longest recorded answer of any model (one output cap for all),
    judges too. A terse model at $0.03 per 1k output tokens whose answers cost $0.003 reserved $0.06 for a verbose
    cheap model's 2,000-token answers, a judge priced so reserved $0.06 for its 20-token verdict, and with
    `cost_limit=0.05` per prompt every run stopped on its budget before any answer."""
    n = 30
    prompts = tuple(f"question {i} " + "x" * (40 * (i % 7)) for i in range(n))
    prompt_tokens = np.asarray([len(p) / 4 for p in prompts])
    chars = np.tile([8000.0, 400.0], (n, 1))  # verbose: 2,000 tokens; terse: 100
    cost = np.stack([prompt_tokens * 0.0001 / 1000 + 2000 * 0.0001 / 1000, prompt_tokens * 0.01 / 1000 + 0.003], 1)
    table = lab.OutcomeTable(
        name="terse", models=("verbose", "terse"), prompts=prompts, quality=np.ones((n, 2)), cost=cost,
        output_chars=chars,
    )  # fmt: skip
    judge = lab.SimulatedJudge(input_cost_per_1k=0.01, output_cost_per_1k=0.03)  # priced as gpt-4-1106-preview
    replay = await lab.replay_loop(table, router=Scripted(["terse"]), judge=judge, cost_limit=0.05, progress=False)
    assert {o.stop_reason for o in replay.outcomes} == {"threshold"}  # before: {"budget"}, no answer
    assert all(o.models == ("terse",) for o in replay.outcomes)
    assert replay.cost - replay.judge_cost == pytest.approx(cost[:, 1].mean(), rel=1e-9)  # at the recorded costs
    assert max(o.cost for o in replay.outcomes) <= 0.05


async def test_a_call_reserves_for_the_input_tokens_it_is_billed_for() -> None:
    """Before: the lab's providers bill a call's input at four characters a token, but the budget reserved the byte
    bound of a provider without a tokenizer, four times as many tokens: on long prompts (RouterBench's few-shot
    prompts, 1,400 bytes at the median) a run's first answer and its judging reserved several times what they cost,
    and with `cost_limit=0.003` per prompt, three times the recorded $0.001 answer and its judging, every run
    stopped on its budget before any answer."""
    n = 30
    prompts = tuple(f"question {i} " + "y" * (3000 + 100 * (i % 20)) for i in range(n))
    tokens = np.asarray([len(p) / 4 for p in prompts])
    chars = np.tile([40.0, 40.0], (n, 1))
    cost = np.stack([tokens * 0.001 / 1000 + 10 * 0.002 / 1000, tokens * 0.002 / 1000 + 10 * 0.004 / 1000], 1)
    table = lab.OutcomeTable(
        name="long prompts", models=("a", "b"), prompts=prompts, quality=np.ones((n, 2)), cost=cost,
        output_chars=chars,
    )  # fmt: skip
    replay = await lab.replay_loop(table, router=Scripted(["a"]), cost_limit=0.003, progress=False)
    assert {o.stop_reason for o in replay.outcomes} == {"threshold"}  # before: {"budget"}, no answer
    assert replay.cost - replay.judge_cost == pytest.approx(cost[:, 0].mean(), rel=1e-9)
    assert max(o.cost for o in replay.outcomes) <= 0.003


async def test_a_model_billed_per_call_reserves_its_price_per_call_whatever_the_prompts_length() -> None:
    """Before: a table whose costs are per call (RouteLLM's: 1 for a GPT-4 call, 0 for Mixtral) was priced per
    token, so a long prompt's strong call reserved more than its recorded 1.0 ((150 + 164 tokens) at 5.3 per 1k,
    1.67), and with `cost_limit=1.5` the strong model was left out of those runs: the rejected weak model was asked
    again, answering the same, and the runs ended wrong. Now a call reserves its price per call, 1.0."""
    n = 40
    prompts = tuple(f"question {i}: " + "z" * (100 + 500 * i // n) for i in range(n))  # 25 to 150 tokens
    table = lab.OutcomeTable(
        name="per call",
        models=("strong", "weak"),
        prompts=prompts,
        quality=np.tile([1.0, 0.0], (n, 1)),
        cost=np.tile([1.0, 0.0], (n, 1)),
    )
    profiles = lab.profiles_for(table)
    strong = next(p for p in profiles if p.version == "strong")
    assert (strong.input_cost_per_1k, strong.worst_case_cost(10_000, 100)) == (0.0, 1.0)  # per call: 1.0
    router = FittedRouter(cost_weight=0, text=False).fit(table, profiles=profiles)
    replay = await lab.replay_loop(table, router=router, profiles=profiles, cost_limit=1.5, progress=False)
    # (the weak model first, free, the strong one rescuing it; before: ("weak", "weak", "weak") on long prompts)
    assert all(o.final_model == "strong" for o in replay.outcomes)
    assert replay.quality == 1.0 and replay.repeats == 0.0
    assert replay.cost - replay.judge_cost == pytest.approx(1.0)
    # a budget of one strong call and its judging buys it (a call reserved one token over its price: 1.01)
    exact = await lab.replay_loop(
        table, router=FittedRouter(cost_weight=0, text=False).fit(table, profiles=profiles), cost_limit=1.001,
        progress=False,
    )  # fmt: skip
    assert exact.quality == 1.0 and max(o.cost for o in exact.outcomes) <= 1.001


async def test_a_model_billed_per_call_reserves_its_price_whatever_its_answers_length() -> None:
    """Before: on a table that records answer lengths, a model billed the same on every prompt was priced per token
    (input and output fitted together, 28 % off each call's cost), so a long prompt's or a long answer's call
    reserved several times its price: with `cost_limit=0.012`, the strong model's $0.01 call and its judging, it was
    left out of most runs and the rejected weak model re-asked. Priced per call for its answer's tokens alone, a
    shorter answer must still report the tokens it is billed for: its usage priced below the bill made the run learn
    a surcharge and reserve up to four times the price."""
    n = 40
    prompts = tuple(f"q{i} " + "w " * (20 + 37 * i % 580) for i in range(n))
    chars = np.stack([200.0 + 97 * np.arange(n) % 3800, 4000.0 - 89 * np.arange(n) % 3800], 1)
    table = lab.OutcomeTable(
        name="per call", models=("weak", "strong"), prompts=prompts, quality=np.tile([0.0, 1.0], (n, 1)),
        cost=np.tile([0.001, 0.01], (n, 1)), output_chars=chars,
    )  # fmt: skip
    profiles = lab.profiles_for(table)
    assert [f.relative_error for f in lab.fit_prices(table)] == [0.0, 0.0]
    router = FittedRouter(cost_weight=0, text=False).fit(table, profiles=profiles)
    replay = await lab.replay_loop(table, router=router, profiles=profiles, cost_limit=0.012, progress=False)
    assert all(o.models == ("strong",) for o in replay.outcomes)  # before: mostly ("weak", "weak", "weak")
    assert replay.quality == 1.0 and replay.cost - replay.judge_cost == pytest.approx(0.01)


async def test_a_budget_of_one_call_buys_it_with_a_free_judge_not_with_a_paid_one() -> None:
    """What docs/routing.md says of RouteLLM's tables (1 per strong call): `cost_limit=1` leaves no room for the strong
    call and its judging at the default judge's prices, and buys it with a free judge."""
    n = 20
    table = lab.OutcomeTable(
        name="per call", models=("strong", "weak"), prompts=tuple(f"question {i}: " + "z" * 9 * i for i in range(n)),
        quality=np.tile([1.0, 0.0], (n, 1)), cost=np.tile([1.0, 0.0], (n, 1)),
    )  # fmt: skip
    profiles = lab.profiles_for(table)
    free = lab.SimulatedJudge(input_cost_per_1k=0, output_cost_per_1k=0)
    for judge, quality in ((None, 0.0), (free, 1.0)):
        router = FittedRouter(cost_weight=0, text=False).fit(table, profiles=profiles)
        replay = await lab.replay_loop(table, router=router, judge=judge, cost_limit=1, progress=False)
        assert replay.quality == quality
