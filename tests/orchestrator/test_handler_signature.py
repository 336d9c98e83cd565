"""An event handler that cannot take an event (`lambda: ...`, `def h(a, b)`) is refused when it is added, naming it:
it failed on every event of every run, which only logged it, and the run went on as if it had been called."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from orchestratex import Event, Orchestrator, UserError


def two(a: object, b: object) -> None: ...


def none() -> None: ...


def keyword(event: Event, *, where: str) -> None: ...


BAD: list[Any] = [lambda: None, two, keyword, functools.partial(two, 1, 2), none]
MESSAGE = r"cannot take an event: a handler is called with one argument, the event"


@pytest.mark.parametrize("handler", BAD, ids=["lambda", "two", "keyword-only", "partial", "none"])
def test_a_handler_that_cannot_take_an_event_is_refused_when_added(handler: Any) -> None:
    with pytest.raises(UserError, match=rf"^on_event: .*{MESSAGE}"):
        Orchestrator(simulate=True, on_event=handler)
    orchestrator = Orchestrator(simulate=True)
    with pytest.raises(UserError, match=MESSAGE):
        orchestrator.handlers = [handler]
    with pytest.raises(UserError, match=rf"^handlers.append: .*{MESSAGE}"):
        orchestrator.handlers.append(handler)
    with pytest.raises(UserError, match=MESSAGE):
        orchestrator.run_sync("Hello", on_event=handler)
    assert orchestrator.handlers == []
    orchestrator.close()


def test_the_message_shows_what_it_takes() -> None:
    with pytest.raises(UserError, match=r"^on_event: two\(a, b\) cannot take an event"):
        Orchestrator(simulate=True, on_event=two)  # type: ignore[arg-type]


class Counter:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, event: Event) -> None:
        self.seen.append(event.type)

    def method(self, event: Event, extra: int = 0) -> None:
        self.seen.append(event.type)


async def an_async(event: Event) -> None: ...


def test_handlers_that_take_an_event_run() -> None:
    counter, other = Counter(), Counter()
    handlers: list[Any] = [counter, other.method, an_async, print, lambda *events: None, functools.partial(two, 1)]
    orchestrator = Orchestrator(simulate=True, on_event=handlers[:3])
    orchestrator.providers["sim"].latency_scale = 0  # type: ignore[attr-defined]
    orchestrator.handlers.extend(handlers[4:])
    result = orchestrator.run_sync("Hello", max_iterations=1)
    orchestrator.close()
    assert counter.seen == other.seen == [e.type for e in result.events]
