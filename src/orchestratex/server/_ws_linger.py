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

A handshake that is not a valid WebSocket opening (no `Sec-WebSocket-Key`, a key that is not 16 bytes of
base64, a `Sec-WebSocket-Version` other than 13, no `Connection: Upgrade`) is refused with the API's JSON error
body, as every other refusal of the server, not websockets' plain text: 400 naming the header to fix, or 426
with `Sec-WebSocket-Version: 13` for another version (RFC 6455, 4.4).
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHeader, InvalidHeaderValue
from websockets.http11 import Request, Response

from ._protocol import TRANSPORT_KEY
from ._refusals import connection_refused

__all__ = ["LINGER_S", "LingeringWebSocketProtocol", "handshake_refusal"]

LINGER_S = 2.0
"""Longest wait, after failing a connection, for the client to stop sending and close its side."""


class LingeringWebSocketProtocol(WebSocketsSansIOProtocol):
    lingering = False
    """The connection has failed: what the client still sends is discarded until the socket closes."""

    def data_received(self, data: bytes) -> None:
        if not self.lingering:
            super().data_received(data)

    def handle_connect(self, event: Request) -> None:
        response = self.conn.accept(event)  # (checks the handshake; the same request always gets the same answer)
        if response.status_code == 101:
            super().handle_connect(event)
            self.scope[TRANSPORT_KEY] = self.transport  # type: ignore[literal-required]  # (for `transport_of`)
            return
        self.request = event
        self.handshake_initiated = self.handshake_complete = self.close_sent = True
        refusal = handshake_refusal(response, self.conn.handshake_exc)
        self._count(refusal.status_code)
        self.conn.send_response(refusal)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()

    def _count(self, status: int) -> None:
        """A handshake refused as not valid counts in `orchestratex_limits_hit_total{limit="invalid_request"}`, as the
        HTTP requests the protocol cannot read: answered before any app, and logged by nothing, a flood of them left
        no trace at all."""
        if status < 500:  # (websockets' own failure is not the client's request)
            connection_refused(self.loop, "invalid_request")

    def handle_handshake_exception(self) -> None:
        """websockets could not read the opening request (one sent with a body, or with another method than `GET`):
        answered with the API's JSON error naming why, as every other refused handshake, not uvicorn's plain text
        "Failed to open a WebSocket connection: invalid request."."""
        self.handshake_complete = self.close_sent = True
        answer = b"".join(self.conn.data_to_send())  # (websockets' own answer to a request over its limits)
        exc = self.conn.handshake_exc
        if not answer and exc is not None:
            why = exc.__cause__ or exc
            plain = self.conn.reject(400, f"Failed to open a WebSocket connection: {why}.\n")
            refusal = handshake_refusal(plain, exc)
            self._count(refusal.status_code)
            answer = refusal.serialize()
        elif answer:
            self._count(400)  # (websockets' own answer: a request over its limits)
        self.transport.write(answer)
        self.transport.close()

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


def handshake_refusal(response: Response, why: Exception | None) -> Response:
    """websockets' plain-text refusal of an invalid handshake (`response`, for `why`) as the API's JSON error."""
    status = response.status_code
    headers = Headers(  # (its `Upgrade` of a 426, its `Allow` of a 405, …: all but the body's)
        (k, v) for k, v in response.headers.raw_items() if k.lower() not in ("content-type", "content-length")
    )
    headers.pop("Connection", None)
    if isinstance(why, InvalidHeaderValue) and why.name == "Sec-WebSocket-Version" and why.value:
        status, detail = 426, f"Sec-WebSocket-Version {why.value[:40]!r} is not supported: this server speaks 13"
        headers["Sec-WebSocket-Version"] = "13"
    elif isinstance(why, InvalidHeader) and why.name == "Sec-WebSocket-Protocol":
        # (not websockets' words, which quote the header, and so the key offered as `bearer.<key>`)
        detail = (
            "the Sec-WebSocket-Protocol header is not a list of subprotocol names (tokens separated by commas): offer"
            " `orchestratex, bearer.<key>`, the key as `orchestratex keys create` printed it (no quotes, no spaces)"
        )
    elif isinstance(why, InvalidHeader) and why.name.startswith("Sec-WebSocket-"):
        detail = (
            f"not a valid WebSocket handshake: {str(why)[:120]}; send Sec-WebSocket-Key (16 random bytes in base64)"
            " and Sec-WebSocket-Version: 13, as WebSocket clients do"
        )
    elif status >= 500:  # (websockets failed, not the request: it logged why)
        detail = "the WebSocket handshake failed on the server: see its log"
    else:
        text = response.body.decode(errors="replace").strip().removeprefix("Failed to open a WebSocket connection: ")
        detail = f"not a valid WebSocket handshake: {text.rstrip('.')[:160]}"
    body = json.dumps({"detail": detail, "status_code": status}).encode()
    headers["Connection"] = "close"
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(len(body))
    return Response(status, HTTPStatus(status).phrase, headers, body)
