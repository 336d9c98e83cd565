"""The listening sockets of `orchestratex serve`, bound and listening before anything says "serving", handed to
uvicorn.

They were bound to learn the port (a free one for `--port 0`, or to say a port in use in one clear line) and closed,
and uvicorn bound the port again once the app had started (the store opened, runs resumed): in between, another
process could take it, and the server printed "serving http://127.0.0.1:P" for a port it then failed to listen on
(exit code 3), or that another program answered on.
"""

from __future__ import annotations

import socket

__all__ = ["listen_sockets"]

_ATTEMPTS = 5
"""Tries at finding one free port for every address of a host name (`--host localhost`: 127.0.0.1 and ::1)."""


_BACKLOG = 2048
"""Connections the system queues until the server accepts them (uvicorn's default; it sets its own as it starts)."""


def listen_sockets(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to `port` and listening on every address `host` names, as uvicorn (asyncio's `create_server`)
    would bind them; with `port` 0, one free port for all of them. Raises `OSError` as binding does."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    addresses = list(dict.fromkeys((info[0], info[4][:2]) for info in infos))
    for attempt in range(_ATTEMPTS):
        bound: list[socket.socket] = []
        chosen = port
        try:
            for family, (address, _) in addresses:
                bound.append(_bound(family, str(address), chosen))
                chosen = bound[0].getsockname()[1]
            return bound
        except OSError:
            for sock in bound:
                sock.close()
            if port != 0 or len(bound) == 0 or attempt == _ATTEMPTS - 1:
                raise  # (with `--port 0`, the port the first address got may be taken on another: try another one)
    raise AssertionError("unreachable")  # pragma: no cover


def _bound(family: int, address: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (as uvicorn: a port in TIME_WAIT is free)
        if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # (as asyncio: `::` is IPv6's addresses)
        sock.bind((address, port))
        # listening from now on, as "serving" says: a client that connected on reading it (a script waiting for that
        # line, `--port 0`'s port in it) was refused until uvicorn listened, once the app had started
        sock.listen(_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock
