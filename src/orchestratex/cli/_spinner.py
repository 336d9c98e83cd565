"""What a run is waiting for, as a spinner on a terminal: on stdout's under the live view, or on stderr's when stdout
is a file, a pipe or `--json`'s document (so a long run says it is alive without a character of it in stdout).

It is erased when it stops (transient); on anything but a terminal it shows nothing.
"""

from __future__ import annotations

from rich.live import Live
from rich.spinner import Spinner as Dots

from ..events import Event
from ._output import Output

__all__ = ["Spinner"]

_ENDS = ("orchestration_completed", "orchestration_failed")


def _waiting_for(event: Event) -> str | None:
    """What the run waits for after `event`, or None when `event` changes nothing to say."""
    if event.type == "orchestration_started":
        return "routing…"
    if event.type == "model_selected":
        return f"{event.model_name} is answering…"
    if event.type == "response_generated":
        return "judges are scoring…"
    if event.type == "evaluation_completed":
        return "deciding…"
    return None


class Spinner:
    """A spinner on `output`'s terminal saying what the run waits for; an event handler (`spinner(event)`).

    Args:
        output: the terminal to show it on (nothing is shown when it is not one).
        owns_stdout: whether `output` is stdout, whose writes the spinner then keeps above itself; a spinner on
            stderr leaves stdout alone (its writes go where stdout goes, never onto the terminal).
    """

    def __init__(self, output: Output, *, owns_stdout: bool = True) -> None:
        self.output = output
        self.owns_stdout = owns_stdout
        self._dots: Dots | None = None
        self._live: Live | None = None

    def wait(self, what: str) -> None:
        if not self.output.rich or self.output.closed:
            return
        if self._dots is not None:
            self._dots.update(text=what)
            return
        self._dots = Dots("dots", text=what, style="status.spinner")
        self._live = Live(
            self._dots,
            console=self.output.console,
            transient=True,
            refresh_per_second=12.5,
            redirect_stdout=self.owns_stdout,
            redirect_stderr=True,
        )
        self._live.start()

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
        self._live = self._dots = None

    def __call__(self, event: Event) -> None:
        if event.type in _ENDS:
            self.close()
        elif (what := _waiting_for(event)) is not None:
            self.wait(what)
