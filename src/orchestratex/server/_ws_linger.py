"""uvicorn's WebSocket protocol with a lingering close, so a client that breaks the protocol gets its close code.

When a client's message is over `ws_max_size` (or is not UTF-8 text, or breaks the framing), uvicorn
sends a close frame (1009, 1007, 1002) and closes the socket at once. A client still sending (the
rest of a large message, in fragments or not) then has data arriving at a closed socket, which the
kernel answers with a TCP reset; the reset destroys the close frame the client had not read yet, so
the client sees "connection reset" instead of "1009 message too big". Here the server sends its
close frame, then only half-closes (FIN), reads and discards what the client still sends, and closes
when the client does, or after `LINGER_S` seconds.

A text message that is not UTF-8 is refused the same way (1007, with a reason), without the traceback
uvicorn logs at ERROR for each.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["LINGER_S", "LingeringWebSocketProtocol"]

LINGER_S = 2.0
"""Longest wait, after failing a connection, for the client to stop sending and close its side."""


class LingeringWebSocketProtocol(WebSocketsSansIOProtocol):
    lingering = False
    """The connection has failed: what the client still sends is discarded until the socket closes."""

    def data_received(self, data: bytes) -> None:
        if not self.lingering:
            super().data_received(data)

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not self.close_sent:
            try:
                b"".join(self.frames).decode()
            except UnicodeDecodeError as exc:  # (uvicorn logs a traceback at ERROR for each: a client could flood it)
                self.frames = []
                self.conn.fail(1007, f"a text message must be UTF-8: invalid byte at position {exc.start}")
                self.handle_parser_exception()
                return
        super().send_receive_event_to_app()

    def handle_parser_exception(self) -> None:
        close = self.conn.close_sent
        code, reason = (close.code, close.reason) if close is not None else (1006, "")
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.lingering = True
        self.stop_keepalive()
        transport: asyncio.Transport = self.transport
        if transport.can_write_eof():  # (not over TLS: the client then waits for the close below)
            transport.write_eof()
        if self.read_paused:
            self.read_paused = False
            transport.resume_reading()
        if self.close_timer is not None:
            self.close_timer.cancel()
        self.close_timer = self.loop.call_later(LINGER_S, transport.close)
