"""A run's settings of the same plain values as an earlier run's are validated once (`validated_settings`)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestratex import FunctionProvider, ModelCatalog, ModelProfile, Orchestrator
from orchestratex.exceptions import UserError
from orchestratex.orchestrator import _checks
from orchestratex.records import OrchestrationSettings


def counted_validations(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []

    class Counted(OrchestrationSettings):
        def __init__(self, **values: Any) -> None:
            made.append(values)
            super().__init__(**values)

    monkeypatch.setattr(_checks, "OrchestrationSettings", Counted)
    monkeypatch.setattr(_checks, "_SETTINGS", {})
    return made


def orchestrator() -> Orchestrator:
    catalog = ModelCatalog([ModelProfile(name=f"function:{n}", cost_per_1k_tokens=0.001) for n in "abc"])
    return Orchestrator(providers=[FunctionProvider(lambda request: "4")], catalog=catalog)


async def test_runs_with_the_same_settings_validate_them_once_and_each_keeps_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    orch = orchestrator()
    made = counted_validations(monkeypatch)
    options: dict[str, Any] = {"max_iterations": 1, "preferred_models": ["function:a", "function:b"]}
    first = await orch.run("What is 2+2?", **options)
    second = await orch.run("What is 2+2?", **options)
    assert len(made) == 1  # validated for the first run only
    one, two = first.orchestration.settings, second.orchestration.settings
    assert one == two and one is not two and one.preferred_models is not two.preferred_models
    assert one.model_fields_set == two.model_fields_set
    assert two.preferred_models is not None
    two.preferred_models.append("function:c")  # (each run's own)
    third = await orch.run("What is 2+2?", **options)
    assert third.orchestration.settings.preferred_models == ["function:a", "function:b"]
    await orch.run("What is 2+2?", max_iterations=2)
    assert len(made) == 2  # other values: validated


def test_a_value_of_another_type_is_checked_as_before() -> None:
    plain = {"max_iterations": 1, "evaluation_threshold": 1, "preferred_models": None, "cost_limit": None}
    settings = _checks.validated_settings(**plain)
    assert settings.evaluation_threshold == 1.0
    with pytest.raises(UserError, match="max_iterations must be a number, not bool True"):
        _checks.validated_settings(**{**plain, "max_iterations": True})  # (True == 1: not the same key)
    with pytest.raises(UserError, match="max_iterations"):
        _checks.validated_settings(**{**plain, "max_iterations": 0})
    with pytest.raises(UserError, match="max_iterations"):
        _checks.validated_settings(**{**plain, "max_iterations": 0})  # refused again: nothing was remembered
    assert _checks.validated_settings(**{**plain, "evaluation_threshold": 1.0}).evaluation_threshold == 1.0
