"""The five web chat servers under stress: a burst of frames in one write, a
client that stops reading, SIGTERM while it is stuck, and a flooder; and two
smaller promises (UTF-8 out, POST refused).

Each test starts one server as a real process and attacks it from 127.0.0.1
with real sockets; every wait is bounded.
"""

import asyncio
import http.client
import json
import statistics
import time

import pytest
from webchat import (
    GOING_AWAY,
    SERVERS,
    chat_server,
    join,
    masked_frame,
    memory_kib,
    raw_client,
    read_until_closed,
    receive,
    receive_many,
    run,
    say,
    send_queue_bytes,
    server_side_state,
    stuck_client,
)
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.timeout(90)

# No rate limit to speak of, for the tests that are not about it.
UNLIMITED = ("--max-rate", "100000", "--burst", "100000")
SEND_TIMEOUT = 1.0  # seconds; the servers' default is 10, too long for a test


@pytest.fixture(params=SERVERS.values(), ids=SERVERS.keys())
def path(request):
    return request.param


def test_a_burst_in_one_write_reaches_every_reader(path):
    """1,100 frames in one write: each reader gets all of them, none is dropped."""
    count = 1100

    async def scenario(server):
        readers = [await join(server) for _ in range(3)]
        reader, writer = await raw_client(server)
        frames = b"".join(masked_frame(say("burst", str(n))) for n in range(count))
        writer.write(frames)  # about 43 KB: one write, many frames in each read
        # The burster must read its own echoes, or it would be a stuck client.
        draining = asyncio.create_task(reader.read(-1))
        expected = [("burst", str(n)) for n in range(count)]
        for ws in readers:
            assert await receive_many(ws, count) == expected
        writer.transport.abort()
        draining.cancel()
        await asyncio.gather(*(ws.close() for ws in readers))

    with chat_server(path, *UNLIMITED) as server:
        run(scenario(server))


async def talk_and_time(ws, name, seconds, size=1000, pace=0.01):
    """Send a message every `pace` seconds for `seconds`; the echo latencies.

    Each message is `size` characters, and waits for its own echo (others'
    messages heard in between are skipped), so the latency is the time from
    sending to hearing it back through the room.
    """
    latencies = []
    padding = "x" * size
    stop = time.monotonic() + seconds
    n = 0
    while time.monotonic() < stop:
        text = f"{n} {padding}"
        sent = time.monotonic()
        await ws.send(say(name, text))
        while (await receive(ws))["message"] != text:
            pass
        latencies.append(time.monotonic() - sent)
        n += 1
        await asyncio.sleep(pace)
    return latencies


async def listen(ws):
    """Read everything, as a patient member of the room does, until cancelled."""
    try:
        while True:
            await ws.recv()
    except ConnectionClosed:
        pass


async def leave(*clients):
    """Close clients that may have messages waiting: reading on while closing,
    or a full queue would stop the client from reading the server's close."""
    listening = [asyncio.create_task(listen(ws)) for ws in clients]
    await asyncio.gather(*(ws.close() for ws in clients))
    await asyncio.gather(*listening)


def test_a_client_that_stops_reading_is_dropped(path):
    """The server drops a client that never reads, soon, with bounded memory,
    and the others do not notice: their latency stays what it was."""

    async def scenario(server):
        talker, listener = await join(server), await join(server)
        listening = asyncio.create_task(listen(listener))
        await talk_and_time(talker, "warm-up", 0.5)
        before = await talk_and_time(talker, "talker", 2.0)
        memory_before = memory_kib(server)

        stuck = await asyncio.to_thread(stuck_client, server)
        joined = time.monotonic()
        during = []
        # Talk until the server has dropped the stuck client (its end of the
        # connection leaves ESTABLISHED), but 12 s at most.
        while server_side_state(server, stuck) == "ESTABLISHED":
            assert time.monotonic() - joined < 12, "the stuck client is still there"
            during += await talk_and_time(talker, "talker", 0.5)
        dropped_after = time.monotonic() - joined
        memory_growth = memory_kib(server) - memory_before

        # What the stuck client gets if it reads now: what was in the pipes, then
        # the end of the connection (maybe after a close frame, if one fit in).
        received = await asyncio.to_thread(read_until_closed, stuck)
        stuck.close()
        listening.cancel()
        await asyncio.wait([listening])
        await leave(talker, listener)
        return before, during, dropped_after, memory_growth, received

    with chat_server(path, *UNLIMITED, "--send-timeout", str(SEND_TIMEOUT)) as server:
        before, during, dropped_after, memory_growth, received = run(scenario(server))

    print(f"{path}: dropped after {dropped_after:.1f} s, memory +{memory_growth} KiB")
    # Dropped soon after the send timeout: at this pace the pipes fill in about
    # two seconds, then the send waits SEND_TIMEOUT, and the ASGI servers give
    # uvicorn's close 2 s more before they abort (5 to 6 s in all, on an idle
    # machine); the margin is for a busy one.
    assert dropped_after < SEND_TIMEOUT + 9
    # Not a pile that grows with the traffic: in this run the stuck client
    # would have been sent 1 KB x 100 a second for as long as it stayed.
    assert memory_growth < 4096
    assert len(received) > 0
    # The latency of the others: the median echo time with the stuck client in
    # the room stays within 1.5 times the time without it. The floor of 5 ms:
    # echoes on loopback take about a millisecond, and on a busy test machine
    # a few milliseconds more come and go with no stuck client at all.
    typical_before = max(statistics.median(before), 0.005)
    assert statistics.median(during) <= 1.5 * typical_before, (before, during)


def test_sigterm_with_a_stuck_client_exits_cleanly_in_time(path):
    """SIGTERM ends the server within 10 s, status 0, even with a stuck client;
    the others are told 1001 (going away)."""

    async def fill_the_pipes(server, talker, stuck):
        """Talk until the stuck client's pipes are full and the server holds
        some of what it was sent, or until the server stops echoing: some wait
        for the stuck client before they read the talker's next message."""
        text = "x" * 3000
        extra = 100  # messages after the kernel's buffer is full
        for _ in range(1000):
            await talker.send(say("talker", text))
            try:
                async with asyncio.timeout(0.5):
                    await talker.recv()
            except TimeoutError:
                break  # the server waits for the stuck client
            if send_queue_bytes(server, stuck) > 50_000:
                extra -= 1
                if extra == 0:
                    break
        assert send_queue_bytes(server, stuck) > 50_000

    with chat_server(path, *UNLIMITED) as server:
        stuck = stuck_client(server)

        async def scenario():
            talker = await join(server)
            await fill_the_pipes(server, talker, stuck)
            listening = asyncio.create_task(listen(talker))
            started = time.monotonic()
            server.process.terminate()
            await listening  # until the server closes the talker's connection
            assert talker.close_code == GOING_AWAY
            await asyncio.to_thread(server.process.wait, 10)
            return time.monotonic() - started

        try:
            took = run(scenario())
        finally:
            stuck.close()
        assert server.process.returncode == 0
        assert took < 10
        print(f"{path}: SIGTERM with a stuck client took {took:.1f} s")


def test_a_flooder_is_slowed_and_the_others_are_not_hurt(path):
    """A client that sends as fast as it can gets its budget through, no more,
    the rest later; a polite client's messages still go through at once."""
    rate, burst, seconds, flood_size = 100, 50, 1.5, 300

    async def flood(ws):
        for n in range(flood_size):
            await ws.send(say("flooder", str(n)))
            # send() returns at once while the socket takes the data: let this
            # test's other clients run too.
            await asyncio.sleep(0)

    async def count_from_flooder(ws, seconds):
        heard = 0
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    heard += (await receive(ws))["sender"] == "flooder"
        return heard

    async def scenario(server):
        flooder, polite, counter = [await join(server) for _ in range(3)]
        flooder_listens = asyncio.create_task(listen(flooder))
        polite_listens = asyncio.create_task(listen(polite))
        flooding = asyncio.create_task(flood(flooder))
        heard_in_time = heard = await count_from_flooder(counter, seconds)
        # The polite client's messages are not queued behind the flood.
        polite_listens.cancel()
        await asyncio.wait([polite_listens])
        latencies = await talk_and_time(polite, "polite", 0.5, pace=0.05)
        # The rest of the flood comes through, at the budget's pace.
        while heard < flood_size:
            heard += (await receive(counter))["sender"] == "flooder"
        await flooding
        flooder_listens.cancel()
        await asyncio.wait([flooder_listens])
        await leave(flooder, polite, counter)
        return heard_in_time, latencies

    args = ("--max-rate", str(rate), "--burst", str(burst))
    with chat_server(path, *args) as server:
        heard, latencies = run(scenario(server))
    print(f"{path}: {heard} flooded messages in {seconds} s; polite {latencies}")
    assert 0.5 * rate * seconds < heard <= burst + rate * seconds * 1.2
    assert statistics.median(latencies) < 0.1


# --- smaller promises that the same five servers keep ------------------------------


def test_text_goes_out_as_it_came_in(path):
    """A message goes out as UTF-8, not as \\uXXXX escapes, which would make
    Chinese three times longer than the 4096 bytes allowed in."""
    text = "漢字" * 600 + " 🙂"  # 3,605 bytes of UTF-8

    async def scenario(server):
        ws = await join(server)
        sent = json.dumps({"sender": "ada", "message": text}, ensure_ascii=False)
        await ws.send(sent)
        async with asyncio.timeout(10):
            raw = await ws.recv()
        assert json.loads(raw) == json.loads(sent)
        assert "\\u" not in raw
        assert len(raw.encode()) < len(sent.encode()) + 10
        await ws.close()

    with chat_server(path) as server:
        run(scenario(server))


def test_post_is_refused(path):
    """POST gets 405 (HEAD and the static folder: see test_web_protocol.py)."""
    with chat_server(path) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
        connection.request("POST", "/", body=b"")
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == 405
