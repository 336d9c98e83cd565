"""A live view of an orchestration's events: one line per event, then the final answer as it is.

On a terminal the lines are coloured, each is cut to one screen line (the terminal's width) and a spinner
says what is being waited for; piped or redirected, every line is plain and whole (see `Output`), and the spinner
goes to stderr when that is a terminal (see `Spinner`).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from .._dollars import dollars
from ..events import (
    EvaluationCompleted,
    Event,
    ModelSelected,
    OrchestrationCompleted,
    OrchestrationFailed,
    OrchestrationStarted,
    ResponseGenerated,
)
from ._output import Output, one_line
from ._scores import score_text
from ._spinner import Spinner

__all__ = ["LiveView"]


class LiveView:
    """Prints each event as one line as it happens.

    Args:
        output: where to write (default: stdout, rich or plain as it is a terminal or not).
        simulated_note: why the models are simulated, said on the first line of a simulated run.
        spinner: where to say what the run waits for (default: on `output`, when it is a terminal).
    """

    def __init__(
        self, output: Output | None = None, *, simulated_note: str | None = None, spinner: Spinner | None = None
    ) -> None:
        self.output = output or Output()
        self.simulated_note = simulated_note
        self.spinner = spinner or Spinner(self.output)

    def _wait(self, what: str) -> None:
        if not self.output.closed:
            self.spinner.wait(what)

    def close(self) -> None:
        self.spinner.close()

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event)

    def _on_orchestration_started(self, e: OrchestrationStarted) -> None:
        line = Text.assemble(
            ("▶ started", "bold"),
            "   domain ",
            (e.domain, "cyan"),
            f" · up to {_iterations(e.max_iterations)} · threshold {e.evaluation_threshold:g}/10",
        )
        if not e.simulated:
            self.output.row(line)
        elif self.output.rich:  # the warning on a line of its own, whole (a cut line lost it on 80 columns)
            self.output.row(line)
            self.output.line(Text(f"SIMULATED — {self._simulated()}; no real model is called", "bold yellow"))
        else:
            self.output.row(line.append(f"  SIMULATED — {self._simulated()}; no real model is called"))
        self._wait("routing…")

    def _simulated(self) -> str:
        return self.simulated_note or "no provider is configured"

    def _on_model_selected(self, e: ModelSelected) -> None:
        reasoning = e.reasoning.removeprefix(f"{e.model_name}: ")
        self.output.row(
            Text.assemble(
                (f"#{e.iteration} routed", "bold"),
                " to ",
                (e.model_name, "green"),
                ": ",
                one_line(reasoning),
            )
        )
        self._wait(f"{e.model_name} is answering…")

    def _on_response_generated(self, e: ResponseGenerated) -> None:
        self.output.row(
            Text.assemble(
                ("   answered", "bold"),
                f"  {e.tokens_used} tokens · {dollars(e.cost)} · {e.latency_ms / 1000:.1f} s  ",
                (f"“{one_line(e.response_preview)}”", "dim"),
            )
        )
        self._wait("judges are scoring…")

    def _on_evaluation_completed(self, e: EvaluationCompleted) -> None:
        colour = "green" if e.score >= 8 else "yellow" if e.score >= 6 else "red"
        self.output.row(
            Text.assemble(
                ("   judged", "bold"),
                "    ",
                (f"{score_text(e.score)}/10", colour),
                f" by {e.evaluator_model} ({dollars(e.cost)}): ",
                (one_line(e.feedback), "dim"),
            )
        )
        self._wait("deciding…")

    def _on_orchestration_completed(self, e: OrchestrationCompleted) -> None:
        self.close()
        score = "unjudged" if e.final_score is None else f"score {score_text(e.final_score)}/10"
        self.output.row(
            Text.assemble(
                ("✔ completed", "bold green"),
                f" {score} by {e.model_name} after {_iterations(e.iterations)} · "
                f"{dollars(e.total_cost)} · stop: {e.stop_reason}",
            )
        )

    def _on_orchestration_failed(self, e: OrchestrationFailed) -> None:
        self.close()
        self.output.line(  # whole, even on a terminal: the error says what to do
            Text.assemble(
                (f"✘ {e.reason}", "bold red"),
                f" after {_iterations(e.iterations)} · {dollars(e.total_cost)}: {one_line(e.error)}",
            )
        )

    def final_answer(self, text: str, title: str) -> None:
        """A title line, then the answer exactly as the model wrote it: no box, no wrapping, no markup."""
        self.output.line(Text(f"── {title} ──", "bold"))
        self.output.verbatim(text)

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _iterations(n: int) -> str:
    return f"{n} iteration{'' if n == 1 else 's'}"
