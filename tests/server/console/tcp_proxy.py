"""A real TCP proxy on 127.0.0.1 between the browser and the server, for the console's tests of networks that misbehave:
subclasses say what each connection passes on (`forward`)."""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    """Listens on 127.0.0.1 and forwards each connection to `port`, both ways, through `forward`.

    `close()` closes every socket it opened, those of a connection accepted while it runs included (the accepting
    thread closes them itself once it sees the proxy closed), so that no test leaves a socket to the garbage
    collector (an unclosed socket's `ResourceWarning` fails the test that happens to collect it)."""

    pass_closes = True
    """Whether a connection closed at one end (or broken) is shut at the other, as a proxy does; a silent network
    passes nothing, a close neither."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.listener = socket.socket()
        self.opened = 0
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def start(self) -> None:
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def forward(self, data: bytes, number: int, *, request: bool) -> bytes:
        """What connection `number` (0 for the first) passes on of `data`, read from the browser's end (`request`)
        or the server's: all of it here."""
        return data

    def close(self) -> None:
        with self._lock:
            self._closed = True
            opened, self._sockets = self._sockets, []
        self.listener.close()
        for end in opened:
            end.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # (closed: the test is over)
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.port))
            except OSError:  # (the server has stopped: the test is over)
                client.close()
                continue
            with self._lock:
                if self._closed:  # (accepted while `close` ran: it did not see these two)
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
                number = self.opened
                self.opened += 1
            for source, target, request in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(source, target, number, request), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, number: int, request: bool) -> None:
        try:
            while data := source.recv(65536):
                if passed := self.forward(data, number, request=request):
                    target.sendall(passed)
        except OSError:
            pass
        finally:
            if self.pass_closes:
                for end in (source, target):
                    try:
                        end.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
