"""A recording stand-in for an asyncio transport, for tests that drive a protocol in process.

It implements what uvicorn's HTTP protocol and the serving layer's writers call on a transport
(asyncio.Transport's `write`, `close`, `abort`, `is_closing`, `pause_reading`, `resume_reading`
and `get_extra_info`) and records what they were asked to do; it never touches a socket, so
flow control (the write buffer's high-water mark) and the event loop's I/O are not modelled.
"""

from __future__ import annotations

PEER = ("127.0.0.1", 40000)
SOCKET = ("127.0.0.1", 8443)


class RecordingTransport:
    """The bytes written (as one stream and write by write) and whether it was closed."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": PEER, "sockname": SOCKET}.get(name, default)
