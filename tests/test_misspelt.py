"""A misspelt setting of a part configured by assignment (`router.explor = False` in a notebook between runs) is a
`UserError` naming the one meant: it made an attribute nothing read, and the part went on as before without a word."""

from __future__ import annotations

import pytest

from orchestratex import Orchestrator, UserError
from orchestratex.evaluation import LLMJudgeEvaluator
from orchestratex.providers import FunctionProvider
from orchestratex.routing import BayesianRouter
from orchestratex.routing.contextual import ContextualRouter
from orchestratex.routing.fitted import FittedRouter


@pytest.mark.parametrize(
    ("part", "name", "message"),
    [
        (BayesianRouter, "explor", r"^BayesianRouter has no setting 'explor': did you mean 'explore'\?$"),
        (BayesianRouter, "cost_sensitvity", r"did you mean 'cost_sensitivity'\?$"),
        (BayesianRouter, "seed", r"read by the constructor only: make a new BayesianRouter\(seed=\.\.\.\)$"),
        (
            ContextualRouter,
            "cost_wieght",
            r"^ContextualRouter has no setting 'cost_wieght': did you mean 'cost_weight'",
        ),
        (ContextualRouter, "min_trys", r"did you mean 'min_tries'\?$"),
        (FittedRouter, "cost_wieght", r"^FittedRouter has no setting 'cost_wieght': did you mean 'cost_weight'\?$"),
        (FittedRouter, "target_qualty", r"did you mean 'target_quality'\?$"),
        (LLMJudgeEvaluator, "panel_siz", r"^LLMJudgeEvaluator has no setting 'panel_siz': did you mean 'panel_size'"),
        (LLMJudgeEvaluator, "callibration", r"did you mean 'calibration'\?$"),
        (LLMJudgeEvaluator, "judges", r"set `evaluator.pinned` \(the judges `judges=` pins"),
        (lambda: FunctionProvider(str), "count_token", r"did you mean 'count_tokens'\?$"),
        (lambda: FunctionProvider(str), "func", r"^FunctionProvider has no setting 'func': did you mean 'fn'\?$"),
    ],
)
def test_a_misspelt_setting_is_refused_naming_the_one_meant(part: object, name: str, message: str) -> None:
    made = part()  # type: ignore[operator]
    with pytest.raises(UserError, match=message):
        setattr(made, name, False)
    assert name not in vars(made)


def test_settings_and_other_names_are_kept() -> None:
    router = BayesianRouter()
    router.explore = False
    router.notes = "warm-up"  # (a name of the user's own, close to no setting)
    assert (router.explore, vars(router)["notes"]) == (False, "warm-up")
    evaluator = LLMJudgeEvaluator()
    evaluator.pinned = ["sim:gpt-4o"]
    assert evaluator.admits(Orchestrator(simulate=True).catalog.get("sim:gpt-4o"))
    with pytest.raises(UserError, match="judges is a list of model names"):
        evaluator.pinned = "sim:gpt-4o"  # type: ignore[assignment]


def test_a_subclass_keeps_its_own_attributes() -> None:
    class Explorer(BayesianRouter):
        def __init__(self) -> None:
            super().__init__()
            self.explored = 0  # (close to `explore`: a name of its own, not a typo)

    class Tracing(FunctionProvider):
        pass

    assert Explorer().explored == 0
    tracing = Tracing(str)
    tracing.func = None
    assert vars(tracing)["func"] is None
