"""`LoopClients`: one SDK client per event loop, closed as its loop shuts down or on `aclose()`."""

from __future__ import annotations

import asyncio
import itertools
import threading

import pytest

from orchestratex.providers._loops import LoopClients


class Client:
    numbers = itertools.count(1)

    def __init__(self) -> None:
        self.number = next(self.numbers)
        self.closed = False

    async def close(self) -> None:
        assert not self.closed, "closed twice"
        await asyncio.sleep(0)  # a real close awaits its connections
        self.closed = True


async def close(client: Client) -> None:
    await client.close()


def per_loop() -> tuple[LoopClients[Client], list[Client]]:
    built: list[Client] = []

    def build() -> Client:
        built.append(Client())
        return built[-1]

    return LoopClients(build(), build, close), built


def test_each_loop_gets_its_own_client_closed_as_the_loop_ends() -> None:
    clients, built = per_loop()

    async def use() -> Client:
        client = clients.current()
        assert clients.current() is client and not client.closed  # one per loop
        return client

    first, second = asyncio.run(use()), asyncio.run(use())
    assert first is built[0] and second is built[1] and len(built) == 2  # the first one built serves the first loop
    assert first.closed and second.closed


def test_aclose_closes_the_running_loops_client_and_the_next_call_builds_another() -> None:
    clients, _ = per_loop()

    async def use() -> None:
        before = clients.current()
        await clients.aclose()
        assert before.closed
        after = clients.current()
        assert after is not before and not after.closed
        await clients.aclose()
        await clients.aclose()  # nothing left to close: no error
        assert after.closed

    asyncio.run(use())


def test_a_loop_closed_without_shutting_down_leaves_its_client_dropped_not_reused() -> None:
    clients, built = per_loop()

    async def use() -> Client:
        return clients.current()

    loop = asyncio.new_event_loop()
    try:
        stale = loop.run_until_complete(use())
    finally:
        loop.close()  # no `shutdown_asyncgens`: the client's close cannot run
    fresh = asyncio.run(use())
    assert fresh is not stale and fresh.closed and not stale.closed and built == [stale, fresh]
    assert len(clients._bound) == 0


def test_loops_in_two_threads_use_two_clients() -> None:
    clients, _ = per_loop()
    seen: list[Client] = []
    both_in = threading.Barrier(2)

    async def use() -> None:
        seen.append(clients.current())
        await asyncio.to_thread(both_in.wait, 5)  # both loops hold their client at once

    threads = [threading.Thread(target=asyncio.run, args=(use(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len({id(c) for c in seen}) == 2 and all(c.closed for c in seen)


def test_a_handed_over_client_serves_every_loop_and_is_never_closed() -> None:
    given = Client()
    clients = LoopClients(given)
    assert not clients.owned

    async def use() -> Client:
        await clients.aclose()
        return clients.current()

    assert asyncio.run(use()) is asyncio.run(use()) is given and not given.closed


def test_build_and_close_go_together() -> None:
    with pytest.raises(TypeError, match="both build and close"):
        LoopClients(Client(), build=Client)
