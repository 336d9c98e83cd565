"""A local reasoning model's `<think>…</think>` in `content` (DeepSeek-R1 or Qwen3 served by vLLM without
`--reasoning-parser`, `llama-server --reasoning-format none`, or an Ollama before its thinking support) is its
reasoning, not its answer."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex_openai import OllamaProvider
from orchestratex_openai._thinking import ThinkingFilter, opened_by_template, without_thinking

R1 = ModelProfile(name="ollama:deepseek-r1:8b", cost_per_1k_tokens=0, context_window=131072, quality=9)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.001, output_cost_per_1k=0.001, quality=5)

THOUGHT = "<think>\nOkay, the user wants 2 + 2. That is 4. Let me answer briefly.\n</think>\n\n"
HARMONY = "<|channel|>analysis<|message|>The user wants 2 + 2.<|end|><|start|>assistant<|channel|>final<|message|>"
"""gpt-oss's channels, as `llama-server --reasoning-format none` leaves them in `content` (the answer follows)."""
PREFILLED = "Okay, the user wants 2 + 2. That is 4. Let me answer briefly.\n</think>\n\n"
"""The same answer from a template that opened the thinking itself (`<think>\\n` ends the prompt)."""


def completion(content: str) -> dict[str, Any]:
    """An Ollama `/v1/chat/completions` answer of a thinking model whose reasoning it does not split off (in
    `content`)."""
    return {
        "id": "chatcmpl-544",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "deepseek-r1:8b",
        "system_fingerprint": "fp_ollama",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"},
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 31, "total_tokens": 40},
    }


def chunks(pieces: list[str]) -> bytes:
    """Ollama's stream of the same answer, one `delta.content` per piece, then the usage chunk."""

    def event(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
        body: dict[str, Any] = {
            "id": "chatcmpl-544",
            "object": "chat.completion.chunk",
            "created": 1767225600,
            "model": "deepseek-r1:8b",
            "system_fingerprint": "fp_ollama",
            "choices": choices,
        }
        if usage is not None:
            body["usage"] = usage
        return f"data: {json.dumps(body)}\n\n".encode()

    out = b"".join(
        event([{"index": 0, "delta": {"role": "assistant", "content": p}, "finish_reason": None}]) for p in pieces
    )
    out += event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": "stop"}])
    out += event([], {"prompt_tokens": 9, "completion_tokens": 31, "total_tokens": 40})
    return out + b"data: [DONE]\n\n"


def provider(server: MockServer) -> OllamaProvider:
    return OllamaProvider(
        base_url="http://localhost:11434/v1", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )


def ask(text: str = "What is 2 + 2?") -> GenerationRequest:
    return GenerationRequest(model=R1, messages=[Message(role="user", content=text)], max_output_tokens=200)


async def test_the_thinking_an_answer_begins_with_is_not_part_of_it() -> None:
    server = MockServer(Reply(200, content=json.dumps(completion(THOUGHT + "2 + 2 = 4.")).encode()))
    generation = await provider(server).generate(ask())
    assert generation.text == "2 + 2 = 4."
    assert generation.usage.output_tokens == 31  # (the thinking is paid for all the same)


async def test_streamed_thinking_is_neither_shown_nor_kept() -> None:
    pieces = ["<th", "ink>\nOkay, the user", " wants 2 + 2.</th", "ink>", "\n\n", "2 + 2", " = 4."]
    server = MockServer(Reply(200, headers={"content-type": "text/event-stream"}, content=chunks(pieces)))
    shown: list[str] = []

    async def on_text(text: str) -> None:
        shown.append(text)

    generation = await provider(server).generate_stream(ask(), on_text)
    assert generation.text == "".join(shown) == "2 + 2 = 4."


async def test_a_thought_never_closed_leaves_no_answer_and_another_model_answers() -> None:
    """The output cap ran out while the model thought: nothing of it is judged as an answer."""
    judged: list[str] = []
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        model = json.loads(request.content)["model"]
        seen.append(model)
        text = "<think>\nOkay, let me think about this for a long" if model == "deepseek-r1:8b" else "Hello"
        body = completion(text)
        body["choices"][0]["finish_reason"] = "length" if model == "deepseek-r1:8b" else "stop"
        return httpx2.Response(200, json=body)

    def judge(request: GenerationRequest) -> str:
        judged.append(request.messages[-1].content)
        return json.dumps({"score": 9, "feedback": "good"})

    other = ModelProfile(name="ollama:llama3.2", cost_per_1k_tokens=0, context_window=131072, quality=5)
    orch = Orchestrator(
        providers=[
            OllamaProvider(
                base_url="http://localhost:11434/v1",
                http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
            ),
            FunctionProvider(judge),
        ],
        catalog=ModelCatalog([R1, other, JUDGE]),
        router=BayesianRouter(explore=False),
        retry=RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0),
        judges=["function:judge"],
    )
    result = await orch.run("hi", preferred_models=[R1.name, other.name], max_iterations=1)
    assert seen == ["deepseek-r1:8b", "llama3.2"]
    assert result.final_response == "Hello" and len(judged) == 1 and "think" not in judged[0]


@pytest.mark.parametrize("thought", [THOUGHT, PREFILLED])
async def test_a_run_judges_and_returns_the_answer_without_the_thinking(thought: str) -> None:
    judged: list[str] = []

    def judge(request: GenerationRequest) -> str:
        judged.append(request.messages[-1].content)
        return json.dumps({"score": 9, "feedback": "good"})

    server = MockServer().always(Reply(200, content=json.dumps(completion(thought + "2 + 2 = 4.")).encode()))
    orch = Orchestrator(
        providers=[provider(server), FunctionProvider(judge)],
        catalog=ModelCatalog([R1, JUDGE]),
        judges=["function:judge"],
    )
    result = await orch.run("What is 2 + 2?", max_iterations=1)
    assert result.final_response == "2 + 2 = 4."
    assert len(judged) == 1 and "Let me answer briefly" not in judged[0]


@pytest.mark.parametrize(
    "text",
    [
        THOUGHT + "2 + 2 = 4.",
        "\n" + THOUGHT + "4",
        "<think></think>4",
        HARMONY + "2 + 2 = 4.",
        "<|channel|>analysis<|message|>still thinking",
        "<|channel|>final<|message|>4",
        "<|4|>",
        "<think>\nstill thinking",
        "4, as <think> says",
        "<b>4</b>",
        "<",
        "<think>",
        " \n<think>",
        "  \n",
        "4 </think>",
        "",
    ],
)
def test_streamed_in_any_pieces_the_answer_is_the_whole_answer_s(text: str) -> None:
    """However a server cuts the text into pieces, the pieces passed on make the answer read whole."""
    whole = without_thinking(text)
    for size in range(1, len(text) + 1):
        f = ThinkingFilter()
        out = "".join(f.feed(text[i : i + size]) for i in range(0, len(text), size)) + f.flush()
        assert out == whole, (size, out)


@pytest.mark.parametrize(
    "text",
    [
        PREFILLED + "2 + 2 = 4.",
        "\n</think>\n\n4",
        "Okay.\r\n</think>\r\n\r\n4",
        "Okay.\n  </think>  \n4\n</think>\nmore",
        "Okay, it is 4.\n</think>",
        "Okay\n</thi",
        "4, as the tag </think> says",
        "Use <think> first:\n</think>\nthen",
        "a\n</think>x\nb",
        THOUGHT + "2 + 2 = 4.",
        "<think>\nstill thinking",
        "plain",
        "",
    ],
)
@pytest.mark.parametrize("prefilled", [False, True])
def test_streamed_in_any_pieces_the_answer_after_a_template_s_thinking_is_the_whole_answer_s(
    text: str, prefilled: bool
) -> None:
    """Prefilled (a model seen doing so), the pieces passed on are the answer; else the answer is read from them."""
    whole = without_thinking(text)
    for size in range(1, len(text) + 2):
        f = ThinkingFilter(prefilled=prefilled)
        out = "".join(f.feed(text[i : i + size]) for i in range(0, len(text), size)) + f.flush()
        assert (out if prefilled else f.answer(out)) == whole, (size, out)
        if prefilled and opened_by_template(text):
            assert "Okay" not in out  # (the reasoning is never passed on)


async def test_the_reasoning_a_template_opened_is_not_part_of_the_answer() -> None:
    """DeepSeek-R1's template (and QwQ's) ends the prompt with `<think>\\n`: only `</think>` comes back."""
    server = MockServer(Reply(200, content=json.dumps(completion(PREFILLED + "2 + 2 = 4.")).encode()))
    generation = await provider(server).generate(ask())
    assert generation.text == "2 + 2 = 4."


async def test_a_model_seen_writing_a_template_s_reasoning_has_its_next_streams_held_until_it_ends() -> None:
    pieces = ["Okay, the user", " wants 2 + 2.\n", "</think>", "\n\n", "2 + 2", " = 4."]
    stream = Reply(200, headers={"content-type": "text/event-stream"}, content=chunks(pieces))
    ollama = provider(MockServer(stream, stream))
    shown: list[str] = []

    async def on_text(text: str) -> None:
        shown.append(text)

    first = await ollama.generate_stream(ask(), on_text)  # (passed on before its end was seen: the answer is without)
    assert first.text == "2 + 2 = 4." and "".join(shown).startswith("Okay")
    shown.clear()
    second = await ollama.generate_stream(ask(), on_text)
    assert second.text == "".join(shown) == "2 + 2 = 4."


async def test_an_unstreamed_answer_teaches_it_too_and_an_answer_without_reasoning_then_streams_whole() -> None:
    whole = Reply(200, content=json.dumps(completion(PREFILLED + "4.")).encode())
    plain = Reply(200, headers={"content-type": "text/event-stream"}, content=chunks(["Four", " it is."]))
    ollama = provider(MockServer(whole, plain))
    assert (await ollama.generate(ask())).text == "4."
    shown: list[str] = []

    async def on_text(text: str) -> None:
        shown.append(text)

    generation = await ollama.generate_stream(ask(), on_text)
    assert generation.text == "".join(shown) == "Four it is."  # (held to its end, then passed on whole)


def test_an_answer_that_talks_about_the_closing_tag_is_kept_as_it_is() -> None:
    for text in [
        "Strip everything up to the </think> tag.",
        "Write it so:\n```\n<think>\nreasoning\n</think>\n```",
        "`</think>`\nends it",
    ]:
        assert without_thinking(text) == text


def test_an_answer_that_does_not_begin_with_thinking_is_kept_as_it_is() -> None:
    assert without_thinking("Use <think> tags like this: <think>x</think>") == (
        "Use <think> tags like this: <think>x</think>"
    )
    assert without_thinking("  plain") == "  plain"


async def test_a_server_without_usage_has_the_thinking_counted_in_the_estimate() -> None:
    """A free model's server that reports no usage has it estimated from the text (about four characters a token):
    the thinking was written, so it is counted, streamed or not."""
    written = THOUGHT + "2 + 2 = 4."
    body = completion(written)
    del body["usage"]
    unstreamed = await provider(MockServer(Reply(200, content=json.dumps(body).encode()))).generate(ask())
    stream = chunks([written[:20], written[20:]]).replace(
        b'data: {"id": "chatcmpl-544", "object": "chat.completion.chunk", "created": 1767225600, "model": '
        b'"deepseek-r1:8b", "system_fingerprint": "fp_ollama", "choices": [], "usage": {"prompt_tokens": 9, '
        b'"completion_tokens": 31, "total_tokens": 40}}\n\n',
        b"",
    )
    server = MockServer(Reply(200, headers={"content-type": "text/event-stream"}, content=stream))

    async def on_text(text: str) -> None:
        pass

    streamed = await provider(server).generate_stream(ask(), on_text)
    for generation in (unstreamed, streamed):
        assert generation.text == "2 + 2 = 4."
        assert generation.usage.output_tokens == (len(written) + 3) // 4


def test_gpt_oss_s_analysis_channel_is_left_out_up_to_its_final_channel() -> None:
    assert without_thinking(HARMONY + "2 + 2 = 4.") == "2 + 2 = 4."
    assert without_thinking("<|channel|>analysis<|message|>The user wants 2 + 2. Let me") == ""  # (cap ran out)
    assert without_thinking("Tags such as <|channel|>analysis<|message|> mark it") == (
        "Tags such as <|channel|>analysis<|message|> mark it"
    )
