"""A setting assigned on a built orchestrator under a name it does not have (the constructor's `on_event`, a typo) is
refused with a `UserError` naming the one meant; it made an attribute that no run read, without a word."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestratex import Orchestrator, UserError

from ..kernel_cells import run_cells


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("on_event", r"^Orchestrator has no setting 'on_event': set `orchestrator.handlers`"),
        ("max_iteration", r"^Orchestrator has no setting 'max_iteration': did you mean 'max_iterations'\?$"),
        ("evaluation_treshold", r"did you mean 'evaluation_threshold'\?$"),
        ("handler", r"did you mean 'handlers'\?$"),
        ("judge", r"did you mean 'judges'\?$"),
        ("simulate", r"read by the constructor only: make a new `Orchestrator\(simulate=...\)`$"),
        # run options, which no run read from the orchestrator: `cost_limit = 0.05` left the next runs without a budget
        (
            "cost_limit",
            r"^Orchestrator has no setting 'cost_limit': it is an option of each run: "
            r"`run\(\.\.\., cost_limit=\.\.\.\)` \(run_sync and run_stream take it too\), or a budget shared by a "
            r"session's runs: `create_session\(",
        ),
        ("preferred_models", r"it is an option of each run: `run\(\.\.\., preferred_models=\.\.\.\)`.*create_session"),
        ("stop_sequences", r"it is an option of each run: `run\(\.\.\., stop_sequences=\.\.\.\)`"),
        ("user_id", r"it is an option of each run: `run\(\.\.\., user_id=\.\.\.\)`"),
        ("threshold", r"^Orchestrator has no setting 'threshold': did you mean 'evaluation_threshold'\?$"),
    ],
)
def test_a_setting_it_does_not_have_is_refused(name: str, message: str) -> None:
    orchestrator = Orchestrator(simulate=True)
    with pytest.raises(UserError, match=message):
        setattr(orchestrator, name, 1)
    assert name not in vars(orchestrator)


def test_names_of_ones_own_are_kept() -> None:
    class Mine(Orchestrator):
        def __init__(self) -> None:
            super().__init__(simulate=True)
            self.team = "search"  # a subclass's own attributes, one whose name is close to a setting's too
            self.max_iteration_count = 0
            self.cost_limit = 0.5  # (one it passes to its runs itself)

    mine = Mine()
    mine.label = "nightly"
    mine.max_iterations = 2
    with pytest.raises(UserError, match=r"set `orchestrator\.handlers`"):
        mine.on_event = print
    assert (mine.team, mine.label, mine.max_iterations) == ("search", "nightly", 2)  # type: ignore[attr-defined]
    assert mine.cost_limit == 0.5


def test_handlers_set_in_a_notebook_cell_as_the_constructor_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells = run_cells(
        [
            "from orchestratex import Orchestrator\norch = Orchestrator(simulate=True)",
            "seen = []\norch.on_event = seen.append",
            "result = await orch.run('Hello', max_iterations=1)\nprint('events seen:', len(seen), len(result.events))",
        ],
        tmp_path,
        monkeypatch,
    )
    assert cells[1].errors == ["UserError"], cells[1].text
    assert "events seen: 0 5" in cells[2].text, cells[2].text  # nothing was taken: the user knows it


def test_simulated_follows_the_providers_and_is_not_set() -> None:
    """`orchestrator.simulated = False` (meant to switch the simulator off) was kept: the next runs were still answered
    by the simulator but said `simulated=False` (their events, `RunResult.simulated`, the notebook's summary), and an
    orchestrator with real models would resume them, finishing them with real, paid calls."""
    orchestrator = Orchestrator(simulate=True)
    with pytest.raises(UserError, match=r"^Orchestrator\.simulated says whether every provider is the simulator"):
        orchestrator.simulated = False
    assert orchestrator.simulated is True
    orchestrator.providers["sim"].latency_scale = 0  # type: ignore[attr-defined]
    result = orchestrator.run_sync("Name a prime number", max_iterations=1)
    assert result.simulated and all(e.simulated for e in result.events if e.type == "orchestration_started")
    orchestrator.close()


def test_a_budget_set_on_the_orchestrator_is_refused_not_left_unread() -> None:
    """`orchestrator.cost_limit = 0.000001` in a notebook cell was kept as an attribute no run read: the next run had no
    budget and spent what it would have without one."""
    orchestrator = Orchestrator(simulate=True)
    orchestrator.providers["sim"].latency_scale = 0  # type: ignore[attr-defined]
    with pytest.raises(UserError, match="cost_limit"):
        orchestrator.cost_limit = 0.000001
    assert "cost_limit" not in vars(orchestrator)
    result = orchestrator.run_sync("Name a prime number", max_iterations=1, cost_limit=0.000001)
    assert result.stop_reason == "budget" and result.total_cost == 0.0
    orchestrator.close()
