"""A thinking model (Qwen3, DeepSeek-R1) served by Ollama, judging: Ollama's OpenAI-compatible API lets such a model
think by default and counts the thinking toward `max_tokens`, so under a judge's 512-token cap it could think to the
end and give no verdict (an empty `content`, its thinking in `reasoning`, finish `length`): a failed judge, and with
it as the only judge ("docs/providers/openai.md": `ollama:qwen3` judges `ollama:llama3.2`) a failed run. Judge calls
to Ollama now ask for no thinking (`reasoning_effort: "none"`, which Ollama documents), as OpenAI's reasoning models
are asked for a low effort; a server refusing it is asked again without it. vLLM's judge calls (whose reasoning, split
off by `--reasoning-parser`, counts the same) send Qwen3's chat-template switch, `enable_thinking: false`."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest

import orchestratex.providers
from orchestratex import Orchestrator
from orchestratex.catalog import ModelProfile
from orchestratex.providers import GenerationRequest, Message
from orchestratex.testing.provider_contract import MockServer, Reply
from orchestratex_openai import OllamaProvider, OpenAIProvider

FINGERPRINT = True
"""Whether the fake answers as Ollama does (`system_fingerprint: "fp_ollama"`), or as vLLM (none)."""


def _answer(model: str, content: str, *, finish: str, tokens: int, reasoning: str | None = None) -> dict[str, Any]:
    """An Ollama `/v1/chat/completions` body (its thinking, when split off, in `message.reasoning`)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning"] = reasoning
    return {
        "id": "chatcmpl-311",
        "object": "chat.completion",
        "created": 1767225600,
        "model": model,
        "system_fingerprint": "fp_ollama" if FINGERPRINT else None,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 120, "completion_tokens": tokens, "total_tokens": 120 + tokens},
    }


class FakeOllama(BaseHTTPRequestHandler):
    """`ollama serve` with llama3.2 (no thinking) and qwen3 (thinks unless told not to, at length)."""

    sent: list[dict[str, Any]]

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.sent.append(request)
        cap = request.get("max_tokens") or 2048
        off = request.get("reasoning_effort") == "none" or request.get("chat_template_kwargs") == {
            "enable_thinking": False
        }
        if request["model"] == "qwen3" and not off:  # (Ollama: think unless "none"; vLLM: unless the template is told)
            body = _answer("qwen3", "", finish="length", tokens=cap, reasoning="Okay, let me weigh this answer. " * 60)
        elif request["model"] == "qwen3":
            verdict = json.dumps({"score": 8.5, "feedback": "Correct and clear."})
            body = _answer("qwen3", verdict, finish="stop", tokens=20)
        else:
            body = _answer(request["model"], "RAID 5 stripes data with distributed parity.", finish="stop", tokens=12)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def ollama(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # a local server, not a provider
    monkeypatch.setattr(sys.modules[__name__], "FINGERPRINT", "vllm" not in request.node.name)
    sent: list[dict[str, Any]] = []
    handler = type("Handler", (FakeOllama,), {"sent": sent})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", sent
    server.shutdown()
    server.server_close()


def _catalog(tmp_path: Path, provider: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(
        f'include_default = false\n\n[[models]]\nname = "{provider}:llama3.2"\ncost_per_1k_tokens = 0\n'
        f'context_window = 4096\n\n[[models]]\nname = "{provider}:qwen3"\ncost_per_1k_tokens = 0\n'
        "context_window = 4096\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("variable", ["OLLAMA_BASE_URL", "OPENAI_BASE_URL", "VLLM_BASE_URL"])
async def test_a_thinking_judge_on_ollama_gives_its_verdict(
    tmp_path: Path, ollama: tuple[str, list[dict[str, Any]]], variable: str
) -> None:
    """With `OPENAI_BASE_URL` pointed at Ollama (the docs' first way), the server is known by its answers
    (`system_fingerprint: "fp_ollama"`), the answering model's coming first."""
    url, sent = ollama
    provider = {"OLLAMA_BASE_URL": "ollama", "OPENAI_BASE_URL": "openai", "VLLM_BASE_URL": "vllm"}[variable]
    orchestrator = Orchestrator(catalog=_catalog(tmp_path, provider), env={variable: url})
    try:
        result = await orchestrator.run(
            "Explain RAID 5", preferred_models=[f"{provider}:llama3.2"], max_iterations=1, evaluation_threshold=8
        )
    finally:
        await orchestrator.aclose()
    assert (result.status, result.final_score, result.error) == ("completed", 8.5, None)
    judged = [r for r in sent if r["model"] == "qwen3"]
    if provider == "vllm":  # (vLLM's switch: Qwen3's chat template's `enable_thinking`)
        assert judged and all(r["chat_template_kwargs"] == {"enable_thinking": False} for r in judged), judged
    else:
        assert judged and all(r["reasoning_effort"] == "none" for r in judged), judged
    answers = [r for r in sent if r["model"] == "llama3.2"]  # (answers think as they do)
    assert answers and all("reasoning_effort" not in r and "chat_template_kwargs" not in r for r in answers)


QWEN3 = ModelProfile(name="ollama:qwen3", cost_per_1k_tokens=0, context_window=4096)


def _judge_call() -> GenerationRequest:
    return GenerationRequest(
        model=QWEN3, messages=[Message(role="user", content="Score it")], max_output_tokens=512, purpose="judge"
    )


async def test_an_ollama_that_refuses_none_is_asked_again_without_it_and_not_asked_again() -> None:
    """Ollama's versions of October 2025 took `reasoning_effort` as a think level that only gpt-oss accepts: a 400
    "think value \\"none\\" is not supported for this model". The judge call is made again without it."""
    refused = json.dumps(
        {
            "error": {
                "message": 'think value "none" is not supported for this model',
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
    ).encode()
    verdict = json.dumps(_answer("qwen3", '{"score": 7, "feedback": "ok"}', finish="stop", tokens=9)).encode()
    server = MockServer(Reply(400, content=refused), Reply(200, content=verdict), Reply(200, content=verdict))
    provider = OllamaProvider(
        base_url="http://localhost:11434/v1", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    assert (await provider.generate(_judge_call())).text == '{"score": 7, "feedback": "ok"}'
    assert (await provider.generate(_judge_call())).text == '{"score": 7, "feedback": "ok"}'
    efforts = [r.json.get("reasoning_effort") for r in server.requests]
    assert efforts == ["none", None, None]


async def test_gpt_oss_which_cannot_stop_thinking_is_asked_to_think_little() -> None:
    verdict = json.dumps(_answer("gpt-oss:20b", '{"score": 7, "feedback": "ok"}', finish="stop", tokens=9)).encode()
    server = MockServer(Reply(200, content=verdict))
    provider = OllamaProvider(
        base_url="http://localhost:11434/v1", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    model = ModelProfile(name="ollama:gpt-oss:20b", cost_per_1k_tokens=0, context_window=8192)
    call = GenerationRequest(
        model=model, messages=[Message(role="user", content="Score it")], max_output_tokens=512, purpose="judge"
    )
    await provider.generate(call)
    assert server.requests[0].json["reasoning_effort"] == "low"


async def test_a_server_known_as_ollama_by_a_streamed_answer_has_its_first_judge_call_without_thinking() -> None:
    """`/v1`'s `orchestratex/fast` streams every answer: with `OPENAI_BASE_URL` pointed at Ollama, the server was known
    only by an unstreamed answer, so the first judge call (after a streamed answer) let Qwen3 think its cap away."""
    head = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1, "model": "llama3.2"}
    events = [
        {**head, "system_fingerprint": "fp_ollama", "choices": [{"index": 0, "delta": {"content": "Hi"}}]},
        {**head, "system_fingerprint": "fp_ollama", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**head, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}},
    ]
    sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    verdict = json.dumps(_answer("qwen3", '{"score": 7, "feedback": "ok"}', finish="stop", tokens=9)).encode()
    server = MockServer(
        Reply(200, headers={"content-type": "text/event-stream"}, content=sse.encode()), Reply(200, content=verdict)
    )
    provider = OpenAIProvider(
        base_url="http://localhost:11434/v1", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    llama = ModelProfile(name="openai:llama3.2", cost_per_1k_tokens=0, context_window=4096)
    answer = GenerationRequest(model=llama, messages=[Message(role="user", content="Hi")], max_output_tokens=64)

    async def ignore(text: str) -> None:
        return None

    assert (await provider.generate_stream(answer, ignore)).text == "Hi"
    qwen3 = ModelProfile(name="openai:qwen3", cost_per_1k_tokens=0, context_window=4096)
    judge = GenerationRequest(
        model=qwen3, messages=[Message(role="user", content="Score it")], max_output_tokens=512, purpose="judge"
    )
    await provider.generate(judge)
    assert [r.json.get("reasoning_effort") for r in server.requests] == [None, "none"]


def _llama_server_answer(text: str) -> bytes:
    """llama.cpp's `llama-server` `/v1/chat/completions` body (its build as `system_fingerprint`)."""
    body = _answer("qwen3-8b", text, finish="stop", tokens=9)
    return json.dumps({**body, "system_fingerprint": "b6000-0c3a1f2"}).encode()


async def test_a_judge_on_llama_cpp_s_server_is_asked_through_its_template_not_to_think() -> None:
    """A catalog endpoint (`kind = "openai"`) at `llama-server -m Qwen3-8B.gguf --jinja`: its Qwen3 thinks unless its
    chat template is told `enable_thinking: false` (`chat_template_kwargs`, which llama-server documents); a server
    refusing the field is asked again without it."""
    refused = json.dumps({"error": {"code": 400, "message": "Unknown field: chat_template_kwargs"}}).encode()
    server = MockServer(
        Reply(200, content=_llama_server_answer("RAID 5 stripes parity.")),
        Reply(200, content=_llama_server_answer('{"score": 7, "feedback": "ok"}')),
        Reply(400, content=refused),
        Reply(200, content=_llama_server_answer('{"score": 7, "feedback": "ok"}')),
        Reply(200, content=_llama_server_answer('{"score": 7, "feedback": "ok"}')),
    )
    provider = OpenAIProvider(
        base_url="http://127.0.0.1:8080/v1", http_client=httpx2.AsyncClient(transport=server.httpx2_transport())
    )
    model = ModelProfile(name="openai:qwen3-8b", cost_per_1k_tokens=0, context_window=8192)
    answer = GenerationRequest(model=model, messages=[Message(role="user", content="RAID 5?")], max_output_tokens=64)
    judge = GenerationRequest(
        model=model, messages=[Message(role="user", content="Score it")], max_output_tokens=512, purpose="judge"
    )
    await provider.generate(answer)
    await provider.generate(judge)
    assert [r.json.get("chat_template_kwargs") for r in server.requests] == [None, {"enable_thinking": False}]
    await provider.generate(judge)  # (refused, asked again without it)
    await provider.generate(judge)  # (and not sent it again)
    sent = [r.json.get("chat_template_kwargs") for r in server.requests[2:]]
    assert sent == [{"enable_thinking": False}, None, None]
