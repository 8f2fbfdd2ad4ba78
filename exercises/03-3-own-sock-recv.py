"""Chapter 3, exercise 3: your own sock_recv, on asyncio's loop.

Write `recv_when_readable(sock, size)`: wait with a future until `sock` is
readable (asyncio's loop has add_reader and remove_reader), then return
`sock.recv(size)`. Check it with: python exercises/check.py 03-3
"""

import asyncio
import socket


async def recv_when_readable(sock, size):
    raise NotImplementedError("your code here")


async def main():
    here, there = socket.socketpair()
    with here, there:
        here.setblocking(False)
        asyncio.get_running_loop().call_later(0.05, there.send, b"ping")
        print(await recv_when_readable(here, 1024))  # should print b'ping'


if __name__ == "__main__":
    asyncio.run(main())
