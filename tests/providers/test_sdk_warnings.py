"""`SDKWarnings`: an SDK's expected warnings, raised from any step of a call, logged once each; others let through."""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from collections.abc import AsyncIterator

import pytest

from orchestratex.providers._sdk_warnings import SDKWarnings

EXPECTED = r"\S+ is not a valid FinishReason"


def sdk() -> SDKWarnings:
    return SDKWarnings(logging.getLogger("orchestratex.providers.test"), "test", UserWarning, EXPECTED)


async def sdk_call(value: str) -> str:
    """An SDK call warning before its first wait, between waits and after its last one."""
    warnings.warn(f"{value} is not a valid FinishReason", UserWarning, stacklevel=1)
    await asyncio.sleep(0)
    warnings.warn("OTHER_ONE is not a valid FinishReason", UserWarning, stacklevel=1)
    await asyncio.sleep(0)
    warnings.warn(f"{value} is not a valid FinishReason", UserWarning, stacklevel=1)
    return value


async def test_every_step_is_logged_once_and_the_result_returned(caplog: pytest.LogCaptureFixture) -> None:
    wrapped = sdk()
    with caplog.at_level(logging.WARNING, logger="orchestratex.providers.test"):
        assert await wrapped.call(sdk_call("NEW")) == "NEW"  # (warnings are errors in these tests)
        assert await wrapped.call(sdk_call("NEW")) == "NEW"
    said = [r.getMessage() for r in caplog.records if r.name == "orchestratex.providers.test"]
    assert said == ["test: NEW is not a valid FinishReason", "test: OTHER_ONE is not a valid FinishReason"]


async def test_a_cancelled_call_is_cancelled() -> None:
    started = asyncio.Event()

    async def waiting() -> None:
        started.set()
        await asyncio.sleep(60)

    task = asyncio.ensure_future(sdk().call(waiting()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_stream_is_read_item_by_item() -> None:
    async def chunks() -> AsyncIterator[str]:
        for value in ("A", "B"):
            warnings.warn(f"{value} is not a valid FinishReason", UserWarning, stacklevel=1)
            yield value

    assert [item async for item in sdk().each(chunks())] == ["A", "B"]


def test_other_warnings_are_let_through() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with sdk().logged():
            warnings.warn("something else", DeprecationWarning, stacklevel=1)
    assert [(w.category, str(w.message)) for w in seen] == [(DeprecationWarning, "something else")]


async def test_the_sdk_s_harmless_warnings_are_left_out_where_warnings_are_errors() -> None:
    """google-genai defines a subclass of aiohttp's session as it opens one in a call, which aiohttp 3.12 and later warn
    of: a `DeprecationWarning` of the SDK's own making that failed the call where warnings are errors."""
    said = "Inheritance class Session from ClientSession is discouraged"
    wrapped = SDKWarnings(
        logging.getLogger("test"), "test", UserWarning, EXPECTED, harmless=[(DeprecationWarning, said, r"sdk\.")]
    )

    def warn_from(module: str) -> None:
        warnings.warn_explicit(said, DeprecationWarning, f"{module}.py", 1, module)

    async def opening_a_session() -> str:
        await asyncio.sleep(0)
        warn_from("sdk._client")
        return "answered"

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("error")
        assert await wrapped.call(opening_a_session()) == "answered"
        with pytest.raises(DeprecationWarning), wrapped.logged():  # (another module's is not the SDK's)
            warn_from("app")
    assert seen == []


def test_steps_in_two_threads_leave_the_warning_machinery_as_it_was() -> None:
    """Two `catch_warnings` interleaved in two threads (event loops in two threads: `run_sync` of two orchestrators)
    restore each other's state: the first to end put back the original, the second the first one's, leaving the
    process's warnings recorded into a list no one reads. Here the first step ends while the second is in its own."""
    before = (warnings.filters[:], warnings.showwarning)
    wrapped = sdk()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with wrapped.logged():
            first_in.set()
            second_in.wait(timeout=1)  # (with steps one at a time, the second cannot begin: this waits in vain)
        first_out.set()

    def second() -> None:
        first_in.wait(timeout=5)
        with wrapped.logged():
            second_in.set()
            first_out.wait(timeout=5)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (warnings.filters[:], warnings.showwarning) == before
