"""Checks for chapters 11 and 31: a line handler, and a room for WebSockets."""

import asyncio
import contextlib
import json
import time

from . import Verdict, exercise


async def shouted(handler, conversation):
    """Run `conversation(reader, writer)` against a server that runs `handler`."""
    failures = []

    async def watched(reader, writer):
        try:
            await handler(reader, writer)
        except Exception as error:  # reported instead of the client's view of it
            failures.append(error)
            writer.transport.abort()

    server = await asyncio.start_server(watched, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            async with asyncio.timeout(5):
                return await conversation(reader, writer)
        except TimeoutError:
            raise Verdict("the server did not answer within 5 s") from None
        except ConnectionError:
            if failures:
                raise failures[0] from None
            raise
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def two_lines_then_eof(reader, writer):
    writer.write(b"hello\nis anybody there?\n")
    writer.write_eof()
    return await reader.read()


async def one_line_at_a_time(reader, writer):
    writer.write(b"first\n")
    try:
        async with asyncio.timeout(2):
            first = await reader.readline()
    except TimeoutError:
        return None
    writer.write(b"second\n")
    writer.write_eof()
    return first, await reader.read()


async def without_a_last_newline(reader, writer):
    writer.write(b"one\ntail")
    writer.write_eof()
    return await reader.read()


@exercise("11-2", "11-2-shouting-echo.py")
def check_shout(answer, report, attempt):
    got = attempt.run(
        "two lines in one write", shouted, answer.shout, two_lines_then_eof
    )
    report.expect(
        got == b"HELLO\nIS ANYBODY THERE?\n",
        "two lines in one write come back in capitals, then the server closes",
        f"two lines sent in one write, then the end, came back as {got!r}",
    )
    got = attempt.run("a line, then a wait", shouted, answer.shout, one_line_at_a_time)
    report.expect(
        got is not None,
        "each line is answered as soon as it arrives",
        "the first line got no answer while the client waited for it: answer each"
        " line as it comes, not at the end",
    )
    report.expect(
        got is None or got == (b"FIRST\n", b"SECOND\n"),
        "a conversation line by line works",
        f"line by line, the answers were {got!r}",
    )
    got = attempt.run(
        "a last line without newline", shouted, answer.shout, without_a_last_newline
    )
    report.expect(
        got == b"ONE\nTAIL",
        "a last line without a newline comes back too",
        f"b'one\\ntail' then the end came back as {got!r}",
    )


class Member:
    """A stand-in WebSocket that notes what it got, and when."""

    def __init__(self, name, delay=0.0, closed=False, broken=False):
        self.name, self.delay, self.closed, self.broken = name, delay, closed, broken
        self.got = []

    async def send(self, text):
        from websockets.exceptions import ConnectionClosed

        if self.broken:
            raise RuntimeError("a bug in a member")
        await asyncio.sleep(self.delay)
        if self.closed:
            raise ConnectionClosed(None, None)
        self.got.append((text, time.monotonic()))


@exercise("31-2", "31-2-gather-room.py")
def check_gather_room(answer, report, attempt):
    async def broadcast_to(members, message):
        room = answer.GatherRoom()
        for member in members:
            room.join(member)
        started = time.monotonic()
        await room.broadcast(message)
        return room, started, time.monotonic() - started

    fast, slow, slower = Member("fast"), Member("slow", 0.3), Member("slower", 0.3)
    gone = Member("gone", 0.1, closed=True)
    message = {"sender": "ada", "message": "hello"}
    room, started, seconds = attempt.run(
        "a broadcast", broadcast_to, [fast, slow, slower, gone], message
    )
    texts = [text for member in (fast, slow, slower) for text, _ in member.got]
    report.expect(
        len(texts) == 3 and all(json.loads(text) == message for text in texts),
        "every open member gets the message, as JSON",
        f"the three open members got {texts}; each should get the message as JSON",
    )
    report.expect(
        seconds < 0.5,
        "the members are sent to at the same time",
        f"two members that take 0.3 s each made the broadcast take {seconds:.1f} s:"
        " it sends to one after the other",
    )
    report.expect(
        fast.got and fast.got[0][1] - started < 0.15,
        "a fast member gets the message at once",
        "the fast member waited for the slow ones",
    )
    left = sorted(member.name for member in room.members)
    report.expect(
        left == ["fast", "slow", "slower"],
        "the member whose connection is closed leaves the room; the others stay",
        f"after the broadcast, the room holds {left}",
    )

    async def leave_and_rejoin():
        room = answer.GatherRoom()
        member = Member("ada")
        room.join(member)
        room.leave(member)
        room.leave(member)  # twice: a member may be dropped and also leave
        await room.broadcast(message)
        return member.got, len(room.members)

    got, size = attempt.run("join, leave, leave", leave_and_rejoin)
    report.expect(
        got == [] and size == 0,
        "a member that left gets nothing, and leaving twice is harmless",
        "after joining and leaving, a member still got a message or stayed listed",
    )

    async def with_a_bug():
        try:
            await broadcast_to([Member("ok"), Member("buggy", broken=True)], message)
        except Exception as error:  # what the broadcast lets out
            return error
        return None

    error = attempt.run("a member with a bug", with_a_bug)
    report.expect(
        isinstance(error, RuntimeError),
        "an error that is not a closed connection is not hidden",
        "a member's send raised RuntimeError (a bug, not a departure), and the"
        " broadcast hid it",
    )
