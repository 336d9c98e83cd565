"""`FunctionProvider`: your own function answers every model call (for tests and notebooks).

Like pydantic-ai's `FunctionModel`: the function receives the whole `GenerationRequest` and returns
the answer text (usage is then estimated) or a complete `Generation` (passed through untouched).
Nothing ever reaches the network, so it works with `ALLOW_MODEL_REQUESTS = False`.
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, ClassVar, TypeAlias

from .._misspelt import refuse_misspelt
from .._plain import as_count
from ..exceptions import UserError
from ..usage import Usage
from ._base import FunctionMisused, Generation, GenerationRequest, Provider, TextSink, estimate_input_tokens

__all__ = ["FunctionProvider", "GenerateFunction"]

GenerateFunction: TypeAlias = Callable[
    [GenerationRequest],
    "str | Generation | Iterable[str] | AsyncIterable[str] | Awaitable[str] | Awaitable[Generation] "
    "| Awaitable[str | Generation]",
]
"""A sync or async callable taking a `GenerationRequest` and returning the answer text, a `Generation`,
or the text in pieces (a generator or async generator of `str`, streamed by `generate_stream`)."""


_MEANT = {"func": "did you mean 'fn'?", "function": "did you mean 'fn'?"}


def _ceil_quarter(chars: int) -> int:
    return (chars + 3) // 4


class FunctionProvider(Provider):
    """A provider whose answers come from `fn`, a sync or async `(GenerationRequest) -> str | Generation`.

    - A returned `str` becomes a `Generation` with estimated usage (about four characters per
      token, in and out; never more input tokens than `estimate_input_tokens`), finish reason
      `stop`, the measured latency, the request's model name and its cost at the model's prices
      (0 for an unpriced model).
    - A (sync or async) generator of `str` is the answer in pieces: `generate_stream` hands each
      piece on as it is produced (a stand-in for a streaming model), `generate` joins them.
    - As a model stops at the request's `max_output_tokens`, an answer (text or pieces) longer than four
      characters per token of it is cut there, with finish reason `length`, and a judge's longer verdict
      (kept whole: cut, it would not parse) is counted at that many tokens: a call never costs more than
      the worst case the budget reserved for it.
    - A returned `Generation` is passed through unchanged, unless it reports neither usage nor cost: then
      it is taken as a str is (an answer is never counted free; one longer than the cap is cut there). Set
      its `reported_cost` to make the call cost what your function says, as a provider that reports its own
      billing does (the orchestrator counts a reported cost instead of the catalog price and records both):
      `Generation(text="42", usage=Usage(input_tokens=120, output_tokens=3), reported_cost=0.00031)`.
    - `count_tokens`, when given, counts a request's input tokens (your tokenizer): the budget
      reserves against that count instead of the byte bound. It must not undercount.
    - Exceptions raised by `fn` propagate unchanged, so a test can raise `RateLimited`,
      `ProviderTimeout`, … to exercise retries and fallbacks.

    ```python
    from orchestratex.providers import FunctionProvider

    provider = FunctionProvider(lambda request: "42")
    ```

    Serve your models with it by giving them the provider name you pass as `name`
    (`ModelProfile(name="function:echo", ...)` with the default name).
    """

    name: ClassVar[str] = "function"
    """Serves the `function:*` models unless given another `name=`."""

    def __init__(
        self,
        fn: GenerateFunction,
        *,
        name: str = "function",
        count_tokens: Callable[[GenerationRequest], int] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name or ":" in name:
            raise UserError(f"FunctionProvider name must be a non-empty string without ':', got {name!r}")
        self.fn = fn
        """The function that answers each request."""
        self.count_tokens = count_tokens
        """Counts a request's input tokens exactly (an upper bound), as a tokenizer would; the budget then
        reserves against it instead of the UTF-8 byte bound."""
        if name != type(self).name:
            # `Provider.name` is declared as a ClassVar; a per-instance name shadows it on purpose.
            object.__setattr__(self, "name", name)

    def __setattr__(self, name: str, value: object) -> None:
        """`fn` and `count_tokens` are checked on every assignment, as when the provider is made (a test swapping in
        another function with `provider.fn = ...`): a value that is not one failed the next run with a `TypeError`,
        stored `failed`."""
        if name == "fn" and not callable(value):
            raise UserError(f"FunctionProvider needs a callable (GenerationRequest) -> str | Generation, got {value!r}")
        if name == "count_tokens" and value is not None and (not callable(value) or inspect.iscoroutinefunction(value)):
            raise UserError(
                f"FunctionProvider count_tokens must be a plain function (GenerationRequest) -> int, called while the "
                f"budget is reserved (never awaited): not {value!r}; count with a local tokenizer"
            )
        if name[0] != "_" and type(self) is FunctionProvider:  # (`provider.count_token = f` was kept unread)
            refuse_misspelt(self, name, hints=_MEANT)
        object.__setattr__(self, name, value)

    def generate(self, request: GenerationRequest) -> Coroutine[Any, Any, Generation]:
        """Call the function and wrap a text answer into a `Generation` (a coroutine, as `Provider.generate`: it is
        `generate_stream`'s, not awaited in a frame of its own, held while the function answers)."""
        return self.generate_stream(request, None)

    async def generate_stream(self, request: GenerationRequest, on_text: TextSink | None) -> Generation:
        """Call the function; hand each piece of a generated answer to `on_text` as it comes."""
        start = time.perf_counter()
        result = self.fn(request)
        if type(result) is not str and inspect.isawaitable(result):  # (a str is never awaitable: no ABC check)
            result = await result
        room = _room(request)
        if isinstance(result, str):
            text = result if len(result) <= room else result[:room]
            over = len(result) > room
            if on_text is not None and text:
                await on_text(text)
        elif isinstance(result, Generation):
            usage = result.usage
            if result.text and not (usage.input_tokens or usage.output_tokens) and result.reported_cost is None:
                # (no usage and no cost: a test's stand-in answer, taken as a str is: never counted free, and cut at
                # the call's cap, where it is counted: kept whole, the judges read and were priced for all of it)
                text = result.text if len(result.text) <= room else result.text[:room]
                if on_text is not None:
                    await on_text(text)
                usage = _estimated(request, text)
                update: dict[str, object] = {"usage": usage, "cost": _cost(request, usage)}
                if text is not result.text:
                    update.update(text=text, finish_reason="length")
                return result.model_copy(update=update)
            if on_text is not None and result.text:
                await on_text(result.text)
            return result
        elif isinstance(result, AsyncIterable) or (
            isinstance(result, Iterable) and not isinstance(result, (Mapping, bytes, bytearray))
        ):
            text, over = await self._join(result, room, on_text)
        else:
            raise self._bad(result)
        latency_ms = (time.perf_counter() - start) * 1000.0
        usage = _estimated(request, text)
        return Generation(
            text=text,
            usage=usage,
            latency_ms=latency_ms,
            finish_reason="length" if over or _ceil_quarter(len(text)) > request.max_output_tokens else "stop",
            model_name=request.model.name,
            cost=_cost(request, usage),
            reported_cost=None,  # (pricing sets `catalog_cost`: then every field is given, and the set is shared)
            response_model=None,
        )

    async def _join(
        self, result: AsyncIterable[object] | Iterable[object], room: int, on_text: TextSink | None
    ) -> tuple[str, bool]:
        """The answer a generator yields, handed on piece by piece, and whether it was cut at its `room`."""
        pieces: list[str] = []
        if isinstance(result, AsyncIterable):
            async for piece in result:
                if not await self._piece(pieces, piece, room, on_text):
                    return "".join(pieces), True
        else:
            for piece in result:
                if not await self._piece(pieces, piece, room, on_text):
                    return "".join(pieces), True
        return "".join(pieces), False

    async def _piece(self, pieces: list[str], piece: object, room: int, on_text: TextSink | None) -> bool:
        """Add a yielded piece to `pieces` and hand it on; False once the answer is cut at its room (the rest of the
        generator is not read, as a model stops writing at its cap)."""
        if not isinstance(piece, str):
            raise self._bad(piece, "yielded")
        left = room - sum(map(len, pieces))
        fits = len(piece) <= left
        if not fits:
            piece = piece[:left]
        pieces.append(piece)
        if on_text is not None and piece:
            await on_text(piece)
        return fits

    def _bad(self, result: object, verb: str = "returned") -> FunctionMisused:
        # a dict was iterated as pieces: its keys ("score", "feedback") became the answer
        hint = " (json.dumps(...) a judge's verdict)" if isinstance(result, Mapping) else ""
        return FunctionMisused(
            f"the function of FunctionProvider {self.name!r} {verb} {type(result).__name__}; "
            f"return a str{hint}, an orchestratex.providers.Generation, or a generator of str"
        )

    def count_input_tokens(self, request: GenerationRequest) -> int:
        """`count_tokens(request)` when given, else the UTF-8 byte bound."""
        if self.count_tokens is None:
            return estimate_input_tokens(request)
        counted = self.count_tokens(request)
        if inspect.iscoroutine(counted):  # (an async callable object: never awaited, and not to be warned about)
            counted.close()
        tokens = as_count(counted)  # (an int, numpy's too; not a float, a str or a bool, which `int()` would take)
        if tokens is None:
            raise FunctionMisused(
                f"count_tokens of FunctionProvider {self.name!r} returned {counted!r}; "
                "return the request's input tokens as an int >= 0"
            )
        return tokens

    def _counts_bytes(self) -> bool:
        return self.count_tokens is None and type(self).count_input_tokens is FunctionProvider.count_input_tokens

    def __repr__(self) -> str:
        return f"FunctionProvider({getattr(self.fn, '__qualname__', self.fn)!r}, name={self.name!r})"


def _room(request: GenerationRequest) -> int:
    """How many characters an answer to `request` may hold: four per token of its output cap, where a model stops
    (the judging reserved with an answer holds no more of it). A judge's verdict is kept whole (cut, it would not
    parse): its usage alone is capped."""
    return sys.maxsize if request.purpose == "judge" else 4 * request.max_output_tokens


def _estimated(request: GenerationRequest, text: str) -> Usage:
    """The usage of an answer `text` to `request`, at about four characters a token, and no more output tokens
    than the request's cap (a model stops there, and the budget reserved for no more)."""
    return Usage(
        input_tokens=_ceil_quarter(sum([len(message.content) for message in request.messages])),
        output_tokens=min(_ceil_quarter(len(text)), request.max_output_tokens),
        cached_input_tokens=0,
        reasoning_tokens=0,
    )


def _cost(request: GenerationRequest, usage: Usage) -> float:
    return request.model.cost(usage) if request.model.priced else 0.0
