"""Testing the echo server with the standard library alone.

    python examples/testing/test_echo_unittest.py
    python -m pytest examples/testing/test_echo_unittest.py   # pytest runs it too

unittest.IsolatedAsyncioTestCase runs each test method, and the async set-up and
clean-ups around it, on a fresh event loop of its own.
"""

import asyncio
import unittest

from echo_server import EchoServer

TIMEOUT = 5  # seconds: a test that waits longer than this has hung


class EchoServerTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        # enterAsyncContext (3.11) enters the server now and leaves it at clean-up.
        self.server = await self.enterAsyncContext(EchoServer())
        self.reader, self.writer = await asyncio.open_connection(*self.server.address)
        self.addAsyncCleanup(self.hang_up)  # clean-ups run last-in, first-out

    async def hang_up(self):
        self.writer.close()
        await self.writer.wait_closed()

    async def ask(self, line):
        self.writer.write(line)
        await self.writer.drain()
        return await self.reader.readline()

    async def test_echoes_a_line(self):
        async with asyncio.timeout(TIMEOUT):
            self.assertEqual(await self.ask(b"hello\n"), b"hello\n")

    async def test_echoes_an_empty_line(self):
        async with asyncio.timeout(TIMEOUT):
            self.assertEqual(await self.ask(b"\n"), b"\n")


if __name__ == "__main__":
    unittest.main()
