"""What a notebook shows for an orchestrator and a stream (`repr`): what they are and where the run is, not
`<orchestratex.orchestrator._stream.RunStream object at 0x…>`."""

from __future__ import annotations

import re
from pathlib import Path

from orchestratex import Orchestrator, SQLiteStore


async def test_an_orchestrator_shows_its_providers_models_and_store(tmp_path: Path) -> None:
    async with Orchestrator(simulate=True) as orch:
        assert (
            repr(orch)
            == f"Orchestrator(providers=['sim'], models={len(orch.catalog)}, store=MemoryStore(), simulated=True)"
        )
    store = SQLiteStore(tmp_path / "runs.db")
    async with Orchestrator(simulate=True, store=store) as orch:
        assert f"store=SQLiteStore({str(tmp_path / 'runs.db')!r})" in repr(orch)


async def test_a_stream_shows_where_its_run_is() -> None:
    async with Orchestrator(simulate=True) as orch:
        orch.providers["sim"].latency_scale = 0  # type: ignore[attr-defined]
        stream = orch.run_stream("Hello", max_iterations=1)
        assert repr(stream) == "RunStream(not started)"
        async with stream:
            assert repr(stream) == "RunStream(running)"
            async for _ in stream:
                pass
        assert re.fullmatch(r"RunStream\(orchestration_id='[0-9a-f]{24}', status='completed'\)", repr(stream))
        orch.providers["sim"].latency_scale = 100  # type: ignore[attr-defined]
        async with orch.run_stream("Hello", max_iterations=3) as left:
            async for _ in left:
                assert re.fullmatch(r"RunStream\(orchestration_id='[0-9a-f]{24}', running\)", repr(left))
                break
        assert repr(left).endswith("status='cancelled')")
