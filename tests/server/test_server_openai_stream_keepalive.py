"""A stream whose run writes drafts (a run that may refine, its answer sent once settled) gets `: keep-alive` after
`heartbeat_s` without a byte sent, as the docs say: a draft's pieces arriving from the model are not sent, and they held
the keep-alive back, so a local model writing a long draft left the stream silent for minutes, and a proxy's idle
timeout (60 s) or the client's read timeout cut it, cancelling the run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi.testclient import TestClient

from orchestratex import FunctionProvider, GenerationRequest, Orchestrator
from orchestratex.server import ServerSettings, create_app, issue_api_key
from orchestratex.stores import MemoryStore

from ..helpers import catalog
from .test_server_openai import PROMPT, sse


async def answers(request: GenerationRequest) -> AsyncIterator[str]:
    if request.purpose == "judge":
        yield json.dumps({"score": 9, "feedback": "fine"})
        return
    for _ in range(40):  # (a slow model writing its draft: a piece at a time, none sent)
        await asyncio.sleep(0.02)
        yield "word "


def test_a_draft_written_slowly_gets_keep_alives() -> None:
    store = MemoryStore()
    orchestrator = Orchestrator(providers=[FunctionProvider(answers)], catalog=catalog("a", "b"), store=store)
    app = create_app(orchestrator=orchestrator, settings=ServerSettings(heartbeat_s=0.1))
    with TestClient(app) as client:
        key = client.portal.call(issue_api_key, store, "alice")  # type: ignore[union-attr]
        body = {"model": "orchestratex/auto", "messages": PROMPT, "stream": True, "max_iterations": 2}
        response = client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
        payloads, comments, done = sse(response.text)
        assert done and "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads if p["choices"])
        drafting = comments[comments.index(next(c for c in comments if "model_selected" in c)) :]
        assert "keep-alive" in drafting[: drafting.index(next(c for c in drafting if "response_generated" in c))]
