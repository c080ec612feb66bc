"""Raw sockets for web server tests: requests written byte by byte, slow and idle clients."""

from __future__ import annotations

import asyncio


async def raw_request(port: int, data: bytes, read_timeout: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection and read the answer until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        return await asyncio.wait_for(reader.read(65536), read_timeout)
    finally:
        writer.close()


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True when the server closes (EOF or reset) this connection within ``seconds``."""
    try:
        data = await asyncio.wait_for(reader.read(1024), seconds)
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return data == b"" or data.startswith(b"HTTP/1.1 4")


class Clients:
    """Raw client connections that a test opens and closes."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def idle(self, port: int) -> asyncio.StreamReader:
        """A connection that sends nothing at all."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self.writers.append(writer)
        return reader

    async def slow(self, port: int) -> asyncio.StreamReader:
        """A client that dribbles a request head one byte every 200 ms and never finishes it."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self.writers.append(writer)
        self.tasks.append(asyncio.get_running_loop().create_task(self._dribble(writer)))
        return reader

    async def _dribble(self, writer: asyncio.StreamWriter) -> None:
        for byte in b"GET /webhooks/seventeentrack HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 500:
            if self.stop.is_set() or writer.is_closing():
                return
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                return
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in self.writers), return_exceptions=True)
