"""Checks for chapters 10 to 19, the chat (the exercises that ask for a function)."""

import asyncio
import contextlib
import json
import struct

from . import StopChecking, Verdict, exercise


def frame(payload):
    data = json.dumps(payload).encode()
    return struct.pack("<I", len(data)) + data


@exercise("10-1", "10-1-stream-of-frames.py")
def check_split_frames(answer, report, attempt):
    ada = {"action": "connect", "username": "ada", "ok": True}
    bob = {"action": "chat", "message": "hé 😀"}
    cases = [
        ("the exercise's bytes", answer.received, [ada], answer.received[51:]),
        ("no bytes at all", b"", [], b""),
        ("two whole frames", frame(ada) + frame(bob), [ada, bob], b""),
        ("half a header", frame(ada) + b"\x05\x00", [ada], b"\x05\x00"),
        ("a header without its payload", frame(bob)[:4], [], frame(bob)[:4]),
    ]
    for what, buffer, messages, rest in cases:
        got = attempt(f"split_frames({what})", answer.split_frames, buffer)
        report.expect(
            got == (messages, rest),
            f"{what}: the right messages and the right bytes left over",
            f"{what}: it returned {got!r}; expected {messages!r} and {rest!r}",
        )


class SmallReads(asyncio.StreamReader):
    """A StreamReader that notes the largest piece it was asked for."""

    largest = 0

    async def read(self, n=-1):
        SmallReads.largest = max(SmallReads.largest, n if n >= 0 else 1 << 62)
        return await super().read(n)

    async def readexactly(self, n):
        SmallReads.largest = max(SmallReads.largest, n)
        return await super().readexactly(n)

    async def readuntil(self, separator=b"\n"):
        SmallReads.largest = 1 << 62
        return await super().readuntil(separator)


async def framed_reply(reader):
    """The next frame's payload, decoded; None if the stream ends first."""
    try:
        (size,) = struct.unpack("<I", await reader.readexactly(4))
        return json.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        return None


async def talk_to(handler, conversation):
    """Run `conversation(reader, writer)` as a client of a server running `handler`."""
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
                result = await conversation(reader, writer)
        except TimeoutError:
            raise Verdict("no answer came within 5 s") from None
        except (ConnectionError, asyncio.IncompleteReadError):
            if failures:
                raise failures[0] from None
            raise
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        if failures:  # the handler crashed, though the client got by
            raise failures[0]
        return result


async def slow_answers(reader, writer):
    """Answer each frame with {"got": message}, its header and payload 50 ms apart."""
    while (message := await framed_reply(reader)) is not None:
        reply = frame({"got": message})
        writer.write(reply[:4])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(reply[4:])
        await writer.drain()
    writer.close()


def check_json_echo(answer, report, attempt):
    async def echo_then_error(reader, writer):
        writer.write(frame({"n": 1}))
        first = await framed_reply(reader)
        writer.write(struct.pack("<I", 3) + b"{{{")
        second = await framed_reply(reader)
        writer.write(frame({"a": "hé"}) + frame([1, 2]))  # two frames, one write
        third, fourth = await framed_reply(reader), await framed_reply(reader)
        writer.write_eof()
        return first, second, (third, fourth), await reader.read()

    first, second, both, rest = attempt.run(
        "json_echo, as a client sees it", talk_to, answer.json_echo, echo_then_error
    )
    report.expect(
        first == {"n": 1},
        "json_echo answers {'n': 1} with the same message",
        f"json_echo answered the frame {{'n': 1}} with {first!r}",
    )
    report.expect(
        isinstance(second, dict) and second.get("action") == "error",
        "json_echo answers a payload that is not JSON with an error message",
        f"json_echo answered the payload b'{{{{{{' with {second!r}; it should be a"
        " message whose action is 'error', and the connection should stay open",
    )
    report.expect(
        both == ({"a": "hé"}, [1, 2]),
        "two frames sent in one write get two answers",
        f"two frames sent in one write were answered with {both!r}",
    )
    report.expect(
        rest == b"",
        "when the client has finished sending, json_echo closes the connection",
        f"after the client's last frame, json_echo sent {rest!r} instead of closing",
    )


def check_ask(answer, report, attempt):
    async def two_questions(reader, writer):
        answers = []
        for message in ({"n": 1}, {"action": "chat", "message": "hé 😀"}):
            try:
                answers.append(await answer.ask(reader, writer, message))
            except (Verdict, NotImplementedError):
                raise
            except Exception as error:  # reported as the mistake it shows
                raise Verdict(
                    f"a reply whose payload came 50 ms after its header made ask"
                    f" raise {type(error).__name__}: wait for the whole frame the"
                    " header announces"
                ) from None
        return answers

    answers = attempt.run(
        "ask(reader, writer, message)", talk_to, slow_answers, two_questions
    )
    wanted = [{"got": {"n": 1}}, {"got": {"action": "chat", "message": "hé 😀"}}]
    report.expect(
        answers == wanted,
        "ask sends a whole frame and returns the dict that comes back, each time",
        f"asking {{'n': 1}} then a chat message returned {answers!r}, not {wanted!r}",
    )


@exercise("12-2", "12-2-ask-and-wait.py")
def check_ask_and_wait(answer, report, attempt):
    with contextlib.suppress(StopChecking):  # ask can be checked on its own
        check_json_echo(answer, report, attempt)
    check_ask(answer, report, attempt)


@exercise("12-4", "12-4-skip-the-body.py")
def check_skip(answer, report, attempt):
    header = answer.HEADER

    async def skip_then_next(size, body, fed_eof=True):
        reader = asyncio.StreamReader(limit=2**20)
        reader.feed_data(body)
        reader.feed_data(header.pack(5) + b"hello")
        if fed_eof:
            reader.feed_eof()
        skipped = await answer.skip(reader, size)
        return skipped, await answer.next_payload(reader)

    got = attempt.run("skip(reader, 200_000)", skip_then_next, 200_000, b"x" * 200_000)
    report.expect(
        got == (True, b"hello"),
        "after skipping 200,000 bytes, it returns True and the next frame reads",
        f"after skipping 200,000 bytes it gave {got[0]!r}, and the next frame read"
        f" {got[1]!r} instead of b'hello'",
    )
    got = attempt.run("skip(reader, 0)", skip_then_next, 0, b"")
    report.expect(
        got == (True, b"hello"),
        "skipping 0 bytes skips nothing",
        f"skipping 0 bytes gave {got[0]!r}, then the next frame read {got[1]!r}",
    )

    async def stream_ends_first():
        reader = asyncio.StreamReader()
        reader.feed_data(b"x" * 1000)
        reader.feed_eof()
        return await asyncio.wait_for(answer.skip(reader, 5000), 5)

    got = attempt.run("skip past the end of the stream", stream_ends_first)
    report.expect(
        got is False,
        "when the stream ends first, it returns False",
        f"when the stream ended after 1000 of 5000 bytes, it returned {got!r}, not"
        " False",
    )

    async def in_small_pieces():
        SmallReads.largest = 0
        reader = SmallReads(limit=2**20)
        reader.feed_data(b"x" * 300_000)
        reader.feed_eof()
        await answer.skip(reader, 300_000)
        return SmallReads.largest

    largest = attempt.run("skip(reader, 300_000)", in_small_pieces)
    report.expect(
        largest <= 64 * 1024,
        "it never asks for more than 64 KiB at a time",
        f"it asked the reader for {largest} bytes at once; hold at most 64 KiB",
    )


@exercise("14-2", "14-2-forget-the-oldest.py")
def check_forget_oldest(answer, report, attempt):
    def post_all(maxsize, count):
        outbox = asyncio.Queue(maxsize=maxsize)
        for number in range(1, count + 1):
            answer.post_or_forget_oldest(outbox, f"message {number}")
        return [outbox.get_nowait() for _ in range(outbox.qsize())]

    for maxsize, count, wanted in (
        (3, 5, ["message 3", "message 4", "message 5"]),
        (3, 2, ["message 1", "message 2"]),
        (1, 4, ["message 4"]),
        (0, 4, ["message 1", "message 2", "message 3", "message 4"]),
    ):
        room = f"a queue of {maxsize} places" if maxsize else "an unbounded queue"
        got = attempt(f"posting {count} messages", post_all, maxsize, count)
        report.expect(
            got == wanted,
            f"{count} messages on {room} leave {wanted}",
            f"{count} messages on {room} left {got}, not {wanted}",
        )


@exercise("19-2", "19-2-parse-with-match.py")
def check_parse(answer, report, attempt):
    cases = {
        "hello there": ("say", "hello there"),
        "  /join   kitchen ": ("join", "kitchen"),
        "/leave": ("leave", None),
        "/leave kitchen": ("leave", "kitchen"),
        "/quit": ("quit",),
        "/join": ("help",),
        "/frobnicate now": ("help",),
        "   ": None,
        "": None,
        "/quit now": ("help",),
        "  spaced  out ": ("say", "  spaced  out "),
        "/help": ("help",),
        "/join the kitchen": ("join", "the kitchen"),
    }
    wrong = []
    for line, wanted in cases.items():
        got = attempt(f"parse({line!r})", answer.parse, line)
        if got != wanted:
            wrong.append(f"parse({line!r}) gave {got!r}, not {wanted!r}")
    report.expect(
        not wrong,
        f"all {len(cases)} lines are parsed right",
        f"{len(wrong)} of {len(cases)} lines: " + "; ".join(wrong),
    )
