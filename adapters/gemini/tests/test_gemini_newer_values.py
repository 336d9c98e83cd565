"""An answer holding a value newer than the installed google-genai: a finish reason, a block reason or a safety
rating's harm category the API added since.

google-genai warns "NEW_REASON is not a valid FinishReason" (a `UserWarning`) while parsing, and keeps the value as it
came. That warning was printed on stderr across `orchestratex run`'s output, and where warnings are errors (pytest's
`filterwarnings = ["error"]`, as here, or `python -W error`) it escaped the adapter unmapped and failed the run. It is
now logged once per value, and the answer is read as documented (an unknown finish reason passed on lower-cased).
"""

from __future__ import annotations

import logging

import pytest

from orchestratex.exceptions import ContentFiltered
from orchestratex.testing.provider_contract import MockServer, Reply

from .test_gemini_provider import provider_on, request
from .test_gemini_streaming import chunk, sse

USAGE = {"promptTokenCount": 9, "candidatesTokenCount": 2, "totalTokenCount": 11}
RATED = [{"category": "HARM_CATEGORY_NEWLY_ADDED", "probability": "NEGLIGIBLE"}]


def answer(finish: str) -> dict[str, object]:
    candidate = {
        "content": {"role": "model", "parts": [{"text": "Hi!"}]},
        "finishReason": finish,
        "safetyRatings": RATED,
    }
    return {"candidates": [candidate], "usageMetadata": USAGE, "modelVersion": "gemini-4-hydrogen"}


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "orchestratex.providers.gemini"]


async def test_a_finish_reason_newer_than_the_sdk_is_passed_on_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = MockServer(Reply(200, json=answer("NEWER_REASON")), Reply(200, json=answer("NEWER_REASON")))
    provider = provider_on(server)
    with caplog.at_level(logging.WARNING, logger="orchestratex.providers.gemini"):
        first = await provider.generate(request())
        second = await provider.generate(request())
    assert (first.text, first.finish_reason) == ("Hi!", "newer_reason")
    assert second.finish_reason == "newer_reason"
    said = logged(caplog)
    assert sorted(said) == [
        "gemini: HARM_CATEGORY_NEWLY_ADDED is not a valid HarmCategory (in an answer newer than google-genai: taken as"
        " it came)",
        "gemini: NEWER_REASON is not a valid FinishReason (in an answer newer than google-genai: taken as it came)",
    ], said


async def test_a_block_reason_newer_than_the_sdk_is_a_content_filter() -> None:
    blocked = {"promptFeedback": {"blockReason": "NEWER_BLOCK"}, "usageMetadata": {"promptTokenCount": 9}}
    server = MockServer(Reply(200, json=blocked))
    with pytest.raises(ContentFiltered, match="NEWER_BLOCK"):
        await provider_on(server).generate(request())


async def test_a_stream_with_a_finish_reason_newer_than_the_sdk(caplog: pytest.LogCaptureFixture) -> None:
    stream = sse(chunk("Hel"), chunk("lo", "NEWER_REASON", {**USAGE, "candidatesTokenCount": 2}))
    server = MockServer(Reply(200, content=stream, headers={"content-type": "text/event-stream"}))
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    with caplog.at_level(logging.WARNING, logger="orchestratex.providers.gemini"):
        generation = await provider_on(server).generate_stream(request(), on_text)
    assert pieces == ["Hel", "lo"] and generation.finish_reason == "newer_reason"
    assert any("NEWER_REASON is not a valid FinishReason" in message for message in logged(caplog))
