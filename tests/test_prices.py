"""Vendors' prices come from the maintained source (genai-prices), snapshotted in data/prices.toml."""

from __future__ import annotations

import tomllib
from importlib import resources

from orchestratex import ModelCatalog
from orchestratex._prices import render_prices_toml, vendor_price


def test_the_snapshot_is_what_the_pinned_source_gives() -> None:
    shipped = resources.files("orchestratex").joinpath("data/prices.toml").read_text(encoding="utf-8")
    assert shipped == render_prices_toml(), "data/prices.toml is stale: run scripts/update-prices"


def test_the_hand_kept_catalog_prices_only_what_the_source_does_not_know() -> None:
    text = resources.files("orchestratex").joinpath("data/catalog.toml").read_text(encoding="utf-8")
    for entry in tomllib.loads(text)["models"]:
        provider, _, model_id = entry["name"].partition(":")
        known = vendor_price(provider, entry.get("version", model_id))
        has_price = "input_cost_per_1k" in entry or "cost_per_1k_tokens" in entry
        assert has_price != (known is not None), entry["name"]


def test_every_default_model_is_priced_and_tiered_prices_cap_the_window() -> None:
    catalog = ModelCatalog.default()
    assert all(m.priced for m in catalog)
    for name in ("gpt-4o", "gpt-4o-mini", "o3", "o4-mini", "claude-sonnet-4-6", "gemini-2.5-pro", "gemini-2.5-flash"):
        assert name in catalog, name
    haiku = catalog.get("anthropic:claude-haiku-5-5")
    assert vendor_price("anthropic", "claude-haiku-5-5")["tier_limit"] == haiku.context_window == 100_000  # type: ignore[index]


def test_dated_model_ids_fall_back_to_their_base_id() -> None:
    assert vendor_price("openai", "gpt-4o-2024-08-06") == vendor_price("openai", "gpt-4o")
    assert vendor_price("anthropic", "claude-haiku-4-5-20251001") == vendor_price("anthropic", "claude-haiku-4-5")
    assert vendor_price("openai", "no-such-model") is None and vendor_price("ollama", "llama3.2") is None
