"""A vendor SDK's warnings about a call, said once in the log instead of raised or printed.

SDKs warn from inside a call: the Anthropic SDK with a `DeprecationWarning` at every call of a model it lists as
deprecated, google-genai with a `UserWarning` ("NEW_REASON is not a valid FinishReason") for each value of an answer
newer than the installed SDK (a new finish reason, block reason or harm category), which it then keeps as it came.
Raised where warnings are errors (`python -W error`, pytest's `filterwarnings = ["error"]`), such a warning failed the
run with an exception no adapter maps; elsewhere it was printed on stderr across `orchestratex run`'s output, or
pointed at OrchestrateX's own frames. An adapter names the warnings it expects (`SDKWarnings`), which are then logged
once each, as warnings of its logger, while the call goes on, and those of the SDK's own making that say nothing of the
call (`harmless`), which are left out; any other warning is let through as it came.

`catch_warnings` swaps the process's warning filters: held across a wait, it would swap them under every other task
then running. So a call is run step by step, each step (from one wait to the next) under its own `catch_warnings`, and
one thread at a time (event loops in several threads: `run_sync` of several orchestrators), as two interleaved in two
threads would restore each other's filters, and could leave the process's warnings recorded into a list no one reads.
"""

from __future__ import annotations

import logging
import re
import threading
import types
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["SDKWarnings"]

T = TypeVar("T")

_ONE_AT_A_TIME = threading.RLock()
"""Held while a step runs under `catch_warnings` (re-entrant: an SDK call may await another inside a step)."""


class SDKWarnings:
    """The warnings of one provider's SDK calls that are `said` (message patterns of `category`), logged once each."""

    def __init__(
        self,
        logger: logging.Logger,
        provider: str,
        category: type[Warning],
        *said: str,
        hint: str = "",
        harmless: Sequence[tuple[type[Warning], str, str]] = (),
    ) -> None:
        self._logger = logger
        self._hint = f" ({hint})" if hint else ""
        self._provider = provider
        self._category = category
        self._said = [re.compile(pattern) for pattern in said]
        self._told: set[str] = set()
        self._harmless = tuple(harmless)
        """The SDK's own warnings left out, each its category and the patterns of its message and of the module it is
        raised from (as `warnings.filterwarnings` takes them)."""

    @contextmanager
    def logged(self) -> Iterator[None]:
        """Run a synchronous step of an SDK call with the expected warnings logged (once each) instead of raised or
        shown; other warnings are let through as they came."""
        with _ONE_AT_A_TIME, warnings.catch_warnings(record=True) as seen:
            for pattern in self._said:
                warnings.filterwarnings("always", message=pattern.pattern, category=self._category)
            for category, message, module in self._harmless:
                warnings.filterwarnings("ignore", message=message, category=category, module=module)
            yield
        for caught in seen:
            said = " ".join(str(caught.message).split())
            if issubclass(caught.category, self._category) and any(p.match(said) for p in self._said):
                if said not in self._told:
                    self._told.add(said)
                    self._logger.warning("%s: %s%s", self._provider, said, self._hint)
            else:  # (it passed the filters as it was raised, where its module is known: shown as they said)
                warnings.showwarning(
                    caught.message, caught.category, caught.filename, caught.lineno, caught.file, caught.line
                )

    async def call(self, call: Coroutine[Any, Any, T]) -> T:
        """Await `call` (an SDK call), each of its steps run `logged`."""
        return await _each_step_logged(call, self)

    async def each(self, items: AsyncIterator[T]) -> AsyncGenerator[T, None]:
        """`items` (an SDK's stream of parsed chunks), each one read `logged` (close it: `contextlib.aclosing`)."""

        async def following() -> T:
            return await anext(items)

        while True:
            try:
                item = await self.call(following())
            except StopAsyncIteration:
                return
            yield item


@types.coroutine
def _each_step_logged(call: Coroutine[Any, Any, T], sdk: SDKWarnings) -> Generator[Any, Any, T]:
    """`yield from call`, each step run under `sdk.logged()`."""
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        with sdk.logged():
            try:
                pending = call.send(sent) if thrown is None else call.throw(thrown)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
        try:
            sent, thrown = (yield pending), None
        except GeneratorExit:
            call.close()
            raise
        except BaseException as exc:  # (a cancellation, thrown into the call where it waits)
            sent, thrown = None, exc
