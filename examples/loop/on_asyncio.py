"""The program of step 2, unchanged, on asyncio's real loop; then what that loop adds.

Run it with:  python examples/loop/on_asyncio.py

`sleep`, `serve`, `client` and `main` are copied from examples/loop/sockets.py
without a change: asyncio's loop has the same `create_future`, `call_later`,
`create_task` and `sock_*` methods. Then three things the home-made loop cannot
do: take a callback from another thread (`call_soon_threadsafe`), run blocking
work in a thread pool (`run_in_executor`), and, in debug mode, report a callback
that held the loop up.
"""

import asyncio
import socket
import threading
import time


async def sleep(loop, delay):
    """asyncio.sleep in three lines: a future that a timer resolves."""
    future = loop.create_future()
    loop.call_later(delay, future.set_result, None)
    await future


async def serve(loop, listener):
    connection, _ = await loop.sock_accept(listener)
    with connection:
        while data := await loop.sock_recv(connection, 1024):  # b"" at the end
            await loop.sock_sendall(connection, data)


async def client(loop, port, words):
    with socket.socket() as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        for word in words:
            await loop.sock_sendall(sock, word.encode())
            reply = await loop.sock_recv(sock, 1024)
            print(f"    client got {reply.decode()!r} back")
            await sleep(loop, 0.03)


async def main(loop):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        port = listener.getsockname()[1]
        server = loop.create_task(serve(loop, listener), name="server")
        await client(loop, port, ["hi", "bye"])
        await server
    return "all echoed"


def report_from_a_thread(loop, future):
    """Runs in another thread: only call_soon_threadsafe may touch the loop."""
    loop.call_soon_threadsafe(future.set_result, "hello from a thread")


def blocking_sum(numbers):
    time.sleep(0.05)  # stands for work that would block the loop
    return sum(numbers)


async def what_the_real_loop_adds(loop):
    future = loop.create_future()
    threading.Thread(target=report_from_a_thread, args=(loop, future)).start()
    print(await future)
    total = await loop.run_in_executor(None, blocking_sum, range(10))
    print("sum from the thread pool:", total)
    time.sleep(0.15)  # noqa: ASYNC251 (on purpose: debug mode names the blocker)


if __name__ == "__main__":
    with asyncio.Runner(debug=True) as runner:
        loop = runner.get_loop()
        print("loop:", type(loop).__name__)
        print("result:", runner.run(main(loop)))
        runner.run(what_the_real_loop_adds(loop))
