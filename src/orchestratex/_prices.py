"""Vendors' list prices from a maintained source, pydantic's `genai-prices`, snapshotted in `data/prices.toml`.

Why a snapshot rather than importing `genai-prices` at run time: its data module takes about half a
second to load, and an orchestrator must start fast (the CLI, every test). `scripts/update-prices`
regenerates the snapshot from the pinned `genai-prices` (a dev dependency), and a test fails while
the two differ. Why genai-prices rather than LiteLLM's `model_prices_and_context_window.json`: it
is a small MIT-licensed package on PyPI with a typed API and decimal prices per million tokens,
tiered (long-context) prices and dated price changes, maintained by the pydantic team; LiteLLM's
map is not published on its own (only inside the `litellm` package, or fetched from GitHub at run
time), holds binary floats per token, and has no tiers beyond a few ad-hoc keys.

The shipped catalog (`data/catalog.toml`) keeps what no source has: routing priors (quality,
specialties), and prices only for models the source does not list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any

__all__ = [
    "PRICE_SOURCE",
    "SERVICE_TIERS",
    "cache_write_ratio",
    "render_prices_toml",
    "service_tier_ratios",
    "vendor_price",
    "with_vendor_prices",
]

PRICE_SOURCE = "genai-prices"

_SOURCE_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}
"""Our provider name → genai-prices' provider id."""
_SKIP = re.compile(
    r"tts|transcribe|image|embedding|realtime|audio|whisper|moderation|search|live|robotics|research|"
    r"davinci|babbage|curie|^ada$|^ft:|:|-$|computer-use|vision|instruct|^gpt-oss"
)
_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")
SERVICE_TIERS = ("flex", "priority")
"""OpenAI's service tiers billed at other prices than the default one (`service_tier` of an answer), whose prices the
snapshot keeps as `<tier>_input_cost_per_1k`, … ."""
_PRICE_KEYS = ("input_cost_per_1k", "output_cost_per_1k", "cached_input_cost_per_1k")


@cache
def _snapshot() -> dict[str, dict[str, dict[str, Any]]]:
    import tomllib
    from importlib import resources

    text = resources.files("orchestratex").joinpath("data/prices.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return {p: data.get(p, {}) for p in _SOURCE_PROVIDERS}


def vendor_price(provider: str, model_id: str) -> dict[str, Any] | None:
    """The source's prices (per 1k tokens) and limits for `provider:model_id`, or None when it has none.

    A dated model id (`gpt-4o-2024-08-06`, `claude-sonnet-4-5-20250929`) falls back to its base id.
    """
    models = _snapshot().get(provider)
    if not models:
        return None
    found = models.get(model_id)
    if found is None:
        found = models.get(_DATE_SUFFIX.sub("", model_id))
    return dict(found) if found is not None else None


def cache_write_ratio(provider: str, model_id: str) -> Decimal | None:
    """What a token written to `provider:model_id`'s prompt cache costs, as a multiple of its input price, by the
    source (OpenAI's GPT-5.6 family on: 1.25); None when the source has no cache-write price for it (OpenAI's earlier
    models write to the cache at no extra cost)."""
    found = vendor_price(provider, model_id)
    if not found or not found.get("input_cost_per_1k") or found.get("cache_write_cost_per_1k") is None:
        return None
    return Decimal(repr(found["cache_write_cost_per_1k"])) / Decimal(repr(found["input_cost_per_1k"]))


def service_tier_ratios(provider: str, model_id: str, tier: str) -> tuple[Decimal, Decimal, Decimal] | None:
    """What `provider:model_id`'s input, output and cached-input prices are multiplied by when a call is served at
    service tier `tier` (OpenAI's `priority` and `flex`), by the source; None when it lists no such prices."""
    found = vendor_price(provider, model_id)
    if not found or tier not in SERVICE_TIERS or found.get(f"{tier}_input_cost_per_1k") is None:
        return None

    def ratio(kind: str, default: Decimal) -> Decimal:
        base, billed = found.get(f"{kind}_cost_per_1k"), found.get(f"{tier}_{kind}_cost_per_1k")
        if not base or billed is None:
            return default
        return Decimal(repr(billed)) / Decimal(repr(base))

    inp = ratio("input", Decimal(1))
    return inp, ratio("output", inp), ratio("cached_input", inp)


def with_vendor_prices(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A catalog entry with its prices filled in from the source when it gives none.

    A model billed more above some prompt length gets the cheaper tier's prices and its
    `context_window` capped at that length, so that no call is billed above what was reserved.
    """
    entry = dict(entry)
    if entry.get("cost_per_1k_tokens") is not None or all(entry.get(k) is not None for k in _PRICE_KEYS[:2]):
        return entry
    name = str(entry.get("name", ""))
    provider, _, model_id = name.partition(":")
    provider = str(entry.get("provider") or provider)
    model_id = str(entry.get("version") or model_id)
    found = vendor_price(provider, model_id)
    if found is None:
        return entry
    for key in _PRICE_KEYS:
        if entry.get(key) is None and key in found:
            entry[key] = found[key]
    window = entry.get("context_window", found.get("context_window"))
    limit = found.get("tier_limit")
    if limit is not None:
        window = min(int(window), int(limit)) if window is not None else int(limit)
    if window is not None:
        entry["context_window"] = window
    return entry


def _per_1k(value: Any) -> tuple[Decimal | None, int | None]:
    """A per-MTok price (or tiered prices) → the base per-1k price and the first tier's start."""
    if value is None:
        return None, None
    if isinstance(value, Decimal | int | float):
        return Decimal(value) / 1000, None
    base, tiers = value.base, value.tiers
    start = min((t.start for t in tiers), default=None)
    return Decimal(base) / 1000, start


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


def render_prices_toml() -> str:
    """The text of `data/prices.toml`, from the installed genai-prices (needs it: a dev dependency)."""
    from datetime import UTC, datetime
    from importlib.metadata import version

    from genai_prices.data_snapshot import get_snapshot

    now = datetime.now(UTC)
    snapshot = get_snapshot()
    lines = [
        f"# Vendors' list prices, US$ per 1,000 tokens, from {PRICE_SOURCE} {version(PRICE_SOURCE)}.",
        "# Generated by scripts/update-prices: do not edit (a test compares it with the source).",
        "# Models billed more above some prompt length have the cheaper tier's prices and that length as tier_limit.",
        "",
        f'source = "{PRICE_SOURCE}"',
        f'version = "{version(PRICE_SOURCE)}"',
    ]
    for ours, theirs in _SOURCE_PROVIDERS.items():
        provider = next(p for p in snapshot.providers if p.id == theirs)
        for model in sorted(provider.models, key=lambda m: m.id):
            if _SKIP.search(model.id) or (ours == "gemini" and not model.id.startswith(("gemini", "gemma"))):
                continue
            prices = model.get_prices(now)
            inp, in_limit = _per_1k(prices.input_mtok)
            out, out_limit = _per_1k(prices.output_mtok)
            cached, cached_limit = _per_1k(prices.cache_read_mtok)
            write, write_limit = _per_1k(prices.cache_write_mtok)
            if inp is None or out is None:
                continue
            limits = [x for x in (in_limit, out_limit, cached_limit, write_limit) if x is not None]
            lines += ["", f'[{ours}."{model.id}"]']
            lines.append(f"input_cost_per_1k = {_number(inp)}")
            lines.append(f"output_cost_per_1k = {_number(out)}")
            if cached is not None:
                lines.append(f"cached_input_cost_per_1k = {_number(cached)}")
            if write is not None:
                lines.append(f"cache_write_cost_per_1k = {_number(write)}")
            if model.context_window:
                lines.append(f"context_window = {model.context_window}")
            if limits:
                lines.append(f"tier_limit = {min(limits)}")
            for tier in SERVICE_TIERS:
                variant = model.get_prices(now, {"service_tier": tier})
                for kind, value in (
                    ("input", variant.input_mtok),
                    ("output", variant.output_mtok),
                    ("cached_input", variant.cache_read_mtok),
                    ("cache_write", variant.cache_write_mtok),
                ):
                    price, _ = _per_1k(value)
                    if variant != prices and price is not None:
                        lines.append(f"{tier}_{kind}_cost_per_1k = {_number(price)}")
    return "\n".join(lines) + "\n"
