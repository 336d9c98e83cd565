"""A request body sent with a transfer coding the server does not decode (`Transfer-Encoding: gzip, chunked`) is
refused with 501 saying so, against a real `orchestratex serve` process, through `http.client` (which sends the header
as given and chunks the body)."""

from __future__ import annotations

import gzip
import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from .server_process import ServerProcess, create_key

pytestmark = pytest.mark.slow


@dataclass
class Served:
    server: ServerProcess
    key: str
    store_url: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("codings")
    url = f"sqlite:///{tmp / 'server.db'}"
    key = create_key(url, "alice")
    with ServerProcess(url, tmp) as server:
        yield Served(server, key, url)


def _post(served: Served, path: str, body: bytes, coding: str) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", served.server.port, timeout=30)
    try:
        headers = {
            "Authorization": f"Bearer {served.key}",
            "Content-Type": "application/json",
            "Transfer-Encoding": coding,
        }
        conn.request("POST", path, body=iter([body]), headers=headers, encode_chunked=True)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


def _sessions(served: Served) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", served.server.port, timeout=30)
    try:
        conn.request("GET", "/api/sessions/user/alice", headers={"Authorization": f"Bearer {served.key}"})
        return len(json.loads(conn.getresponse().read()))
    finally:
        conn.close()


def test_a_gzip_transfer_coded_body_is_refused_with_501_not_read_as_bytes(served: Served) -> None:
    """It was answered 400 "the request body is not UTF-8 (byte 0x8b at 1)": the compressed bytes read as JSON."""
    before = _sessions(served)
    body = gzip.compress(json.dumps({"max_iterations": 2}).encode())
    status, answer = _post(served, "/api/sessions/", body, "gzip, chunked")
    assert status == 501
    assert answer == {
        "detail": "the request body is sent with 'Transfer-Encoding: gzip, chunked', which this server does not"
        " decode: send it uncompressed, with 'Transfer-Encoding: chunked' alone or a Content-Length",
        "status_code": 501,
    }
    assert _sessions(served) == before


def test_a_plain_body_labelled_with_a_coding_is_not_stored_as_if_unlabelled(served: Served) -> None:
    before = _sessions(served)
    status, answer = _post(served, "/api/sessions/", b'{"max_iterations": 2}', "deflate, chunked")
    assert (status, answer["status_code"]) == (501, 501)
    assert _sessions(served) == before


def test_the_openai_api_refuses_it_in_openais_shape(served: Served) -> None:
    body = gzip.compress(json.dumps({"model": "orchestratex/auto", "messages": []}).encode())
    status, answer = _post(served, "/v1/chat/completions", body, "gzip, chunked")
    assert status == 501
    assert answer["error"]["code"] == "unsupported_transfer_encoding"
    assert answer["error"]["message"].startswith("the request body is sent with 'Transfer-Encoding: gzip, chunked'")


def test_a_chunked_body_is_still_read(served: Served) -> None:
    status, answer = _post(served, "/api/sessions/", b'{"max_iterations": 2}', "chunked")
    assert status == 201
    assert answer["max_iterations"] == 2
