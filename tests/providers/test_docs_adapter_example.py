"""docs/providers/index.md's "Writing your own adapter" `AcmeProvider`, followed literally: it must send the output cap
the budget reserved for, and report a vendor it cannot reach as a failure the run retries and falls back from."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx2

from orchestratex import BayesianRouter, FunctionProvider, Orchestrator
from orchestratex.catalog import ModelCatalog, ModelProfile
from orchestratex.orchestrator import RetryPolicy
from orchestratex.providers import Provider

DOC = Path(__file__).resolve().parents[2] / "docs" / "providers" / "index.md"
ACME = ModelProfile(name="acme:large", input_cost_per_1k=0.01, output_cost_per_1k=0.04, quality=9)
WRITER = ModelProfile(name="function:writer", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)
JUDGE = ModelProfile(name="function:judge", input_cost_per_1k=0.0001, output_cost_per_1k=0.0001, quality=5)
DEFAULT_LENGTH = 4096
"""How long Acme's model writes when it is sent no limit."""


def _acme_class() -> type[Provider]:
    code = re.search(
        r"```python\n(import json\nimport os\nimport time\n.*?class AcmeProvider.*?)```", DOC.read_text(), re.DOTALL
    )
    assert code is not None, "the AcmeProvider example is gone from docs/providers/index.md"
    namespace: dict[str, Any] = {"__name__": "acme_docs"}
    exec(compile(code.group(1), str(DOC), "exec", dont_inherit=True), namespace)
    acme: type[Provider] = namespace["AcmeProvider"]
    return acme


def _orchestrator(handler: Any) -> Orchestrator:
    acme = _acme_class()("test-key", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))  # type: ignore[call-arg]

    def other(request: Any) -> str:
        return json.dumps({"score": 9, "feedback": "ok"}) if request.purpose == "judge" else "Hello from the writer."

    return Orchestrator(
        providers=[acme, FunctionProvider(other)],
        catalog=ModelCatalog([ACME, WRITER, JUDGE]),
        router=BayesianRouter(explore=False),
        judges=[JUDGE.name],
        retry=RetryPolicy(max_attempts=2, initial_wait=0, max_wait=0),
    )


async def test_the_example_sends_the_output_cap_the_budget_reserved_for() -> None:
    """Without it, Acme's model wrote its default 4,096 tokens ($0.16) to a run allowed $0.05."""
    sent: list[dict[str, Any]] = []

    def acme(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        sent.append(body)
        written = min(body.get("max_tokens") or DEFAULT_LENGTH, DEFAULT_LENGTH)
        return httpx2.Response(
            200, json={"text": "word " * written, "usage": {"in": 20, "out": written}, "finish": "max_tokens"}
        )

    result = await _orchestrator(acme).run(
        "Write a long story.", max_iterations=1, preferred_models=[ACME.name], cost_limit=0.05
    )
    assert sent and sent[0].get("max_tokens") == result.orchestration.iterations[0].usage.output_tokens
    assert result.total_cost <= 0.05


async def test_an_unreachable_vendor_is_a_failure_the_run_falls_back_from() -> None:
    """A bare `httpx2.ConnectError` escaped `orchestrator.run` with a traceback, the run stored `failed`."""

    def refused(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("[Errno 111] Connection refused", request=request)

    result = await _orchestrator(refused).run("Say hello.", max_iterations=1, preferred_models=[ACME.name, WRITER.name])
    assert result.status == "completed" and result.final_response == "Hello from the writer."
    assert "ProviderConnectionError" in result.orchestration.iterations[0].errors[0]
