from __future__ import annotations

import numpy as np
import pytest

from orchestratex.lab import OutcomeTable

from .lab_synthetic import MODELS, synthetic_table


def test_shape_checks_name_the_problem() -> None:
    with pytest.raises(ValueError, match="quality has shape"):
        OutcomeTable(name="t", models=("a", "b"), prompts=("p",), quality=np.zeros((1, 3)), cost=np.zeros((1, 2)))
    with pytest.raises(ValueError, match="names a model twice"):
        OutcomeTable(name="t", models=("a", "a"), prompts=("p",), quality=np.zeros((1, 2)), cost=np.zeros((1, 2)))
    with pytest.raises(ValueError, match="costs must be >= 0"):
        OutcomeTable(name="t", models=("a",), prompts=("p",), quality=np.zeros((1, 1)), cost=-np.ones((1, 1)))
    with pytest.raises(ValueError, match="unobserved"):
        OutcomeTable(name="t", models=("a",), prompts=("p",), quality=np.full((1, 1), np.nan), cost=np.zeros((1, 1)))
    with pytest.raises(ValueError, match="tasks for 1 rows"):
        OutcomeTable(
            name="t", models=("a",), prompts=("p",), quality=np.zeros((1, 1)), cost=np.zeros((1, 1)), tasks=("x", "y")
        )


def test_subset_models_tasks_and_concat() -> None:
    table = synthetic_table(10)
    sub = table.subset([3, 1])
    assert sub.prompts == (table.prompts[3], table.prompts[1])
    assert sub.ids == ("3", "1")
    np.testing.assert_array_equal(sub.quality, table.quality[[3, 1]])
    two = table.with_models("large", "small")
    np.testing.assert_array_equal(two.cost[0], [0.01, 0.0001])
    assert set(table.with_task("facts").tasks) == {"facts"}
    both = OutcomeTable.concat([table.subset([0]), table.subset([1])])
    assert len(both) == 2 and both.tasks == table.tasks[:2]
    with pytest.raises(KeyError, match="no model 'nope'"):
        table.model_index("nope")
    with pytest.raises(KeyError, match="no task"):
        table.with_task("poetry")
    with pytest.raises(IndexError):
        table.subset([10])


def test_kfold_partitions_rows_and_stratifies_by_task() -> None:
    table = synthetic_table(50)
    seen: list[int] = []
    for train, test in table.kfold(5, seed=1):
        assert set(train).isdisjoint(test)
        assert len(train) + len(test) == 50
        assert {table.tasks[i] for i in test} == {"facts", "proofs"}
        seen += test.tolist()
    assert sorted(seen) == list(range(50))
    with pytest.raises(ValueError, match="k must be"):
        next(table.kfold(1))


def test_unobserved_cells_and_complete_rows() -> None:
    quality = np.array([[1.0, np.nan], [0.0, 1.0]])
    table = OutcomeTable(name="h", models=MODELS[:2], prompts=("a", "b"), quality=quality, cost=quality * 0 + 0.1)
    assert not table.is_complete
    assert table.complete().prompts == ("b",)
    with pytest.raises(ValueError, match=r"table.complete\(\)"):
        table.require_complete()
