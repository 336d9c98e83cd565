"""US-only inference counted at what Anthropic bills for it. A call whose inference ran in the US only
(`usage.inference_geo: "us"`: asked for with `inference_geo`, or the workspace's default, which the adapter cannot see)
is billed 1.1 times every rate on Claude Opus 4.6 and later models. It was counted at the list prices: every call of a
workspace set to US-only inference was short of its bill by a tenth."""

from __future__ import annotations

from typing import Any

import pytest

from .test_anthropic_cache_writes import _run


@pytest.mark.parametrize(
    ("usage", "billed"),
    [
        pytest.param(  # (1,000 x $3 + 200 x $15 per MTok) x 1.1
            {"input_tokens": 1000, "output_tokens": 200, "inference_geo": "us"}, 0.0066, id="us"
        ),
        pytest.param(  # (50 x $3 + 1,000 x $3.75 + 20 x $15) x 1.1: a 5-minute cache write, at 1.1 times its price too
            {"input_tokens": 50, "cache_creation_input_tokens": 1000, "output_tokens": 20, "inference_geo": "us"},
            0.00462,
            id="us-with-cache-write",
        ),
        pytest.param(  # 1,000 x $3 + 200 x $15: the list prices
            {"input_tokens": 1000, "output_tokens": 200, "inference_geo": "global"}, 0.006, id="global"
        ),
    ],
)
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_a_run_counts_us_only_inference_at_what_anthropic_bills(
    usage: dict[str, Any], billed: float, streamed: bool
) -> None:
    total, spent, reserved = await _run(usage, streamed=streamed)
    assert (total, spent, reserved) == (billed, billed, 0.0)
