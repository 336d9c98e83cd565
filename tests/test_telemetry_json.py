"""`JsonFormatter`: any record as one line of JSON, with the record's own fields in their JSON types."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from orchestratex.telemetry import JsonFormatter


def _record(msg: str, *args: object, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("orchestratex.routing", level, __file__, 1, msg, args or None, None)
    record.__dict__.update(extra)
    return record


def test_an_event_line_keeps_its_fields_and_types() -> None:
    record = _record("routing %s", "iteration=1", event="routing", iteration=1, score=8.5, fallback_from=None)
    record.__dict__.update(model=Path("a"), flag=True, huge=float("inf"), color_message="\x1b[32mx")
    line = JsonFormatter().format(record)
    assert json.loads(line) == {
        "time": line.split('"time": "')[1][:24],
        "level": "INFO",
        "logger": "orchestratex.routing",
        "message": "routing",
        "event": "routing",
        "iteration": 1,
        "score": 8.5,
        "model": "a",
        "flag": True,
        "huge": "inf",
    }


def test_a_line_is_one_line_whatever_its_text() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record = _record("first\u2028second\x85third %s", "x\u2029y", level=logging.ERROR, exc_info=sys.exc_info())
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert len(line.splitlines()) == 1
    parsed = json.loads(line)
    assert parsed["message"] == "first\u2028second\x85third x\u2029y"
    assert parsed["exception"].startswith("Traceback") and parsed["exception"].endswith("ValueError: bad\nvalue")
    assert "\\u2028" in line and "\\u0085" in line and line.isascii()


def test_a_uvicorn_access_line_gives_its_request_as_fields() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/x?a=1", "1.1", 404),
        None,
    )
    parsed = json.loads(JsonFormatter().format(record))
    assert parsed["message"] == '1.2.3.4:5 - "GET /x?a=1 HTTP/1.1" 404'
    assert (parsed["client_addr"], parsed["method"], parsed["path"], parsed["status"]) == (
        "1.2.3.4:5",
        "GET",
        "/x?a=1",
        404,
    )


def test_a_record_whose_arguments_do_not_fit_its_format_is_still_one_json_line() -> None:
    """A library's `log.warning("%s and %s", x)` made `logging` print a "--- Logging error ---" traceback, many lines
    of text, among the JSON ones (and drop the line): `--log-format json` promises one JSON object per line."""
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("some.library")
    log.addHandler(handler)
    log.propagate = False
    saved = sys.stderr
    sys.stderr = errors = io.StringIO()  # (where `logging` prints what it could not format)
    try:
        log.warning("%s and %s", "one")
        log.warning("%d items", "many")
    finally:
        sys.stderr = saved
        log.removeHandler(handler)
        log.propagate = True
    assert errors.getvalue() == ""
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "WARNING" and first["logger"] == "some.library"
    assert first["message"] == "%s and %s (arguments that do not fit it: ('one',))"
    assert second["message"] == "%d items (arguments that do not fit it: ('many',))"
