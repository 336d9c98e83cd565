"""MiniLM sentence embeddings, defined with the fitted router (`orchestratex.routing._embed`) and re-exported here."""

from __future__ import annotations

from ..routing._embed import EMBEDDINGS_HINT, MiniLMEmbedder, embeddings_available

__all__ = ["EMBEDDINGS_HINT", "MiniLMEmbedder", "embeddings_available"]
