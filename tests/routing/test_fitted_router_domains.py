"""A `FittedRouter`'s table tasks matched as a run reads its domain: a built-in domain in any case."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from orchestratex import lab
from orchestratex.routing import Task
from orchestratex.routing.fitted import FittedRouter

ROWS = 120


def _table() -> lab.OutcomeTable:
    """`small` is right on every `Math` prompt and wrong on every `Coding` one; `large` is always right."""
    tasks = tuple("Math" if i % 2 else "Coding" for i in range(ROWS))
    quality = np.array([[1.0 if t == "Math" else 0.0, 1.0] for t in tasks])
    return lab.OutcomeTable(
        name="capitalised",
        models=("small", "large"),
        prompts=tuple(f"question {i}" for i in range(ROWS)),
        quality=quality,
        cost=np.tile([0.0001, 0.01], (ROWS, 1)),
        tasks=tasks,
    )


def test_a_run_s_lowercase_domain_finds_the_table_s_capitalised_task(tmp_path: Path) -> None:
    table = _table()
    router = FittedRouter(cost_weight=20, text=False).fit(table)
    profiles = lab.profiles_for(table)
    for r in (router, FittedRouter.load(router.save(tmp_path / "r.npz"))):
        assert r.decide(Task(prompt="question 7", domain="math"), profiles).model_name == "lab:small"
        assert r.decide(Task(prompt="question 8", domain="coding"), profiles).model_name == "lab:large"
        assert r.predict_quality("question 7", "math")[0] == r.predict_quality("question 7", "Math")[0] > 0.9


async def test_the_loop_routes_by_task_as_the_offline_replay_does() -> None:
    table = _table()
    profiles = lab.profiles_for(table)
    offline = await lab.replay(FittedRouter(cost_weight=20, text=False).fit(table), table, profiles, progress=False)
    loop = await lab.replay_loop(
        table, router=FittedRouter(cost_weight=20, text=False).fit(table), max_iterations=1, progress=False
    )
    # the orchestrator keeps `Math` as `math`: the router still routes Math to small, Coding to large
    assert offline.point().shares == {"small": 0.5, "large": 0.5}
    assert loop.shares() == {"small": 0.5, "large": 0.5}
    assert loop.quality == 1.0


def test_a_domain_that_is_not_text_reads_the_overall_means() -> None:
    router = FittedRouter(text=False).fit(_table())
    overall = router.predict_quality("question 1", "a task the table does not have")
    assert router.predict_quality("question 1", None).tolist() == overall.tolist()  # type: ignore[arg-type]


def test_a_task_written_in_two_cases_is_one_domain() -> None:
    """Before: a table whose rows say `Coding` and `coding` (two tables concatenated) was fitted as two domains, and
    a run's `coding` (as every run, replay and prediction reads both) used the rows written `coding` alone."""
    n = 40
    tasks = ("Coding",) * n + ("coding",) * n + ("facts",) * n
    quality = np.asarray([[0.0, 1.0]] * n + [[0.6, 0.5]] * n + [[1.0, 0.0]] * n)
    table = lab.OutcomeTable(
        name="mixed",
        models=("a", "b"),
        prompts=tuple(f"question {i}" for i in range(3 * n)),
        quality=quality,
        cost=np.ones((3 * n, 2)),
        tasks=tasks,
    )
    router = FittedRouter(text=False, domain_prior=0).fit(table)
    for domain in ("coding", "Coding", " CODING"):
        np.testing.assert_allclose(router.predict_quality("question", domain), [0.3, 0.75])  # before: [0.6, 0.5]
    np.testing.assert_allclose(router.predict_quality("question", "facts"), [1.0, 0.0])
