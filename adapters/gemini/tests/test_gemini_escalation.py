"""`finishReason: ESCALATION` (the Gemini API's "Request was filtered by an escalation rule", a value google-genai 3
knows): the answer was withheld by a filter, as with `SAFETY` or `BLOCKLIST`. It was passed on as the finish reason
`escalation`, so an empty answer was the model's failure (counted toward its circuit, as if the model were broken), and
a partial one was judged as if it were whole. It is now `ContentFiltered`, with the usage Google bills for it, streamed
or not."""

from __future__ import annotations

import pytest

from orchestratex.exceptions import ContentFiltered
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex.usage import Usage

from .test_gemini_provider import body, provider_on, request
from .test_gemini_streaming import chunk, sse

# (google-genai before 3, the oldest allowed among them, does not know that finish reason: it warns, and keeps its name)
pytestmark = pytest.mark.filterwarnings("ignore:.* is not a valid FinishReason:UserWarning")


async def test_an_answer_filtered_by_an_escalation_rule_is_content_filtered() -> None:
    server = MockServer(Reply(200, json=body("ESCALATION", parts=[{"text": "Here is how"}])))
    with pytest.raises(ContentFiltered, match="ESCALATION") as info:
        await provider_on(server).generate(request())
    assert info.value.usage == Usage(input_tokens=8, output_tokens=2)


async def test_a_stream_filtered_by_an_escalation_rule_is_content_filtered() -> None:
    stream = sse(chunk("Here is"), chunk(" how", "ESCALATION", {"promptTokenCount": 9, "candidatesTokenCount": 3}))
    server = MockServer(Reply(200, content=stream, headers={"content-type": "text/event-stream"}))

    async def on_text(text: str) -> None:
        pass

    with pytest.raises(ContentFiltered, match="ESCALATION") as info:
        await provider_on(server).generate_stream(request(), on_text)
    assert info.value.usage == Usage(input_tokens=9, output_tokens=3)
