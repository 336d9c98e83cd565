"""`http_error`: the one mapping of a vendor's HTTP error status to the exception tree, which every adapter uses."""

from __future__ import annotations

import pytest

from orchestratex.exceptions import (
    AuthenticationError,
    ContentFiltered,
    ContextLengthExceeded,
    ProviderError,
    ProviderHTTPError,
    ProviderServerError,
    ProviderTimeout,
    RateLimited,
)
from orchestratex.providers import http_error, retry_after_seconds


def _error(status: int, **kwargs: object) -> ProviderError:
    kwargs.setdefault("api_key_env", "ACME_API_KEY")
    return http_error(status, "the vendor's words", provider="acme", model="acme:m", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "kwargs", "cls"),
    [
        (401, {}, AuthenticationError),
        (403, {}, AuthenticationError),
        (400, {"refused_key": True}, AuthenticationError),
        (403, {"key_accepted": True}, ProviderHTTPError),
        (429, {}, RateLimited),
        (429, {"quota_exhausted": True}, ProviderHTTPError),
        (429, {"over_limit": True}, ProviderHTTPError),
        (400, {"too_long": True}, ContextLengthExceeded),
        (500, {"too_long": True}, ContextLengthExceeded),
        (400, {"filtered": True}, ContentFiltered),
        (408, {}, ProviderTimeout),
        (504, {"timed_out": True}, ProviderTimeout),
        (408, {"timed_out": False}, ProviderHTTPError),
        (500, {}, ProviderServerError),
        (503, {}, ProviderServerError),
        (529, {}, ProviderServerError),
        (400, {}, ProviderHTTPError),
        (404, {}, ProviderHTTPError),
        (422, {}, ProviderHTTPError),
    ],
)
def test_each_status_maps_to_its_class(status: int, kwargs: dict[str, object], cls: type[ProviderError]) -> None:
    error = _error(status, **kwargs)
    assert type(error) is cls
    assert (error.model, error.provider) == ("acme:m", "acme")
    assert "the vendor's words" in error.message
    if isinstance(error, ProviderHTTPError):
        assert error.status_code == status


def test_a_refused_key_names_the_variable_or_says_to_check_the_server_key() -> None:
    assert _error(401).message == "acme rejected the API key (401): the vendor's words; set ACME_API_KEY to a valid key"
    assert _error(403).message.startswith("acme refused access (permission denied) (403)")
    assert _error(401, api_key_env=None).message.endswith("; check the server's API key")


def test_the_order_a_refused_key_before_a_rate_limit_before_a_long_prompt() -> None:
    assert isinstance(_error(429, refused_key=True), AuthenticationError)
    assert isinstance(_error(429, too_long=True, filtered=True), RateLimited)
    assert isinstance(_error(400, too_long=True, filtered=True), ContextLengthExceeded)
    assert isinstance(_error(408, filtered=True), ContentFiltered)


def test_the_wait_is_read_from_the_headers_unless_given() -> None:
    limited = _error(429, headers={"Retry-After-Ms": "1500"})
    assert isinstance(limited, RateLimited) and limited.retry_after == 1.5
    assert limited.headers == {"retry-after-ms": "1500"}
    busy = _error(503, headers={"retry-after": "7"})
    assert isinstance(busy, ProviderServerError) and busy.retry_after == 7.0
    given = _error(429, headers={"retry-after": "7"}, retry_after=2.0)
    assert isinstance(given, RateLimited) and given.retry_after == 2.0
    assert _error(500).retryable and _error(500).retry_after is None  # type: ignore[attr-defined]


def test_the_vendor_label_follows_the_status_and_the_body_is_kept() -> None:
    error = _error(529, label="overloaded_error", body={"type": "error"})
    assert error.message == "acme server error (529 overloaded_error): the vendor's words"
    assert isinstance(error, ProviderServerError) and error.body == {"type": "error"}
    assert _error(418).message == "acme error (418): the vendor's words"


def test_a_wait_that_is_no_finite_number_is_no_wait() -> None:
    for bogus in ("nan", "NaN", "inf", "-inf", "1e400"):
        assert retry_after_seconds({"retry-after": bogus}) is None, bogus
        assert retry_after_seconds({"retry-after-ms": bogus, "retry-after": "4"}) == 4.0, bogus
    limited = _error(429, headers={"retry-after": "nan"})
    assert isinstance(limited, RateLimited) and limited.retry_after is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [(429, RateLimited), (503, ProviderServerError), (529, ProviderServerError), (408, ProviderTimeout)],
)
def test_x_should_retry_false_keeps_the_class_and_is_not_retried(status: int, cls: type[ProviderError]) -> None:
    """As the OpenAI and Anthropic SDKs honour it (and OrchestrateX's own `/v1` sends it about a run that may have
    spent); any other value, or none, leaves the error retryable. (A 408 saying so was retried all the same.)"""
    refused = _error(status, headers={"X-Should-Retry": "false"})
    assert type(refused) is cls and not refused.retryable
    assert str(refused).endswith("(not retried: the server answered x-should-retry: false)")
    assert refused.message == str(refused)
    for headers in ({}, {"x-should-retry": "true"}):
        assert _error(status, headers=headers).retryable
    assert cls.retryable, "the class is untouched"


def test_a_409_or_an_answer_saying_x_should_retry_true_is_retried() -> None:
    """The OpenAI and Anthropic SDKs retry a 409 (a lock timeout) and any answer carrying `x-should-retry: true`; the
    adapters switch the SDKs' retries off, and such an error was a `ProviderHTTPError` never retried: the run gave the
    model up at once."""
    conflict = _error(409)
    assert type(conflict) is ProviderHTTPError and conflict.retryable and conflict.status_code == 409
    assert not _error(409, headers={"x-should-retry": "false"}).retryable
    told = _error(400, headers={"X-Should-Retry": "true"})
    assert type(told) is ProviderHTTPError and told.retryable
    assert str(told).endswith("(retried: the server answered x-should-retry: true)")
    assert not _error(400).retryable and not ProviderHTTPError.retryable, "the class is untouched"
