"""Chapter 16, exercise 2: shutdown in miniature.

Write `run_echo_server(stop, started)`: an echo server on 127.0.0.1, on a free
port, that sends back every line it receives, and puts its port in the future
`started` once it listens. When the event `stop` is set, it stops accepting,
sends `bye\\n` to every connected client, closes every connection, and returns
once all are closed. Do not cancel a connection's own task.
Check it with: python exercises/check.py 16-2
"""

import asyncio


async def run_echo_server(stop, started):
    raise NotImplementedError("your code here")


async def visitor(name, port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"hello from {name}\n".encode())
    await writer.drain()
    heard = [await reader.readline()]  # the echo
    heard.append(await reader.readline())  # waits until the server says more
    heard.append(await reader.read())  # b'': the server closed the connection
    writer.close()
    await writer.wait_closed()
    print(name, "heard", heard)


async def echo_and_stop():
    stop = asyncio.Event()
    started = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(run_echo_server(stop, started))
    port = await started
    async with asyncio.TaskGroup() as visitors:
        visitors.create_task(visitor("ada", port))
        visitors.create_task(visitor("bob", port))
        await asyncio.sleep(0.1)  # both are connected and echoed
        stop.set()  # what a signal handler would do
    await server
    print("server stopped")


if __name__ == "__main__":
    asyncio.run(echo_and_stop())
