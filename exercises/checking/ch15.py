"""Checks for chapters 15 and 16: a connection's tasks, and shutting down."""

import asyncio
import contextlib
import re

from . import Verdict, captured, exercise, tasks_left_behind


async def upper_once(reader, writer):
    """A handler with no task of its own: it can leave no ghost behind."""
    line = await reader.readline()
    writer.write(line.upper())
    await writer.drain()
    await reader.read()
    writer.close()
    await writer.wait_closed()


def counted(lines):
    """The last number on a printed line that speaks of tasks."""
    numbers = [
        int(number)
        for line in lines
        if "task" in line.lower()
        for number in re.findall(r"\d+", line)
    ]
    return numbers[-1] if numbers else None


async def visit(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello\n")
    reply = await reader.readline()
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.2)
    left = len(tasks_left_behind())
    server.close()
    try:
        async with asyncio.timeout(2):
            await server.wait_closed()
        closed = True
    except TimeoutError:
        closed = False
    return reply, left, closed


async def receive(reader, outbox):
    while line := await reader.readline():
        outbox.put_nowait(line.upper())


async def send(writer, outbox):
    while True:
        writer.write(await outbox.get())
        await writer.drain()


async def ghostly_serve(reader, writer):
    """The exercise's serve, with its bug: the sender outlives the receiver."""
    outbox = asyncio.Queue()
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(receive(reader, outbox))
            tasks.create_task(send(writer, outbox))
    finally:
        writer.close()
        await writer.wait_closed()


@exercise("15-2", "15-2-catch-the-ghost.py")
def check_ghost(answer, report, attempt):
    async def count_with(handler):
        try:
            async with asyncio.timeout(10):
                await answer.visit_and_count(handler)
        except TimeoutError:
            print("(visit_and_count did not return within 10 s)")

    for handler, which, wanted in (
        (upper_once, "a handler that leaves nothing behind", 0),
        (ghostly_serve, "the exercise's serve, with its ghost", 2),
    ):
        with captured() as lines:
            attempt.run(f"visit_and_count({which})", count_with, handler)
        report.expect(
            any("HELLO" in line for line in lines),
            f"with {which}, visit_and_count prints the reply",
            f"with {which}, visit_and_count should print the reply b'HELLO\\n';"
            f" it printed {lines}",
        )
        report.expect(
            counted(lines) == wanted,
            f"with {which}, it counts {wanted} tasks still running",
            f"with {which}, it printed {lines}: it should print how many tasks are"
            f" still running besides its own, {wanted} here",
        )
        if any("did not return" in line for line in lines):
            report.wrong(
                f"with {which}, visit_and_count did not return within 10 s: since"
                " Python 3.12 the server's wait_closed() waits for every connection"
                " to end, and a ghost never does"
            )
    reply, left, closed = attempt.run("a visit to your serve", visit, answer.serve)
    report.expect(
        reply == b"HELLO\n",
        "serve still sends back the line in capitals",
        f"serve answered hello with {reply!r}, not b'HELLO\\n'",
    )
    report.expect(
        left == 0,
        "serve leaves no task behind when the client leaves",
        f"after the client left, {left} task(s) of serve were still running: a ghost",
    )
    report.expect(
        closed,
        "the server can close once the client has left",
        "the server could not finish closing: a connection never ended",
    )


async def client_that_reads(port, sink):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sink.append(await reader.read())
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def client_that_never_reads(port, seconds):
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(seconds)
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


@exercise("16-1", "16-1-close-within-a-deadline.py")
def check_close_within(answer, report, attempt):
    async def close_after(data, grace, client):
        verdicts = asyncio.Queue()

        async def handler(reader, writer):
            writer.write(data)
            started = asyncio.get_running_loop().time()
            try:
                async with asyncio.timeout(5):
                    closed = await answer.close_within(writer, grace)
            except TimeoutError:
                closed = "hung"
            except Exception as error:  # handed to the check, which reports it
                writer.transport.abort()  # whatever state it left the connection in
                verdicts.put_nowait(error)
                return
            seconds = asyncio.get_running_loop().time() - started
            await asyncio.sleep(0.05)
            unsent = writer.transport.get_write_buffer_size()
            writer.transport.abort()  # whatever state it left the connection in
            verdicts.put_nowait((closed, seconds, unsent))

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(client(port))
                verdict = await verdicts.get()
        if isinstance(verdict, Exception):
            raise verdict
        return verdict

    sink = []
    closed, seconds, _ = attempt.run(
        "close_within with a client that reads",
        close_after,
        b"hello",
        1,
        lambda port: client_that_reads(port, sink),
    )
    report.expect(
        closed is True and sink == [b"hello"],
        "a connection that closes in time gives True, its data delivered",
        f"with a client that reads, close_within gave {closed!r} and the client got"
        f" {sink!r}; expected True and [b'hello']",
    )
    closed, seconds, unsent = attempt.run(
        "close_within with a client that never reads",
        close_after,
        b"x" * 32 * 1024 * 1024,
        0.2,
        lambda port: client_that_never_reads(port, 3),
    )
    report.expect(
        closed != "hung" and seconds < 1.5,
        "with a client that never reads, it gives up after about the grace period",
        "with a client that never reads and a grace of 0.2 s, close_within"
        + (
            " did not return within 5 s"
            if closed == "hung"
            else f" took {seconds:.1f} s"
        ),
    )
    report.expect(
        closed is False,
        "a connection that had to be cut short gives False",
        f"a connection that had to be cut short gave {closed!r}, not False",
    )
    report.expect(
        unsent == 0,
        "the connection is cut: the data that could not go out is thrown away",
        f"{unsent} bytes were still waiting to go out after close_within gave up:"
        " the connection was not cut",
    )


async def visitor(port, name):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"hello from {name}\n".encode())
    await writer.drain()
    heard = [await reader.readline()]
    return reader, writer, heard


@exercise("16-2", "16-2-shutdown-in-miniature.py")
def check_shutdown(answer, report, attempt):
    async def scene():
        stop = asyncio.Event()
        started = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(answer.run_echo_server(stop, started))
        await asyncio.wait([started, server], timeout=5, return_when="FIRST_COMPLETED")
        if server.done():
            server.result()  # its exception, if it failed
            raise Verdict("run_echo_server returned before it put a port in started")
        if not started.done():
            raise Verdict("no port arrived in started within 5 s")
        port = started.result()
        visits = [await visitor(port, name) for name in ("ada", "bob")]
        echoes = [heard[0] for _, _, heard in visits]
        stop.set()
        heard = []
        try:
            async with asyncio.timeout(5):
                for reader, writer, _ in visits:
                    heard.append([await reader.readline(), await reader.read()])
                    writer.close()
                    await writer.wait_closed()
                await asyncio.wait([server])
        except TimeoutError:
            raise Verdict(
                f"5 s after stop was set, the clients had heard {heard} and the"
                f" server had {'' if server.done() else 'not '}returned"
            ) from None
        try:
            await asyncio.open_connection("127.0.0.1", port)
            refused = False
        except ConnectionError:
            refused = True
        outcome = "cancelled" if server.cancelled() else server.exception()
        return echoes, heard, outcome, refused, len(tasks_left_behind())

    echoes, heard, outcome, refused, left = attempt.run("the shutdown scene", scene)
    report.expect(
        echoes == [b"hello from ada\n", b"hello from bob\n"],
        "each client gets its line echoed",
        f"the two clients got {echoes} back",
    )
    report.expect(
        heard == [[b"bye\n", b""], [b"bye\n", b""]],
        "on stop, each client hears bye, then the connection closes",
        f"after stop was set, the two clients heard {heard}; each should hear"
        " b'bye\\n', then the end of the stream, b''",
    )
    report.expect(
        outcome is None,
        "run_echo_server returns normally once every connection is closed",
        f"run_echo_server ended with {outcome!r} instead of returning",
    )
    report.expect(
        refused,
        "after the shutdown, new clients are refused",
        "after the shutdown, a new client could still connect",
    )
    report.expect(
        left == 0,
        "no task is left behind",
        f"{left} task(s) were still running after run_echo_server returned",
    )
