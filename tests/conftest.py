"""Real provider requests are blocked, and provider keys hidden, for the whole test run; the loggers a server
configures are put back after each test."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from orchestratex.testing.fixtures import block_model_requests, hide_provider_variables

__all__ = ["hide_provider_variables", "server_logging_restored"]

block_model_requests()

_CONFIGURED = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "orchestratex")
"""The loggers that `uvicorn.Config` and `orchestratex serve` configure for the whole process."""


@pytest.fixture(autouse=True)
def server_logging_restored() -> Iterator[None]:
    """A test that served in-process (`uvicorn.Config`, `main(["serve", ...])`) left uvicorn's loggers at WARNING
    and not propagating (and `orchestratex`'s not propagating): a later test reading them through `caplog` (which
    listens on the root logger) saw nothing, so it failed after such a test only."""
    saved = [
        (logger, logger.level, logger.propagate, logger.disabled, list(logger.handlers))
        for logger in map(logging.getLogger, _CONFIGURED)
    ]
    yield
    for logger, level, propagate, disabled, handlers in saved:
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled
        logger.handlers[:] = handlers
