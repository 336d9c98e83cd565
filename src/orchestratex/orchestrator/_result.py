"""What `Orchestrator.run` takes (`RunOptions`) and returns (`RunResult`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from .._dollars import dollars
from ..events import EVENT_ADAPTER, Event, EventHandler
from ..records import Orchestration, OrchestrationStatus, Session, StopReason, Thread

__all__ = ["RunOptions", "RunResult"]


class RunOptions(TypedDict, total=False):
    """The options of `run`, `run_sync` and `run_stream` (all optional, keyword-only): `on_event`, and
    those they pass on to `prepare`."""

    on_event: EventHandler | Sequence[EventHandler]
    """Handlers for this run's events, besides the orchestrator's own."""

    session: Session | str | None
    thread: Thread | str | None
    user_id: str | None
    """The user of the new session made when neither `session` nor `thread` is given (default `"local"`); with
    either, left out or the session's owner (another user is refused)."""
    domain: str | None
    context: str | None
    max_iterations: int | None
    evaluation_threshold: float | None
    preferred_models: Sequence[str] | None
    cost_limit: float | None
    max_output_tokens: int | None
    patience: int | None
    stop_sequences: Sequence[str] | None


@dataclass(slots=True)
class RunResult:
    """The outcome of one orchestration: its document (with every iteration) and its events."""

    orchestration: Orchestration
    """The stored orchestration: its settings, every iteration (answer, evaluation, costs, errors) and how it ended."""
    events: list[Event] = field(default_factory=list)
    """The events the run emitted, in order."""
    simulated: bool = False
    """True when the answers came from the offline simulator, not real models."""

    @property
    def id(self) -> str:
        """The orchestration's id (24 hex digits), as the store and the REST API know it."""
        return self.orchestration.id

    @property
    def final_response(self) -> str | None:
        """The best-scoring answer (not merely the last); None when the run ended without one."""
        return self.orchestration.final_response

    @property
    def final_score(self) -> float | None:
        """The judges' score (0–10) of `final_response`; None without an answer, or for one returned unjudged."""
        return self.orchestration.final_score

    @property
    def final_model(self) -> str | None:
        """The model that wrote `final_response`."""
        return self.orchestration.final_model

    @property
    def total_cost(self) -> float:
        """US dollars the run spent in all: every answer and every judge (exact)."""
        return self.orchestration.total_cost

    @property
    def overage_cost(self) -> float:
        """The part of `total_cost` providers billed above the worst case reserved for their calls."""
        return self.orchestration.overage_cost

    @property
    def stop_reason(self) -> StopReason | None:
        """Why the run stopped: `threshold`, `max_iterations`, `budget`, `no_improvement`, `cancelled` or `error`; None
        while it runs."""
        return self.orchestration.stop_reason

    @property
    def status(self) -> OrchestrationStatus:
        """`completed` (it has an answer), `failed`, `cancelled`, or `pending`/`running` for a run not ended
        (suspended)."""
        return self.orchestration.status

    @property
    def error(self) -> str | None:
        """Why the run ended without an answer, or stopped early (None when it completed normally)."""
        return self.orchestration.error

    @property
    def iterations(self) -> int:
        """How many attempts the run made."""
        return len(self.orchestration.iterations)

    def __repr__(self) -> str:
        score = "None" if self.final_score is None else f"{self.final_score:g}"
        error = self.error
        return (
            f"RunResult(id={self.id!r}, status={self.status!r}, final_model={self.final_model!r}, "
            f"final_score={score}, iterations={self.iterations}, total_cost={dollars(self.total_cost)}, "
            f"stop_reason={self.stop_reason!r}, final_response={_cut(self.final_response)!r}"
            + ("" if error is None else f", error={_cut(error)!r}")
            + ")"
        )

    def _summary_rows(self) -> list[tuple[str, str]]:
        score = "–" if self.final_score is None else f"{self.final_score:g} / 10"
        model = (self.final_model or "–") + (" (simulated)" if self.simulated else "")
        rows = [
            ("status", f"{self.status} ({self.stop_reason})" if self.stop_reason else self.status),
            ("model", model),
            ("score", score),
            ("iterations", str(self.iterations)),
            ("cost", dollars(self.total_cost)),
        ]
        if self.error is not None and self.final_response:  # (with no answer, the error is shown in its place)
            rows.append(("error", self.error))  # why a run with an answer stopped early (its budget, a cancel)
        return rows

    def _repr_html_(self) -> str:
        """A summary table and the final answer, for Jupyter."""
        from html import escape

        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td style='text-align:left'>{escape(v)}</td></tr>"
            for k, v in self._summary_rows()
        )
        answer = escape(self.final_response or self.orchestration.error or "")
        return (
            f"<div><b>RunResult</b> <code>{escape(self.id)}</code><table>{rows}</table>"
            f"<pre style='white-space:pre-wrap'>{answer}</pre></div>"
        )

    def __rich__(self) -> object:
        """A panel with the summary and the final answer, for `rich.print`."""
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        from .._controls import harmless

        # (a model's answer holding an escape sequence drove the terminal — `ESC ]0;…` set its title, `ESC [2J`
        # cleared it, an unended one swallowed the rest of the panel —: its control characters are shown as symbols)
        table = Table.grid(padding=(0, 2))
        for key, value in self._summary_rows():
            table.add_row(Text(key, style="bold"), Text(harmless(value)))
        body = Text(harmless(self.final_response or self.orchestration.error or ""))
        return Panel(Group(table, Text(""), body), title=f"RunResult {self.id}", title_align="left")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document: the orchestration's fields, `simulated`, and the list of `events`."""
        data = self.orchestration.model_dump(mode="json", by_alias=True)
        data["iterations_detail"] = data.pop("iterations")
        data["iterations"] = len(self.orchestration.iterations)
        data["simulated"] = self.simulated
        data["events"] = [EVENT_ADAPTER.dump_python(e, mode="json") for e in self.events]
        return data


def _cut(text: str | None, most: int = 60) -> str | None:
    return text if text is None or len(text) <= most else text[: most - 3] + "..."
