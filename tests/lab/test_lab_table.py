from __future__ import annotations

import re
from typing import Any, cast

import numpy as np
import pytest

from orchestratex import lab
from orchestratex.exceptions import UserError
from orchestratex.lab import OutcomeTable, fit_prices, profiles_for
from orchestratex.lab._loaders import routerbench_table
from orchestratex.routing.fitted import FittedRouter

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
    with pytest.raises(ValueError, match="k is a whole number between 2"):
        next(table.kfold(1))
    # (numpy's own errors were raised, about its SeedSequence: "expects int or sequence of ints", "non-negative")
    for seed in ("a", -1, 1.5, True):
        with pytest.raises(UserError, match=rf"^seed is a whole number >= 0, got {re.escape(repr(seed))}$"):
            next(table.kfold(5, seed=cast(Any, seed)))


def test_kfold_keeps_the_rows_of_a_repeated_prompt_in_one_fold() -> None:
    # Before: they were split across folds, so a held-out prompt was also one the router was fitted on (RouteLLM's
    # MMLU: 162 prompts in both, the TF-IDF router's APGR 0.707 instead of 0.701).
    base = synthetic_table(40)
    prompts = [*base.prompts[:30], *base.prompts[:10]]  # rows 30-39 repeat rows 0-9, under another task for some
    table = OutcomeTable(
        name="repeats",
        models=base.models,
        prompts=tuple(prompts),
        quality=base.quality,
        cost=base.cost,
        tasks=tuple(reversed(base.tasks)),
    )
    for train, test in table.kfold(5, seed=0):
        assert not {table.prompts[i] for i in train} & {table.prompts[i] for i in test}
    with pytest.raises(UserError, match=r"k is a whole number between 2 and the 30 distinct prompts, got 31"):
        next(table.kfold(31))
    # a table without repeats keeps its folds (those of the documented figures)
    folds = [test.tolist() for _, test in synthetic_table(20).kfold(4, seed=0)]
    assert folds == [[6, 7, 8, 16, 17], [2, 10, 12, 13, 15], [1, 4, 5, 11, 18], [0, 3, 9, 14, 19]]


def test_unobserved_cells_and_complete_rows() -> None:
    quality = np.array([[1.0, np.nan], [0.0, 1.0]])
    table = OutcomeTable(name="h", models=MODELS[:2], prompts=("a", "b"), quality=quality, cost=quality * 0 + 0.1)
    assert not table.is_complete
    assert table.complete().prompts == ("b",)
    with pytest.raises(ValueError, match=r"table.complete\(\)"):
        table.require_complete()


def test_ids_are_distinct_refused_when_repeated_and_kept_distinct_by_concat_and_subset() -> None:
    with pytest.raises(ValueError, match=r"ids must be distinct, \['q1'\] repeat"):
        OutcomeTable(
            name="t", models=("a",), prompts=("p", "q", "r"), quality=np.zeros((3, 1)), cost=np.zeros((3, 1)),
            ids=("q1", "q1", "q2"),
        )  # fmt: skip
    a, b = synthetic_table(4, name="a"), synthetic_table(3, name="b")  # both numbered from 0
    both = OutcomeTable.concat([a, b])
    assert both.ids == ("a/0", "a/1", "a/2", "a/3", "b/0", "b/1", "b/2")
    same = OutcomeTable.concat([a, a])  # even the same table twice
    assert len(set(same.ids)) == 8 and same.ids[0] == "0:a/0" and same.ids[4] == "1:a/0"
    distinct = OutcomeTable.concat([a.subset([0, 1]), a.subset([2, 3])])
    assert distinct.ids == ("0", "1", "2", "3")  # distinct ids are kept as they are
    assert a.subset([2, 0, 2, 2]).ids == ("2", "0", "2#2", "2#3")  # a bootstrap sample


@pytest.mark.parametrize("bad", [-5.0, 50.0, 10.5])
def test_quality_outside_0_to_10_is_refused_naming_the_model_and_the_first_bad_row(bad: float) -> None:
    quality = np.array([[1.0, 0.0], [0.5, bad], [bad, 1.0]])
    with pytest.raises(UserError, match=rf"table 't': model 'b' has quality {bad:g} on row 1 \(id 'q2'\); quality is "):
        OutcomeTable(
            name="t", models=("a", "b"), prompts=("p1", "p2", "p3"), quality=quality, cost=np.zeros((3, 2)),
            ids=("q1", "q2", "q3"),
        )  # fmt: skip
    with pytest.raises(UserError, match="between 0 and 10"):
        routerbench_table(
            [{"prompt": "p", "sample_id": "s1", "a": str(bad), "a|total_cost": "0.001"}], name="mine", task="x"
        )


def test_quality_on_0_1_and_1_10_scales_and_unobserved_cells_are_accepted() -> None:
    quality = np.array([[0.0, 1.0], [10.0, np.nan], [0.25, 7.0]])
    cost = np.where(np.isnan(quality), np.nan, 0.001)
    table = OutcomeTable(name="t", models=("a", "b"), prompts=("1", "2", "3"), quality=quality, cost=cost)
    assert table.quality[1, 0] == 10.0


@pytest.mark.parametrize("k", [2.5, True, "5"])
def test_kfold_refuses_a_k_that_is_not_a_whole_number(k: object) -> None:
    # Before: TypeError "'float' object cannot be interpreted as an integer" on the first fold.
    with pytest.raises(ValueError, match=r"k is a whole number between 2 and the number of rows \(120\)"):
        list(synthetic_table().kfold(k))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("models", "prompts", "message"),
    [
        ((1, 2), ("p", "q"), r"the model name 1 is not a name: give each model a string"),
        (("", "b"), ("p", "q"), r"the model name '' is not a name"),
        (("a", "b"), ("p", None), r"the prompt of row 1 is None, not a string"),
    ],
)
def test_model_names_and_prompts_that_are_not_strings_are_refused(
    models: tuple[object, ...], prompts: tuple[object, ...], message: str
) -> None:
    # Before: a router fitted on int model names saved a file it refused to load; a None prompt failed in fit
    # with "'NoneType' object has no attribute 'rstrip'".
    with pytest.raises(UserError, match=rf"^table 't': {message}"):
        OutcomeTable(name="t", models=models, prompts=prompts, quality=np.eye(2), cost=np.ones((2, 2)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rows", "hint"),
    [([1.5], r"got \[1.5\]"), (np.array([True, False, True]), r"for a True/False mask, give np.flatnonzero\(mask\)")],
)
def test_subset_refuses_rows_that_are_not_whole_row_numbers(rows: object, hint: str) -> None:
    # Before: 1.5 was row 1, and a True/False mask was read as the rows 1, 0, 1, in silence.
    with pytest.raises(UserError, match=rf"rows are whole row numbers of table .*, e.g. \[0, 2, 5\].*{hint}"):
        synthetic_table(3).subset(rows)  # type: ignore[arg-type]


def test_with_task_and_with_models_take_names_as_arguments() -> None:
    """A list passed whole (`table.with_task(["mbpp"])`, as `load_routerbench(tasks=[...])` takes them) failed with
    `TypeError: unhashable type: 'list'` or a KeyError quoting the list as one model, and `with_task()` with no
    task returned a table of no rows, which failed later as if a filter had left none."""
    table = synthetic_table(10)
    task = table.task_names[0]
    with pytest.raises(UserError, match=r"^with_task\(\) takes task names as arguments, .*: table.with_task\(\*\["):
        table.with_task([task])  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"^with_models\(\) takes model names as arguments, .*with_models\(\*\("):
        table.with_models(tuple(table.models))  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"^with_task\(\) names no task: give at least one"):
        table.with_task()
    with pytest.raises(UserError, match=r"^with_models\(\) names no model: give at least one"):
        table.with_models()
    assert len(table.with_task(task)) > 0 and table.with_models(*table.models[:1]).models == table.models[:1]


@pytest.mark.parametrize("length", [float("nan"), float("inf"), -5.0])
def test_an_observed_answer_length_that_is_not_one_is_refused_naming_the_cell(length: float) -> None:
    """Before, the table took it, and `profiles_for` failed inside scipy ("array must not contain infs or NaNs"),
    `replay_loop` with "cannot convert float NaN to integer"."""
    chars = np.full((4, 2), 100.0)
    chars[2, 1] = length
    with pytest.raises(UserError, match=r"table 't': output_chars of model 'b' on row 2 \(id 'r2'\) is (nan|inf|-5)"):
        OutcomeTable(
            name="t", models=("a", "b"), prompts=("p0", "p1", "p2", "p3"), quality=np.ones((4, 2)),
            cost=np.full((4, 2), 0.001), ids=("r0", "r1", "r2", "r3"), output_chars=chars,
        )  # fmt: skip


def test_an_unobserved_cell_may_have_no_answer_length() -> None:
    quality = np.ones((3, 2))
    quality[1, 0] = np.nan
    chars = np.full((3, 2), 80.0)
    chars[1, 0] = np.nan
    table = OutcomeTable(
        name="gaps", models=("a", "b"), prompts=("p0", "p1", "p2"), quality=quality,
        cost=np.where(np.isnan(quality), np.nan, 0.001), output_chars=chars,
    )  # fmt: skip
    assert [f.relative_error < 1e-6 for f in fit_prices(table)] == [True, True]  # fitted from the observed cells


def test_a_table_given_lists_or_numpy_strings_is_a_table_like_any_other() -> None:
    """Before: a table built with lists (`models=["x", "y"]`, as from a DataFrame's `.tolist()`) kept them as lists,
    so `OutcomeTable.concat` with a table of the same models given as a tuple said "have different models"; one built
    with numpy arrays of strings failed in `model_index` ("'numpy.ndarray' object has no attribute 'index'"); and a
    single string was read one character per model."""
    lists: dict[str, Any] = {"models": ["x", "y"], "prompts": ["p", "q"], "tasks": ["t", "t"], "ids": ["1", "2"]}
    listed = OutcomeTable(name="a", quality=np.ones((2, 2)), cost=np.ones((2, 2)), **lists)
    tupled = OutcomeTable(name="b", models=("x", "y"), prompts=("r",), quality=np.ones((1, 2)), cost=np.ones((1, 2)))
    both = OutcomeTable.concat([listed, tupled])
    assert both.models == ("x", "y") and both.prompts == ("p", "q", "r") and len(both) == 3
    assert (listed.models, listed.prompts, listed.tasks, listed.ids) == (("x", "y"), ("p", "q"), ("t", "t"), ("1", "2"))
    arrays: dict[str, Any] = {"models": np.array(["x", "y"]), "prompts": np.array(["p", "q"])}
    numpy_built = OutcomeTable(name="n", quality=np.ones((2, 2)), cost=np.ones((2, 2)), **arrays)
    assert numpy_built.model_index("y") == 1 and [type(m) for m in numpy_built.models] == [str, str]
    text: Any = "xy"
    with pytest.raises(UserError, match=r"table 's': models is a list \(one per column\), not the string 'xy'"):
        OutcomeTable(name="s", models=text, prompts=("p",), quality=np.ones((1, 2)), cost=np.ones((1, 2)))


@pytest.mark.parametrize("provider", ["", "x:y", " lab", 5])
def test_profiles_for_refuses_a_provider_that_is_not_a_plain_name(provider: Any) -> None:
    """Before: `profiles_for(table, provider="")` (or `5`) failed with a pydantic ValidationError about a profile,
    and `"x:y"` or `" lab"` made profiles named `x:y:a` and ` lab:a`."""
    table = synthetic_table(4)
    with pytest.raises(UserError, match=r"provider is a plain name .*e.g. provider='lab'"):
        profiles_for(table, provider=provider)
    assert [p.name for p in profiles_for(table, provider="routerbench")][:1] == ["routerbench:small"]


def test_a_table_without_tasks_has_the_one_task_its_rows_are_replayed_and_fitted_under() -> None:
    """Before: a table built without `tasks` (as the docs' examples build one) had no `task_names` and
    `with_task("general")` raised KeyError "has no task ['general']; it has []", though every replay and fit takes
    its rows as `general` (and so does the same table concatenated with one that has tasks)."""
    table = OutcomeTable(name="mine", models=("a",), prompts=("p", "q"), quality=np.ones((2, 1)), cost=np.ones((2, 1)))
    assert table.task_names == ("general",) and table.task_of(1) == "general"
    assert table.with_task("general").prompts == ("p", "q")
    with pytest.raises(KeyError, match=r"table 'mine' has no task \['facts'\]; it has \['general'\]"):
        table.with_task("facts")
    assert FittedRouter(text=False).fit(table).domain_row("general") == 0


def test_ids_given_as_numbers_are_strings_like_row_numbers() -> None:
    """Before: ids from a pandas index or `np.arange` were kept as numbers: a replay's `LoopOutcome` holding one
    could not be written as JSON ("Object of type int64 is not JSON serializable"), `concat` kept both the id 100
    and the id "100", and an id of 1.5 or None was taken without a word."""
    import json

    def table(name: str, ids: object) -> OutcomeTable:
        n = len(ids)  # type: ignore[arg-type]
        return OutcomeTable(
            name=name, models=("a",), prompts=tuple(f"p{i}" for i in range(n)), quality=np.ones((n, 1)),
            cost=np.ones((n, 1)), ids=ids,  # type: ignore[arg-type]
        )  # fmt: skip

    numbered = table("n", np.arange(100, 103))
    assert numbered.ids == ("100", "101", "102") and all(type(i) is str for i in numbered.ids)
    assert table("m", [7, "x"]).ids == ("7", "x")
    assert OutcomeTable.concat([numbered, table("s", ["100", "7"])]).ids == ("n/100", "n/101", "n/102", "s/100", "s/7")
    for bad in (1.5, None, True):
        with pytest.raises(
            UserError, match=r"table 'b': the id of row 1 is .*: an id is a string \(or a whole number\)"
        ):
            table("b", ["x", bad])
    assert json.loads(json.dumps(numbered.ids)) == ["100", "101", "102"]  # before: int64 is not JSON serializable


def test_a_bootstrap_of_a_bootstrap_sample_keeps_its_ids_distinct() -> None:
    """Before: a bootstrap sample holds `x` and `x#2`; resampling it (a nested bootstrap) took both twice, named both
    second copies `x#2`, and failed with "ids must be distinct, ['x#2'] repeat" about ids the user never gave."""
    table = synthetic_table(40)
    rng = np.random.default_rng(0)
    sample = table.subset(rng.integers(0, len(table), len(table)))
    assert any(i.endswith("#2") for i in sample.ids)  # (the sample repeats rows)
    again = sample.subset(np.arange(len(sample)).repeat(2))  # every row of the sample twice
    assert len(set(again.ids)) == len(again) == 2 * len(sample)
    assert again.ids[::2] == sample.ids  # each row's first copy keeps its id
    first = table.subset([0, 0, 1])
    assert first.ids == ("0", "0#2", "1")
    assert first.subset([0, 0, 1]).ids == ("0", "0#3", "0#2")  # `0#2` is taken: the next free number
    for _ in range(20):
        rows = rng.integers(0, len(sample), len(sample))
        nested = sample.subset(rows)
        assert len(set(nested.ids)) == len(nested) and nested.prompts == tuple(sample.prompts[i] for i in rows)


def test_concat_takes_a_generator_of_tables_and_says_what_it_takes() -> None:
    """Before: `OutcomeTable.concat(t for t in tables)` failed with "'generator' object is not subscriptable", one
    table alone with "'OutcomeTable' object is not subscriptable", and a list holding something else with an
    AttributeError on `.models`."""
    a, b = synthetic_table(10, name="a"), synthetic_table(6, seed=1, name="b")
    joined = OutcomeTable.concat(t for t in (a, b))
    assert len(joined) == 16 and joined.prompts == a.prompts + b.prompts
    with pytest.raises(UserError, match=r"concat takes a list of tables, not one table \('a'\): put them in a list"):
        OutcomeTable.concat(a)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="concat takes a list of OutcomeTables; the list holds str 'b'"):
        OutcomeTable.concat([a, "b"])  # type: ignore[list-item]
    with pytest.raises(UserError, match=r"concat takes a list of OutcomeTables, e.g. OutcomeTable.concat\(\[a, b\]\)"):
        OutcomeTable.concat({"a": a})  # type: ignore[dict-item]
    with pytest.raises(UserError, match="nothing to concatenate"):
        OutcomeTable.concat(t for t in cast(list[OutcomeTable], []))


async def test_tables_of_right_and_wrong_answers_and_of_judge_scores_are_not_concatenated() -> None:
    """Before: GSM8K's 1/0 table and MT-Bench's 1–10 scores (RouteLLM's, whose ids are made to concatenate) made one
    table read on the 1–10 scale: GSM8K's right answers became scores of 1, judged wrong, and `replay_loop` reported
    the mean of the two scales (5.74) in silence. Rescaled to one scale, they concatenate."""
    import dataclasses

    n = 6
    right_wrong = OutcomeTable(
        name="gsm8k", models=("a", "b"), prompts=tuple(f"sum {i}" for i in range(n)),
        quality=np.tile([1.0, 0.0], (n, 1)), cost=np.tile([1.0, 0.0], (n, 1)), ids=tuple(f"g{i}" for i in range(n)),
    )  # fmt: skip
    scores = OutcomeTable(
        name="mt_bench", models=("a", "b"), prompts=tuple(f"write {i}" for i in range(n)),
        quality=np.tile([9.0, 4.0], (n, 1)), cost=np.tile([1.0, 0.0], (n, 1)), ids=tuple(f"m{i}" for i in range(n)),
    )  # fmt: skip
    with pytest.raises(UserError, match=r"'gsm8k' \(quality 0–1\) and 'mt_bench' \(scores up to 9\) are on different"):
        OutcomeTable.concat([right_wrong, scores])
    both = OutcomeTable.concat([right_wrong, dataclasses.replace(scores, quality=scores.quality / 10)])
    replay = await lab.replay_loop(both, router=FittedRouter(text=False).fit(both), progress=False)
    assert replay.quality == pytest.approx(0.95)  # a's answers: 1 and 0.9
