"""A live view of an orchestration's events in the terminal (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.status import Status

from ..events import (
    EvaluationCompleted,
    Event,
    ModelSelected,
    OrchestrationCompleted,
    OrchestrationFailed,
    OrchestrationStarted,
    ResponseGenerated,
)

__all__ = ["LiveView"]


def _short(text: str, width: int = 110) -> str:
    flat = " ".join(text.split())
    return escape(flat if len(flat) <= width else flat[: width - 1] + "…")


class LiveView:
    """Prints each event as one line as it happens, with a spinner saying what is being waited for."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._status: Status | None = None

    def _wait(self, what: str) -> None:
        if self._status is None:
            self._status = self.console.status(what, spinner="dots")
            self._status.start()
        else:
            self._status.update(what)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event)

    def _on_orchestration_started(self, e: OrchestrationStarted) -> None:
        sim = "  [bold yellow]SIMULATED — no provider API key is set; no real model is called[/]" if e.simulated else ""
        self.console.print(
            f"[bold]▶ started[/]   domain [cyan]{e.domain}[/] · up to {e.max_iterations} iterations · "
            f"threshold {e.evaluation_threshold:g}/10{sim}"
        )
        self._wait("routing…")

    def _on_model_selected(self, e: ModelSelected) -> None:
        reasoning = e.reasoning.removeprefix(f"{e.model_name}: ")
        self.console.print(f"[bold]#{e.iteration} routed[/] to [green]{e.model_name}[/]: {_short(reasoning, 160)}")
        self._wait(f"{e.model_name} is answering…")

    def _on_response_generated(self, e: ResponseGenerated) -> None:
        self.console.print(
            f"   [bold]answered[/]  {e.tokens_used} tokens · ${e.cost:.6f} · {e.latency_ms / 1000:.1f} s  "
            f"[dim]“{_short(e.response_preview, 70)}”[/]"
        )
        self._wait("judges are scoring…")

    def _on_evaluation_completed(self, e: EvaluationCompleted) -> None:
        colour = "green" if e.score >= 8 else "yellow" if e.score >= 6 else "red"
        self.console.print(
            f"   [bold]judged[/]    [{colour}]{e.score:.1f}/10[/] by {e.evaluator_model} (${e.cost:.6f}): "
            f"[dim]{_short(e.feedback, 120)}[/]"
        )
        self._wait("deciding…")

    def _on_orchestration_completed(self, e: OrchestrationCompleted) -> None:
        self.close()
        score = "unjudged" if e.final_score is None else f"score {e.final_score:.1f}/10"
        self.console.print(
            f"[bold green]✔ completed[/] {score} by {e.model_name} after {e.iterations} "
            f"iteration{'s' if e.iterations != 1 else ''} · ${e.total_cost:.6f} · stop: {e.stop_reason}"
        )

    def _on_orchestration_failed(self, e: OrchestrationFailed) -> None:
        self.close()
        self.console.print(
            f"[bold red]✘ {e.reason}[/] after {e.iterations} iterations · ${e.total_cost:.6f}: {escape(e.error)}"
        )

    def final_answer(self, text: str, title: str) -> None:
        self.console.print(Panel(escape(text), title=title, title_align="left", expand=False))

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
