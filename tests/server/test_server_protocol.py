"""`orchestratex serve`'s HTTP protocol in-process: a real uvicorn on 127.0.0.1 serving a recording app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn

from orchestratex.server import _guarded
from orchestratex.server._protocol import ConnectionLimits, guarded_http_protocol

pytest.importorskip("httptools")


@dataclass
class Served:
    port: int
    paths: list[str] = field(default_factory=list)
    """The paths of the requests the app was called for, in order."""


Handler = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(
        *,
        answer_health: bool = True,
        header_timeout_s: float = 5.0,
        keep_alive_s: float = 5.0,
        max_connections: int = 20,
        max_connections_per_client: int = 20,
        slow_s: float | None = None,
    ) -> Served:
        served = Served(port=0)

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            served.paths.append(scope["path"])
            if scope["path"] == "/slow":
                await asyncio.sleep(keep_alive_s + 0.5 if slow_s is None else slow_s)
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"3")]})
            await send({"type": "http.response.body", "body": b"app"})

        limits = ConnectionLimits(
            header_timeout_s=header_timeout_s,
            body_timeout_s=5.0,
            max_header_bytes=8192,
            max_connections=max_connections,
            max_connections_per_client=max_connections_per_client,
            answer_health=answer_health,
        )
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            http=guarded_http_protocol(limits),  # type: ignore[arg-type]
            lifespan="off",
            log_level="warning",
            timeout_keep_alive=keep_alive_s,  # type: ignore[arg-type]  # (a float works: it goes to call_later)
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        while not server.started:
            await asyncio.sleep(0.01)
        served.port = server.servers[0].sockets[0].getsockname()[1]
        return served

    yield start
    for server, task in servers:
        server.should_exit = True
        await task


async def _responses(reader: asyncio.StreamReader, *methods: str) -> list[tuple[int, dict[bytes, bytes], bytes]]:
    """The responses to requests of `methods` (each with a `content-length`): status, headers, body."""
    answers = []
    for method in methods:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        lines = head.split(b"\r\n")
        headers = dict(line.lower().split(b": ", 1) for line in lines[1:] if line)
        length = 0 if method == "HEAD" else int(headers.get(b"content-length", b"0"))
        answers.append((int(lines[0].split(b" ")[1]), headers, await reader.readexactly(length)))
    return answers


async def test_health_is_answered_by_the_protocol_and_pipelined_requests_keep_their_order(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    served = await serve()
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    first, other, second = await _responses(reader, "GET", "GET", "GET")
    for status, headers, body in (first, second):
        assert (status, body) == (200, b'{"status":"ok"}')
        assert headers[b"content-type"] == b"application/json" and b"date" in headers
    assert other[0] == 200 and other[2] == b"app"
    assert served.paths == ["/other"]  # the app saw no /health
    # HEAD: the headers of GET, no body; and the connection stays usable
    writer.write(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
    (head_status, head_headers, _), after = await _responses(reader, "HEAD", "GET")
    assert head_status == 200 and head_headers[b"content-length"] == b"15"
    assert after[2] == b"app" and served.paths == ["/other", "/after"]
    writer.close()


async def test_without_answer_health_the_app_answers_health(serve: Callable[..., Awaitable[Served]]) -> None:
    served = await serve(answer_health=False)
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    [(status, _, body)] = await _responses(reader, "GET")
    assert (status, body, served.paths) == (200, b"app", ["/health"])
    writer.close()


async def test_a_request_pipelined_behind_health_is_not_cut_by_the_keep_alive_timeout(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    """The health answer arms uvicorn's keep-alive timeout; the request after it must disarm it."""
    served = await serve(keep_alive_s=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    health, slow = await _responses(reader, "GET", "GET")
    assert health[0] == 200 and slow == (200, slow[1], b"app")
    writer.close()


async def test_a_header_deadline_moved_later_is_kept_not_the_first_one(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    """A connection's timer is set once and follows its deadline: a request begun after the connection's
    first deadline was armed still gets the whole `header_timeout_s`, and no more."""
    served = await serve(header_timeout_s=0.6)
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    await asyncio.sleep(0.3)
    writer.write(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")  # ends the first deadline's request
    assert (await _responses(reader, "GET"))[0][2] == b"app"
    writer.write(b"GET /two HTTP/1.1\r\nHost: x\r\n")  # ... and the rest of these headers never comes
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.sleep(0.45)  # past where the connection's first timer fires: still waiting for the headers
    assert not reader.at_eof()
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 408 ") and loop.time() - began >= 0.5
    writer.close()


async def test_an_idle_connection_is_closed_at_its_header_deadline(serve: Callable[..., Awaitable[Served]]) -> None:
    served = await serve(header_timeout_s=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, with nothing to answer
    writer.close()


async def _open_idle(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that has had one request answered and is now kept alive, idle."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert (await _responses(reader, "GET"))[0][2] == b"app"
    return reader, writer


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes the connection (it has by now, making room for another: its end is on its way).
    Waits up to 10 s: a pause of the process past a shorter wait (0.5 s, a collection of CI's 2 GB heap) timed the
    wait out before the loop had read the end waiting on the socket."""
    try:
        return await asyncio.wait_for(reader.read(), 10) == b""
    except TimeoutError:
        return False


async def test_at_max_connections_the_longest_idle_connection_makes_room(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    """A new connection past the limit is served, and the connection idle the longest between requests is
    closed for it; one with a request under way, or none yet, is never closed: with none idle, 503."""
    served = await serve(max_connections=3, keep_alive_s=60, slow_s=2)
    oldest = await _open_idle(served.port, "/first")
    await asyncio.sleep(0.05)
    newer = await _open_idle(served.port, "/second")
    fresh = await asyncio.open_connection("127.0.0.1", served.port)  # connected, nothing asked yet
    await asyncio.sleep(0.05)

    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)  # the fourth
    writer.write(b"GET /fourth HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await _responses(reader, "GET"))[0][:1] == (200,)
    assert await _closed_by_server(oldest[0])
    for kept_reader, kept_writer in (newer, fresh):  # the others still work
        kept_writer.write(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await _responses(kept_reader, "GET"))[0][2] == b"app"

    # now `newer`, `fresh` and the fourth are all idle: one of them makes room; keep each busy instead
    busy = [newer, fresh, (reader, writer)]
    for _, w in busy:
        w.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")  # 2 s: under way for the rest of the test
    await asyncio.sleep(0.1)
    refused_reader, refused_writer = await asyncio.open_connection("127.0.0.1", served.port)
    answer = await asyncio.wait_for(refused_reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in answer
    for r, w in [*busy, oldest, (refused_reader, refused_writer)]:
        assert not (w is not refused_writer and w is not oldest[1] and r.at_eof())  # no busy one was closed
        w.close()


async def test_past_max_connections_per_client_a_client_s_recent_idle_connections_are_left_to_it(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    """The client may be sending its next request on a connection idle for a moment: closing it would fail that
    request. Its new connection gets the 503 (to retry after `Retry-After`), and the idle one goes on working."""
    served = await serve(max_connections_per_client=2, keep_alive_s=60)
    idle = [await _open_idle(served.port, f"/{i}") for i in range(2)]
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 503 ") and b"too many open connections from 127.0.0.1" in answer
    for kept_reader, kept_writer in idle:
        kept_writer.write(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await _responses(kept_reader, "GET"))[0][2] == b"app"
        kept_writer.close()
    writer.close()


async def test_past_max_connections_per_client_a_connection_the_client_abandoned_makes_room(
    serve: Callable[..., Awaitable[Served]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle longer than clients keep theirs (httpx gives one up after 5 s, without closing it until its next
    request), a connection is taken for the client's new one; a connection idle for less is not."""
    monkeypatch.setattr(_guarded, "_ABANDONED_S", 0.3)
    served = await serve(max_connections_per_client=2, keep_alive_s=60)
    abandoned = await _open_idle(served.port, "/old")
    await asyncio.sleep(0.5)
    recent = await _open_idle(served.port, "/recent")
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)  # over the limit
    writer.write(b"GET /new HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await _responses(reader, "GET"))[0][2] == b"app"
    assert await _closed_by_server(abandoned[0])
    recent[1].write(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await _responses(recent[0], "GET"))[0][2] == b"app"
    # now `recent` and the new one were idle for less than 0.3 s: a third is refused
    third_reader, third_writer = await asyncio.open_connection("127.0.0.1", served.port)
    answer = await asyncio.wait_for(third_reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 503 ")
    for w in (abandoned[1], recent[1], writer, third_writer):
        w.close()


async def test_a_connection_its_client_resets_is_not_held_for_the_keep_alive_time(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    """A kept-alive connection reset by its client (a load balancer's health check, a killed client) stayed in memory
    for `keep_alive_s` (75 s by default) after it was gone: uvicorn cancels the keep-alive timer only on a clean
    close, and the timer held the connection's protocol, its last request and its transport."""
    import gc
    import socket
    import struct
    import weakref

    served = await serve(keep_alive_s=60.0)

    def protocols() -> list[_guarded.GuardedProtocol]:
        gc.collect()
        # (by type: `isinstance` asks a weak proxy of a dead object its `__class__`, which raises ReferenceError)
        return [o for o in gc.get_objects() if issubclass(type(o), _guarded.GuardedProtocol)]

    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await _responses(reader, "GET"))[0][0] == 200  # (kept alive: its keep-alive timer runs)
    # (this connection's protocol, found by its client's address: "the one not there before" also found, in the full
    # suite, a protocol of another test's server accepting a connection meanwhile)
    client = writer.get_extra_info("sockname")
    (mine,) = (
        weakref.ref(p)
        for p in protocols()
        if p.transport is not None and p.transport.get_extra_info("peername") == client
    )
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()  # (a reset, not a close)
    deadline = asyncio.get_running_loop().time() + 30  # (until the server has seen the reset: a loaded runner is slow)
    while mine() is not None and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        gc.collect()
    assert mine() is None  # (well within the keep-alive time of 60 s)
