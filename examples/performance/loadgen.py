"""A load generator for the chat protocol: thousands of clients in one process, cheaply.

    python examples/performance/loadgen.py rooms --port 8888 --server-pid PID
    python examples/performance/loadgen.py fanout --members 1000 --port 8888 ...

It is not asyncio: a load generator must cost less per message than the server
it measures, or it measures itself. So it is the bare minimum, non-blocking
sockets and one `selectors` loop, and it never parses JSON on the hot path: it
counts frames by their 4-byte headers alone, and finds a message's sequence
number at a known place in its text when it needs a latency. It reads the
server's CPU time and memory from /proc (Linux) around the measured window, and
its own CPU time too: if it was busy for most of the window, the figures are
its limit, not the server's, and it says so ("loadgen_busy" near 1).

Each scenario prints one line of JSON on standard output.
"""

import argparse
import json
import os
import resource
import selectors
import socket
import statistics
import struct
import time

HEADER = struct.Struct("<I")
BATCH = 100  # connections opened at once: below server20's listen backlog (128)
MINIMUM = 100  # deliveries a measured window needs, however long it takes
# Bytes asked of each recv(). Python allocates that much for every call, then
# shrinks it to what came: at 256 KiB a recv of a small frame cost 12 us of CPU
# here (the allocator goes to the kernel for a block that large), at 64 KiB 1 us.
RECV_SIZE = 64 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of /proc/PID/stat's CPU times


def frame(message):
    payload = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(len(payload)) + payload


# --- the server, seen from /proc ----------------------------------------------


def cpu_seconds(pid):
    """The CPU time a process has used so far, from /proc, to the nanosecond.

    /proc/PID/stat counts user and system time in clock ticks (10 ms here): too
    coarse for a window of a second. Each thread's /proc/PID/task/TID/schedstat
    starts with its time on a CPU in nanoseconds: we add them up.
    """
    try:
        total = 0
        for thread in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{thread}/schedstat") as schedstat:
                total += int(schedstat.read().split()[0])
        return total / 1e9
    except FileNotFoundError:  # a kernel without schedstat: clock ticks
        return stat_cpu_seconds(pid)


def stat_cpu_seconds(pid):
    """utime + stime from /proc/PID/stat, in seconds (to the clock tick)."""
    with open(f"/proc/{pid}/stat") as stat:
        # The fields after the command name, which is in brackets and may hold
        # spaces: utime and stime are the 12th and 13th of them.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def resident_kib(pid):
    """A process's resident memory (VmRSS), in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ValueError(f"no VmRSS for process {pid}")


def own_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Window:
    """A measured stretch of time: wall clock, server CPU, our own CPU."""

    def __init__(self, server_pid):
        self.server_pid = server_pid
        self.wall = time.perf_counter()
        self.server_cpu = cpu_seconds(server_pid)
        self.own_cpu = own_cpu_seconds()

    def close(self):
        """The window's figures, as a dict."""
        wall = time.perf_counter() - self.wall
        server_cpu = cpu_seconds(self.server_pid) - self.server_cpu
        own_cpu = own_cpu_seconds() - self.own_cpu
        return {
            "wall_s": wall,
            "server_cpu_s": server_cpu,
            "server_busy": server_cpu / wall,
            "loadgen_busy": own_cpu / wall,
        }


# --- clients --------------------------------------------------------------------


class ServerHungUp(Exception):
    pass


class Client:
    """One connection: counts whole frames, and may look at each one."""

    __slots__ = ("frames", "on_frame", "pending", "sock")

    def __init__(self, sock):
        self.sock = sock
        self.pending = b""  # the start of a frame not fully arrived
        self.frames = 0
        self.on_frame = None  # called as on_frame(data, start, end) if set

    def receive(self):
        """Read what is there; return how many whole frames it completed."""
        try:
            data = self.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return 0
        if not data:
            raise ServerHungUp
        if self.pending:
            data = self.pending + data
        size, offset, count = len(data), 0, 0
        while size - offset >= 4:
            end = offset + 4 + HEADER.unpack_from(data, offset)[0]
            if end > size:
                break
            if self.on_frame is not None:
                self.on_frame(data, offset + 4, end)
            offset = end
            count += 1
        self.pending = data[offset:]
        self.frames += count
        return count

    def send(self, data):
        """Send it all; a non-blocking socket may take only part of it."""
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self.sock.setblocking(True)
            self.sock.sendall(data[sent:])
            self.sock.setblocking(False)


class Load:
    """The clients, and one selector that reads whatever any of them received."""

    def __init__(self, host, port, server_pid):
        self.address = (host, port)
        self.server_pid = server_pid
        self.selector = selectors.DefaultSelector()
        self.clients = []
        self.delivered = 0  # frames received by every client, since the start
        # Usernames unique to this run: the last run's may not be free yet.
        self.tag = f"{os.getpid()}-"

    def open(self, names, rooms_of=lambda index: (), receive_buffer=None):
        """Connect, log in and join rooms, BATCH clients at a time; the new clients."""
        opened = []
        for first in range(0, len(names), BATCH):
            batch = []
            for index in range(first, min(first + BATCH, len(names))):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                if receive_buffer:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
                sock.connect(self.address)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                rooms = rooms_of(index)
                username = self.tag + names[index]
                requests = [{"action": "connect", "username": username}]
                requests += [{"action": "joinroom", "room": room} for room in rooms]
                sock.sendall(b"".join(frame(request) for request in requests))
                sock.setblocking(False)
                client = Client(sock)
                self.selector.register(sock, selectors.EVENT_READ, client)
                batch.append((client, len(requests)))
            self.pump(lambda batch=batch: all(c.frames >= n for c, n in batch), 60)
            opened += [client for client, _ in batch]
        for client in opened:
            client.frames = 0
        self.clients += opened
        self.delivered = 0
        return opened

    def pump(self, done, timeout, tick=None, every=0.001):
        """Read until done() is true; call tick() about every `every` seconds."""
        deadline = time.perf_counter() + timeout
        select = self.selector.select
        while not done():
            now = time.perf_counter()
            if now > deadline:
                raise TimeoutError(f"not done within {timeout} s")
            for key, _ in select(every if tick else min(deadline - now, 0.1)):
                self.delivered += key.data.receive()
            if tick is not None:
                tick()

    def run_for(self, seconds, tick=None, every=0.001):
        end = time.perf_counter() + seconds
        self.pump(lambda: time.perf_counter() >= end, seconds + 1, tick, every)


# --- scenarios ------------------------------------------------------------------


def rooms(load, args):
    """Clients in rooms of --room-size, chatting --rate times a second (0: flat out)."""
    clients = load.open(
        [f"user{n}" for n in range(args.clients)],
        rooms_of=lambda n: [f"room{n // args.room_size}"],
    )
    groups = [
        clients[first : first + args.room_size]
        for first in range(0, len(clients), args.room_size)
    ]
    chats = [
        frame({"action": "chat", "room": f"room{n}", "message": "x" * args.size})
        for n in range(len(groups))
    ]
    sent = [0] * len(groups)
    turn = [0]
    if args.rate:  # paced: whatever is due since the start, spread over the rooms
        started = time.perf_counter()
        total = [0]

        def tick():
            due = int((time.perf_counter() - started) * args.rate) - total[0]
            for _ in range(due):
                room = total[0] % len(groups)
                groups[room][turn[0] % args.room_size].send(chats[room])
                total[0] += 1
                if room == len(groups) - 1:
                    turn[0] += 1

    else:  # flat out: each room keeps --window messages on their way

        def tick():
            for room, members in enumerate(groups):
                missing = args.window - (sent[room] - members[0].frames)
                if missing > 0:
                    members[turn[0] % args.room_size].send(chats[room] * missing)
                    sent[room] += missing
            turn[0] += 1

    load.run_for(args.warmup, tick)
    delivered, window = load.delivered, Window(load.server_pid)
    load.run_for(args.duration, tick)
    # A machine too busy to deliver anything in the window: wait for a few.
    load.pump(lambda: load.delivered - delivered >= MINIMUM, 30, tick)
    figures = window.close()
    deliveries = load.delivered - delivered
    figures["deliveries_per_s"] = deliveries / figures["wall_s"]
    figures["cpu_per_delivery_us"] = 1e6 * figures["server_cpu_s"] / deliveries
    return figures


def fanout(load, args):
    """--members in one room; one of them says something, and waits for all to hear."""
    members = load.open(
        [f"member{n}" for n in range(args.members)], rooms_of=lambda n: ["crowd"]
    )
    chat = frame({"action": "chat", "room": "crowd", "message": "x" * args.size})

    def one_message():
        target = load.delivered + len(members)
        started = time.perf_counter()
        members[0].send(chat)
        load.pump(lambda: load.delivered >= target, 60)
        return time.perf_counter() - started

    for _ in range(2):  # warm up
        one_message()
    window = Window(load.server_pid)
    times = [one_message() for _ in range(args.messages)]
    figures = window.close()
    figures["cpu_per_delivery_us"] = (
        1e6 * figures["server_cpu_s"] / (args.messages * len(members))
    )
    figures["reach_all_ms"] = 1e3 * statistics.median(times)
    return figures


def stall(load, args):
    """A paced flood to --members, beside one member that never reads: latencies."""
    members = load.open(
        [f"member{n}" for n in range(args.members)], rooms_of=lambda n: ["flood"]
    )
    (stalled,) = load.open(["stalled"], lambda n: ["flood"], receive_buffer=4096)
    load.selector.unregister(stalled.sock)  # it never reads again
    sent_at = {}
    latencies = []
    marker = b'"message":"'

    def on_frame(data, start, end):
        # The relayed chat starts {"action":"chat","room":"flood","message":"
        # then ten digits: its sequence number. No JSON parsing needed.
        at = data.find(marker, start, end) + len(marker)
        latencies.append(time.perf_counter() - sent_at[int(data[at : at + 10])])

    padding = "x" * args.size
    started = time.perf_counter()
    count = [0]

    def tick():
        due = int((time.perf_counter() - started) * args.rate) - count[0]
        for _ in range(due):
            seq = count[0]
            text = f"{seq:010d} {padding}"
            sent_at[seq] = time.perf_counter()
            members[0].send(frame({"action": "chat", "room": "flood", "message": text}))
            count[0] += 1

    load.run_for(args.warmup, tick)
    for member in members:
        member.on_frame = on_frame
    window = Window(load.server_pid)
    load.run_for(args.duration, tick)
    load.pump(lambda: len(latencies) >= MINIMUM, 30, tick)
    figures = window.close()
    latencies.sort()
    figures["p50_ms"] = 1e3 * latencies[len(latencies) // 2]
    figures["p99_ms"] = 1e3 * latencies[int(len(latencies) * 0.99)]
    figures["latencies"] = len(latencies)
    return figures


def idle(load, args):
    """Memory per idle logged-in client: the server's VmRSS, before and after."""
    load.open([f"early{n}" for n in range(50)])  # warm up the server's code paths
    time.sleep(args.settle)
    before = resident_kib(load.server_pid)
    window = Window(load.server_pid)
    load.open([f"idle{n}" for n in range(args.clients)])
    time.sleep(args.settle)  # let the server finish what each login started
    figures = window.close()
    after = resident_kib(load.server_pid)
    figures["kib_per_client"] = (after - before) / args.clients
    figures["server_rss_kib"] = after
    return figures


def logins(load, args):
    """Connect, log in, hang up, --concurrency at a time: logins a second."""
    done = [0]
    started = [0]
    names = iter(range(10**9))

    def start_one():
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(load.address)
        client = Client(sock)
        client.on_frame = lambda data, start, end: None
        load.selector.register(sock, selectors.EVENT_WRITE, client)
        started[0] += 1

    def on_event(key, events):
        client = key.data
        if events & selectors.EVENT_WRITE:  # connected: say who we are
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            hello = frame(
                {"action": "connect", "username": f"{load.tag}login{next(names)}"}
            )
            client.send(hello)
            load.selector.modify(client.sock, selectors.EVENT_READ, client)
        elif client.receive():  # the reply: done, hang up, and start another
            load.selector.unregister(client.sock)
            client.sock.close()
            done[0] += 1
            if started[0] < args.count:
                start_one()

    for _ in range(args.concurrency):
        start_one()
    window = Window(load.server_pid)
    deadline = time.perf_counter() + 60
    while done[0] < args.count:
        if time.perf_counter() > deadline:
            raise TimeoutError("logins did not finish within 60 s")
        for key, events in load.selector.select(0.1):
            on_event(key, events)
    figures = window.close()
    figures["logins_per_s"] = args.count / figures["wall_s"]
    figures["cpu_per_login_us"] = 1e6 * figures["server_cpu_s"] / args.count
    return figures


# --- the web chat: the same, over WebSocket --------------------------------------


class WebSocketClient(Client):
    """A WebSocket connection: past its HTTP handshake, counts the server's frames.

    Server frames are not masked (RFC 6455): 2 bytes of header, 2 or 8 more for
    a long payload, then the payload; compressed (permessage-deflate) or not, a
    frame is counted by its header alone.
    """

    __slots__ = ("accepted_deflate", "handshaken")

    def __init__(self, sock):
        super().__init__(sock)
        self.handshaken = False
        self.accepted_deflate = False

    def receive(self):
        try:
            data = self.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return 0
        if not data:
            raise ServerHungUp
        data = self.pending + data
        if not self.handshaken:
            headers_end = data.find(b"\r\n\r\n")
            if headers_end < 0:
                self.pending = data
                return 0
            headers = data[:headers_end].lower()
            if not headers.startswith(b"http/1.1 101"):
                raise ServerHungUp(data[:headers_end].decode(errors="replace"))
            self.accepted_deflate = b"permessage-deflate" in headers
            self.handshaken = True
            data = data[headers_end + 4 :]
        size, offset, count = len(data), 0, 0
        while size - offset >= 2:
            length = data[offset + 1] & 0x7F
            start = offset + 2
            if length == 126:
                length, start = (
                    int.from_bytes(data[start : start + 2], "big"),
                    start + 2,
                )
            elif length == 127:
                length, start = (
                    int.from_bytes(data[start : start + 8], "big"),
                    start + 8,
                )
            end = start + length
            if end > size:
                break
            count += data[offset] & 0x0F in (0x0, 0x1, 0x2)  # data, not control
            offset = end
        self.pending = data[offset:]
        self.frames += count
        return count


def masked_text_frame(text):
    """A text frame as a client must send it: masked with a (here fixed) key."""
    payload = text.encode()
    mask = b"\x12\x34\x56\x78"
    masked = bytes(byte ^ mask[n % 4] for n, byte in enumerate(payload))
    if len(payload) < 126:
        header = bytes([0x81, 0x80 | len(payload)])
    else:
        header = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big")
    return header + mask + masked


def open_websockets(load, count, deflate):
    """Open `count` WebSockets at /chat, BATCH at a time, each past its welcome."""
    host, port = load.address
    offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
    request = (
        f"GET /chat HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\n{offer}\r\n"
    ).encode()
    opened = []
    for first in range(0, count, BATCH):
        batch = []
        for _ in range(min(BATCH, count - first)):
            sock = socket.create_connection(load.address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(request)
            sock.setblocking(False)
            client = WebSocketClient(sock)
            load.selector.register(sock, selectors.EVENT_READ, client)
            batch.append(client)
        load.pump(lambda batch=batch: all(c.frames for c in batch), 60)  # welcomes
        opened += batch
    for client in opened:
        client.frames = 0
    load.clients += opened
    load.delivered = 0
    return opened


def web_idle(load, args):
    """Memory per idle WebSocket at /chat (with --deflate: compression offered)."""
    open_websockets(load, 20, args.deflate)  # warm up
    time.sleep(args.settle)
    before = resident_kib(load.server_pid)
    window = Window(load.server_pid)
    clients = open_websockets(load, args.clients, args.deflate)
    time.sleep(args.settle)
    figures = window.close()
    after = resident_kib(load.server_pid)
    figures["kib_per_client"] = (after - before) / args.clients
    figures["deflate_accepted"] = all(c.accepted_deflate for c in clients)
    return figures


def web_fanout(load, args):
    """--members WebSockets; one says something, and waits until all have heard."""
    members = open_websockets(load, args.members, args.deflate)
    text = json.dumps({"sender": "bench", "message": "x" * args.size})
    chat = masked_text_frame(text)

    def one_message():
        target = load.delivered + len(members)
        started = time.perf_counter()
        members[0].send(chat)
        load.pump(lambda: load.delivered >= target, 60)
        return time.perf_counter() - started

    for _ in range(2):
        one_message()
    window = Window(load.server_pid)
    times = [one_message() for _ in range(args.messages)]
    figures = window.close()
    deliveries = args.messages * len(members)
    figures["cpu_per_delivery_us"] = 1e6 * figures["server_cpu_s"] / deliveries
    figures["reach_all_ms"] = 1e3 * statistics.median(times)
    return figures


SCENARIOS = {
    "rooms": rooms,
    "fanout": fanout,
    "stall": stall,
    "idle": idle,
    "logins": logins,
    "web-idle": web_idle,
    "web-fanout": web_fanout,
}


def parse_command_line():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--cpu", type=int, help="run on this CPU only")
    parser.add_argument("--clients", type=int, default=50, help="rooms, idle")
    parser.add_argument("--room-size", type=int, default=5, help="rooms")
    parser.add_argument("--rate", type=float, default=0, help="messages a second")
    parser.add_argument("--window", type=int, default=16, help="rooms at full load")
    parser.add_argument("--members", type=int, default=1000, help="fanout, stall")
    parser.add_argument("--messages", type=int, default=10, help="fanout")
    parser.add_argument("--count", type=int, default=2000, help="logins")
    parser.add_argument("--concurrency", type=int, default=32, help="logins")
    parser.add_argument("--deflate", action="store_true", help="web: offer it")
    parser.add_argument("--size", type=int, default=32, help="characters a message")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds")
    parser.add_argument(
        "--settle", type=float, default=0.5, help="idle: seconds before measuring"
    )
    return parser.parse_args()


def main():
    args = parse_command_line()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket a client
    load = Load(args.host, args.port, args.server_pid)
    figures = SCENARIOS[args.scenario](load, args)
    print(json.dumps(figures), flush=True)
    for client in load.clients:
        client.sock.close()


if __name__ == "__main__":
    main()
