"""No API key passed as `?token=` reaches the logs uvicorn writes request paths to."""

from __future__ import annotations

import logging

import pytest

from orchestratex.server import create_app
from orchestratex.server._redact import LOGGERS, TokenRedactingFilter, install_token_redaction, redact
from orchestratex.stores import MemoryStore

_KEY = "ox_" + "Zq3-x_9" * 6 + "K"
"""A key as `orchestratex keys create` prints one: `ox_` and 43 URL-safe characters."""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ws/abc?token=ox_secret", "/ws/abc?token=***"),
        ("/ws/abc?since=3&token=ox_secret", "/ws/abc?since=3&token=***"),
        ("/ws/abc?token=ox_secret&since=3", "/ws/abc?token=***&since=3"),
        ("/ws/abc?since=3", "/ws/abc?since=3"),
        ("/api/x?mytoken=keep", "/api/x?mytoken=keep"),
        ("/ws/abc?tok%65n=ox_secret", "/ws/abc?tok%65n=***"),  # the server decodes the name: so does the filter
        ("/ws/abc?since=1&%74%6F%6B%65%6E=ox_secret", "/ws/abc?since=1&%74%6F%6B%65%6E=***"),
        ("/ws/abc?t%6Fken=ox_secret&since=2", "/ws/abc?t%6Fken=***&since=2"),
        # a key where the server takes none (as other APIs take theirs), logged all the same: it was kept whole
        (f"/api/models/?api_key={_KEY}", "/api/models/?api_key=ox_***"),
        (f"/api/models/?key={_KEY}&x=1", "/api/models/?key=ox_***&x=1"),
        (f"/api/sessions/user/{_KEY}", "/api/sessions/user/ox_***"),
        # percent-encoded in part, as a client wrote it (uvicorn logs the path as sent; the server decodes it)
        (f"/api/sessions/user/%6f{_KEY[1:]}", "/api/sessions/user/ox_***"),
        (f"/api/sessions/user/%6F%78%5F{_KEY[3:]}", "/api/sessions/user/ox_***"),
        (f"/api/x?api_key={_KEY[:10]}%2d{_KEY[11:]}", "/api/x?api_key=ox_***"),
        (f"/api/sessions/user%2F{_KEY}", "/api/sessions/user%2Fox_***"),
        # another API's credential (a provider's key sent here by mistake): masked whatever it looks like
        ("/v1/models?key=AIzaSyD-secret", "/v1/models?key=***"),
        ("/v1/models?x=1&API_KEY=sk-proj-secret", "/v1/models?x=1&API_KEY=***"),
        ("/v1/models?access_token=eyJ.secret.sig", "/v1/models?access_token=***"),
        ("/v1/models?api-key=azure-secret&x=1", "/v1/models?api-key=***&x=1"),
        ("/v1/models?k%65y=AIzaSyD-secret", "/v1/models?k%65y=***"),
        ("/api/x?keys=3&monkey=1", "/api/x?keys=3&monkey=1"),
        ("/api/models/%6fx_short", "/api/models/%6fx_short"),
        (
            "/api/models/box_of_words_that_is_long_enough_to_look_like_it",
            "/api/models/box_of_words_that_is_long_enough_to_look_like_it",
        ),
    ],
)
def test_redact_replaces_only_token_values(path: str, expected: str) -> None:
    assert redact(path) == expected


def test_the_filter_rewrites_uvicorn_style_records() -> None:
    access = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/ws/s1?token=ox_secret", "1.1", 101), None,
    )  # fmt: skip
    handshake = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws/s1?since=2&token=ox_secret"), None,
    )  # fmt: skip
    inline = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "GET /ws?token=ox_secret", None, None)
    for record in (access, handshake, inline):
        assert TokenRedactingFilter().filter(record) is True
        assert "ox_secret" not in record.getMessage()
        assert "token=***" in record.getMessage()


def test_create_app_installs_the_filter_once(caplog: pytest.LogCaptureFixture) -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for f in [f for f in logger.filters if isinstance(f, TokenRedactingFilter)]:
            logger.removeFilter(f)
    create_app(MemoryStore())
    create_app(MemoryStore())
    install_token_redaction()
    for name in LOGGERS:
        assert sum(isinstance(f, TokenRedactingFilter) for f in logging.getLogger(name).filters) == 1
    with caplog.at_level(logging.INFO):  # (the handshake's line moves to uvicorn.access)
        logging.getLogger("uvicorn.error").info('%s - "WebSocket %s" 403', "127.0.0.1:1", "/ws/s?token=ox_leak")
    assert "ox_leak" not in caplog.text and "token=***" in caplog.text


def test_websocket_handshakes_are_logged_as_requests_not_errors(caplog: pytest.LogCaptureFixture) -> None:
    install_token_redaction()
    caplog.set_level(logging.DEBUG)
    errors = logging.getLogger("uvicorn.error")
    errors.info('%s - "WebSocket %s" %d', "127.0.0.1:5000", "/ws/abc?tok%65n=ox_secret", 401)
    errors.info("connection rejected (%d %s)", 401, "Unauthorized")
    errors.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5001", "/ws/abc")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("uvicorn.access", logging.INFO, '127.0.0.1:5000 - "WEBSOCKET /ws/abc?tok%65n=*** HTTP/1.1" 401'),
        ("uvicorn.access", logging.INFO, '127.0.0.1:5001 - "WEBSOCKET /ws/abc HTTP/1.1" 101'),
    ]
