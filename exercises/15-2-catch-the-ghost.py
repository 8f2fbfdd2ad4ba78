"""Chapter 15, exercise 2: catch the ghost.

Write `visit_and_count(handler)`: start a server with `handler`, connect, send
hello, print the reply, disconnect, give the server a moment to notice, and print
how many tasks are still running besides its own. Then fix `serve` so that the
count is 0. Check it with: python exercises/check.py 15-2
"""

import asyncio


async def receive(reader, outbox):
    while line := await reader.readline():
        outbox.put_nowait(line.upper())


async def send(writer, outbox):
    while True:
        writer.write(await outbox.get())
        await writer.drain()


async def serve(reader, writer):
    outbox = asyncio.Queue()
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(receive(reader, outbox))
            tasks.create_task(send(writer, outbox))
    finally:
        writer.close()
        await writer.wait_closed()


async def visit_and_count(handler):
    raise NotImplementedError("your code here")


if __name__ == "__main__":
    asyncio.run(visit_and_count(serve))
