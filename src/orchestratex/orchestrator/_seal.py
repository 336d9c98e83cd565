"""The run's sealed records (`made`, `seal`, `share`), defined in `orchestratex._seal` so that the routers and the
evaluator, which the orchestrator imports, build their records the same way."""

from .._seal import made, seal, share

__all__ = ["made", "seal", "share"]
