"""The Anthropic SDK's warning that a model is deprecated, said once per model in the log instead.

The SDK warns with a `DeprecationWarning` at every `messages.create` or `messages.stream` of a model it lists as
deprecated. Attributed to the orchestrator's frame that called the adapter, it pointed users at OrchestrateX's code
(`orchestrator/_spending.py: DeprecationWarning: The model 'claude-opus-4-5' is deprecated…`), was hidden in a plain
script (Python shows a `DeprecationWarning` only from `__main__`), and failed the run before anything was sent wherever
warnings are errors (`python -W error`, pytest's `filterwarnings = ["error"]`). It is now logged once per model, as a
warning of `orchestratex.providers.anthropic`, and the call goes on.
"""

from __future__ import annotations

import logging
import re
import types
import warnings
from collections.abc import Coroutine, Generator, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["Deprecations"]

T = TypeVar("T")

logger = logging.getLogger("orchestratex.providers.anthropic")

_SAID = re.compile(r"The model '([^']*)' is deprecated")
"""How the SDK's warning begins ("The model 'claude-opus-4-5' is deprecated and will reach end-of-life on …")."""


class Deprecations:
    """One provider's SDK calls, with the SDK's deprecation warning of a model logged (once per model)."""

    def __init__(self) -> None:
        self._told: set[str] = set()

    @contextmanager
    def logged(self) -> Iterator[None]:
        """Run a synchronous step of an SDK call (`messages.stream(...)`, the start of `messages.create(...)`, where
        the SDK warns) with its deprecation warning logged instead of raised or shown; other warnings are let through
        as they came."""
        with warnings.catch_warnings(record=True) as seen:
            warnings.filterwarnings("always", message=_SAID.pattern, category=DeprecationWarning)
            yield
        for caught in seen:
            said = str(caught.message)
            named = _SAID.match(said)
            if named is not None and issubclass(caught.category, DeprecationWarning):
                if named.group(1) not in self._told:
                    self._told.add(named.group(1))
                    logger.warning("anthropic: %s", " ".join(said.split()))
            else:
                warnings.warn_explicit(caught.message, caught.category, caught.filename, caught.lineno)

    async def create(self, call: Coroutine[Any, Any, T]) -> T:
        """Await `call` (`client.messages.create(...)`), its first step, up to its first wait, run `logged`: that is
        where the SDK warns. Only that step: a `catch_warnings` held across a wait would swap the process's warning
        filters under every other task then running."""
        return await _first_step_logged(call, self)


@types.coroutine
def _first_step_logged(call: Coroutine[Any, Any, T], deprecations: Deprecations) -> Generator[Any, Any, T]:
    """`yield from call`, with the first step run under `deprecations.logged()`."""
    with deprecations.logged():
        try:
            pending = call.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
    while True:
        try:
            sent = yield pending
        except GeneratorExit:
            call.close()
            raise
        except BaseException as exc:  # (a cancellation, thrown into the call where it waits)
            try:
                pending = call.throw(exc)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
        else:
            try:
                pending = call.send(sent)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
