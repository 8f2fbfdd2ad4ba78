"""Checks for chapters 10 to 19, the chat (the exercises that ask for a function)."""

import asyncio
import json
import struct

from . import exercise


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
