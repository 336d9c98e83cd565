# mypy: disable-error-code="arg-type,assignment"
# (the signatures say int and float; what a notebook passes is numpy's, which the code takes)
"""Numpy's numbers are numbers: a notebook sweeps knobs with `np.arange` / `np.linspace` and passes what they give.

Before, `router.cost_weight = np.int64(10)`, `FittedRouter(alpha=np.float32(3))`, `horizon=np.int64(2)`,
`table.kfold(np.int64(5))`, `replay_loop(max_iterations=np.int64(2))`, `SimulatedJudge(seed=np.int64(1))` and
`load_history(page_size=np.int64(2))` were refused with "must be a whole number / a finite number … got
np.int64(10)", which they are.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from orchestratex import lab
from orchestratex.routing import BayesianRouter
from orchestratex.routing.contextual import ContextualRouter
from orchestratex.routing.fitted import FittedRouter
from orchestratex.stores import MemoryStore

from .lab_synthetic import synthetic_table
from .test_lab_loaders import SESSION, THREAD, _orchestration


def test_router_knobs_take_numpy_numbers_and_save_them_as_json(tmp_path: Path) -> None:
    table = synthetic_table(60)
    router = FittedRouter(alpha=np.float32(3.0), horizon=np.int64(2), judge_error=np.float64(0.1)).fit(table)
    for weight in np.arange(0, 30, 10):  # np.int64
        router.cost_weight = weight
        assert router.cost_weight == float(weight) and type(router.cost_weight) is float
    assert type(router.horizon) is int and router.horizon == 2
    path = router.save(tmp_path / "r.npz")
    with zipfile.ZipFile(path) as archive, archive.open("meta.npy") as fh:
        meta = json.loads(str(np.lib.format.read_array(fh)))
    assert (meta["cost_weight"], meta["alpha"], meta["horizon"]) == (20.0, 3.0, 2)
    loaded = FittedRouter.load(path)
    assert (loaded.cost_weight, loaded.horizon) == (20.0, 2)
    assert BayesianRouter(cost_sensitivity=np.int64(2), horizon=np.int64(2)).cost_sensitivity == 2.0
    assert ContextualRouter(min_tries=np.int64(2), explore_share=np.float32(0.5)).min_tries == 2


def test_kfold_takes_numpy_integers() -> None:
    table = synthetic_table(30)
    for k in np.arange(2, 4):
        assert [f.tolist() for _, f in table.kfold(k, seed=np.int64(1))] == [
            f.tolist() for _, f in table.kfold(int(k), seed=1)
        ]


async def test_replay_loop_and_its_judge_take_numpy_integers() -> None:
    table = synthetic_table(20)
    judge = lab.SimulatedJudge(flip_rate=0.3, seed=np.int64(4))
    assert judge == lab.SimulatedJudge(flip_rate=0.3, seed=4)  # the same draws
    got = await lab.replay_loop(
        table,
        router=FittedRouter(cost_weight=20.0).fit(table),
        judge=judge,
        max_iterations=np.int64(2),
        progress=False,
    )
    again = await lab.replay_loop(
        table, router=FittedRouter(cost_weight=20.0).fit(table), judge=lab.SimulatedJudge(flip_rate=0.3, seed=4),
        max_iterations=2, progress=False,
    )  # fmt: skip
    assert got.max_iterations == 2 and [o.models for o in got.outcomes] == [o.models for o in again.outcomes]


async def test_a_replay_loop_of_a_numpy_threshold_is_written_as_json() -> None:
    """Before: a threshold sweep (`for threshold in np.arange(5, 9)`, as docs/routing.md advises replaying at a few
    thresholds) kept numpy's numbers in the replay's settings, and `json.dumps(replay.settings)` failed with
    "Object of type int64 is not JSON serializable"."""
    table = synthetic_table(20)
    for threshold in np.arange(5, 7):
        replay = await lab.replay_loop(
            table,
            router=FittedRouter(cost_weight=20.0).fit(table),
            threshold=threshold,
            cost_limit=np.float32(0.05),
            progress=False,
        )
        written = json.loads(json.dumps({"settings": replay.settings, "summary": replay.summary()}))
        assert written["settings"]["threshold"] == float(threshold)
        assert written["settings"]["cost_limit"] == float(np.float32(0.05))


async def test_load_history_takes_a_numpy_page_size() -> None:
    async with MemoryStore() as store:
        await store.create_session(SESSION)
        await store.create_thread(THREAD)
        for i in range(3):
            await store.create_orchestration(_orchestration(f"question {i}", [("sim:a", 6.0, 0.01)]))
        table = await lab.load_history(store, page_size=np.int64(2))
    assert table.prompts == ("question 0", "question 1", "question 2")
