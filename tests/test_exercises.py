"""The exercise checker (exercises/check.py) tells right answers from wrong ones.

The reference solutions are the chapters' own: each is taken from its exercise's
solution dropdown in docs/, merged into the exercise's starter file (the solution's
definitions replace the starter's), and must pass its check. Every starter file
must fail with a plain message, not a traceback, and a few plausible mistakes must
fail with a message that names the mistake.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
sys.path.insert(0, str(EXERCISES))

from checking import load_all  # noqa: E402

CHECKS = load_all()

# Which python blocks of a solution dropdown make the reference solution, when
# not just the first one.
SOLUTION_BLOCKS = {"15-2": [0, 1], "90-2": [1], "90-3": [1]}


def exercise_section(ident):
    """The Markdown of exercise `ident` ("04-2"), from its heading to the next one."""
    chapter, number = ident.split("-")
    (page,) = (ROOT / "docs").glob(f"{chapter}-*.md")
    text = page.read_text()
    start = re.search(rf"^### Exercise {number}: .*$", text, re.M).start()
    end = re.compile(r"^#{2,3} ", re.M).search(text, start + 1)
    return text[start : end.start() if end else len(text)]


def solution_blocks(ident):
    """The python blocks inside the exercise's solution dropdown."""
    section = exercise_section(ident)
    dropdown = section[section.index("::::{dropdown} Solution") :]
    return re.findall(r"^```python\n(.*?)^```$", dropdown, re.M | re.S)


def defined_names(node):
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {target.id for target in targets if isinstance(target, ast.Name)}
    return set()


def is_main_guard(node):
    return isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)


def definitions(solution):
    """The solution's imports and definitions, without the lines that run them.

    A module-level assignment is kept when a definition uses its name (a lock the
    function takes, say); the rest, like `results = asyncio.run(...)`, demonstrate.
    """
    body = ast.parse(solution).body
    defs = [
        node
        for node in body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    used = {
        name.id
        for node in defs
        for name in ast.walk(node)
        if isinstance(name, ast.Name)
    }
    kept = []
    for node in body:
        imported = isinstance(node, ast.Import | ast.ImportFrom)
        assigned = isinstance(node, ast.Assign | ast.AnnAssign)
        if imported or node in defs or (assigned and defined_names(node) & used):
            kept.append(node)
    return kept


def merged(starter, solution):
    """The starter file with the solution's definitions in place of its own."""
    module = ast.parse(starter)
    replacements = definitions(solution)
    by_name = {name: node for node in replacements for name in defined_names(node)}
    body, placed = [], set()
    for node in module.body:
        names = defined_names(node)
        if is_main_guard(node):
            body.extend(n for n in replacements if id(n) not in placed)
            placed.update(id(n) for n in replacements)
        elif names and names <= by_name.keys():
            for name in names:
                if id(by_name[name]) not in placed:
                    body.append(by_name[name])
                    placed.add(id(by_name[name]))
            continue
        body.append(node)
    body.extend(n for n in replacements if id(n) not in placed)
    imports = [n for n in body if isinstance(n, ast.Import | ast.ImportFrom)]
    others = [n for n in body if not isinstance(n, ast.Import | ast.ImportFrom)]
    module.body = imports + others
    return ast.unparse(module) + "\n"


def reference(ident):
    """The chapter's solution, as a file the checker can take.

    Where the exercise asks for a whole program, the solution is that program (the
    chapters' blocks take `import asyncio` for granted); otherwise its definitions
    go into the starter file.
    """
    blocks = solution_blocks(ident)
    chosen = SOLUTION_BLOCKS.get(ident, [0])
    solution = "\n\n".join(blocks[index] for index in chosen)
    if CHECKS[ident].program:
        return "import asyncio\n\n" + solution
    return merged((EXERCISES / CHECKS[ident].starter).read_text(), solution)


def check(ident, source, tmp_path):
    """Run the checker on `source`; its exit status and what it printed."""
    answer = tmp_path / f"answer_{ident.replace('-', '_')}.py"
    answer.write_text(source)
    finished = subprocess.run(
        [sys.executable, str(EXERCISES / "check.py"), ident, str(answer)],
        capture_output=True,
        text=True,
        timeout=CHECKS[ident].seconds + 30,
    )
    return finished.returncode, finished.stdout + finished.stderr


IDS = sorted(CHECKS)


@pytest.mark.parametrize("ident", IDS)
def test_reference_solution_passes(ident, tmp_path):
    status, output = check(ident, reference(ident), tmp_path)
    assert status == 0, output
    assert "still wrong" not in output and "All " in output, output


@pytest.mark.parametrize("ident", IDS)
def test_starter_fails_helpfully(ident, tmp_path):
    starter = (EXERCISES / CHECKS[ident].starter).read_text()
    status, output = check(ident, starter, tmp_path)
    assert status == 1, output
    assert "still wrong:" in output, output
    assert "Traceback" not in output, output


def with_replaced(ident, solution):
    """The starter with `solution`'s definitions: a wrong answer, for the tests."""
    if CHECKS[ident].program:
        return "import asyncio\n\n" + solution
    return merged((EXERCISES / CHECKS[ident].starter).read_text(), solution)


# Plausible wrong answers: (exercise, name, answer's definitions, words of the
# message that must name the mistake).
WRONG = [
    (
        "01-1",
        "lock-around-the-write-only",
        """
database_lock = threading.Lock()


def count_visit():
    visits = database["visits"]
    time.sleep(ROUND_TRIP)
    with database_lock:
        database["visits"] = visits + 1
""",
        "visits were lost",
    ),
    (
        "01-3",
        "no-round-trip",
        """
async def count_visit_locked(lock):
    async with lock:
        visits = database["visits"]
        await asyncio.sleep(ROUND_TRIP)
        database["visits"] = visits + 1


async def count_visit_reordered(lock):
    database["visits"] += 1
""",
        "it no longer waits for the database",
    ),
    (
        "01-3",
        "await-between",
        """
async def count_visit_locked(lock):
    async with lock:
        visits = database["visits"]
        await asyncio.sleep(ROUND_TRIP)
        database["visits"] = visits + 1


async def count_visit_reordered(lock):
    visits = database["visits"]
    await asyncio.sleep(ROUND_TRIP)
    database["visits"] = visits + 1
""",
        "count_visit_reordered: four tasks of 100 visits stored 1",
    ),
    (
        "02-1",
        "gather-without-await",
        """
async def main():
    scores = asyncio.gather(*(fetch_score(p) for p in ["Ada", "Grace", "Linus"]))
    print(scores)
""",
        "not [30, 50, 50]",
    ),
    (
        "02-2",
        "counts-the-last-send",
        """
def drive(coroutine):
    sends = 0
    while True:
        sends += 1
        try:
            coroutine.send(None)
        except StopIteration as finished:
            return finished.value, sends
""",
        "returned ('well rested', 4)",
    ),
    ("02-4", "line-by-line", "STARTER", "download 2 starts only after download 1 ends"),
    (
        "02-5",
        "no-finally",
        """
async def countdown(start, interval):
    for number in range(start, 0, -1):
        await asyncio.sleep(interval)
        yield number


@asynccontextmanager
async def launch_pad():
    print("on the pad")
    yield
    print("lift-off!")


async def main():
    async with launch_pad():
        async for number in countdown(3, 0.01):
            print(number)
""",
        "'lift-off!' is never printed",
    ),
    (
        "02-5",
        "time-sleep",
        """
import time


async def countdown(start, interval):
    for number in range(start, 0, -1):
        time.sleep(interval)
        yield number
""",
        "the event loop was blocked",
    ),
    (
        "03-2",
        "asyncio-sleep",
        """
async def sleep(delay, result=None):
    return await asyncio.sleep(delay, result)
""",
        "sleep no longer uses call_later",
    ),
    (
        "03-3",
        "blocking-recv",
        """
async def recv_when_readable(sock, size):
    sock.setblocking(True)
    try:
        return sock.recv(size)
    finally:
        sock.setblocking(False)
""",
        "the event loop was blocked",
    ),
    (
        "03-3",
        "no-finally",
        """
async def recv_when_readable(sock, size):
    loop = asyncio.get_running_loop()
    readable = loop.create_future()
    loop.add_reader(sock, readable.set_result, None)
    await readable
    loop.remove_reader(sock)
    return sock.recv(size)
""",
        "when the wait is cancelled, the loop still watches the socket",
    ),
    (
        "04-2",
        "one-after-another",
        """
async def fastest(mirrors):
    for mirror, seconds in mirrors.items():
        return await download_from(mirror, seconds)
""",
        "the downloads do not all start at once",
    ),
    (
        "04-2",
        "no-cancel",
        """
async def fastest(mirrors):
    async with asyncio.TaskGroup() as group:
        downloads = [
            group.create_task(download_from(mirror, seconds))
            for mirror, seconds in mirrors.items()
        ]
        for next_done in asyncio.as_completed(downloads):
            return await next_done
""",
        "it waits for downloads it does not need",
    ),
    (
        "04-2",
        "cancel-without-waiting",
        """
async def fastest(mirrors):
    downloads = [
        asyncio.create_task(download_from(mirror, seconds))
        for mirror, seconds in mirrors.items()
    ]
    done, pending = await asyncio.wait(downloads, return_when=asyncio.FIRST_COMPLETED)
    for download in pending:
        download.cancel()
    return done.pop().result()
""",
        "had not finished stopping",
    ),
    (
        "04-3",
        "swallowed-cancellation",
        "SOLUTION_BLOCK 1",
        "the caller never learns that the session timed out",
    ),
    (
        "04-4",
        "gather-swallows-everything",
        """
async def total_of_valid(order):
    prices = await asyncio.gather(
        *(price_of(item, qty) for item, qty in order), return_exceptions=True
    )
    total = 0
    for (item, qty), price in zip(order, prices):
        if isinstance(price, Exception):
            print(f"skipped {item} x {qty}: {price!r}")
        else:
            total += price
    return total
""",
        "was skipped like a bad item",
    ),
    (
        "04-4",
        "one-after-another",
        """
async def total_of_valid(order):
    total = 0
    for item, qty in order:
        try:
            total += await price_of(item, qty)
        except (KeyError, ValueError) as error:
            print(f"skipped {item} x {qty}: {error!r}")
    return total
""",
        "they should all be priced at the same time",
    ),
    (
        "05-1",
        "no-limit",
        """
async def fetch_all(pages, at_most):
    return await asyncio.gather(*(fetch(page) for page in pages))
""",
        "with at_most=4, 12 downloads ran at once",
    ),
    (
        "05-1",
        "in-chunks",
        """
async def fetch_all(pages, at_most):
    results = []
    for start in range(0, len(pages), at_most):
        chunk = pages[start : start + at_most]
        results += await asyncio.gather(*(fetch(page) for page in chunk))
    return results
""",
        None,  # a correct answer, if a slower one: it must pass
    ),
    (
        "05-2",
        "source-left-open",
        """
async def batched(source, size):
    batch = []
    async for item in source:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
""",
        "its source is left open",
    ),
    (
        "05-3",
        "kill-without-reaping",
        """
async def run_with_deadline(args, seconds):
    child = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(seconds):
            output, _ = await child.communicate()
    except TimeoutError:
        child.kill()
        raise
    return child.returncode, output
""",
        "after a cancellation, the program is still there",
    ),
    (
        "05-4",
        "plain-run-in-executor",
        """
async def run_in_executor_with_context(executor, function, *args):
    return await asyncio.get_running_loop().run_in_executor(executor, function, *args)
""",
        "not the caller's 'req-99'",
    ),
    (
        "05-5",
        "place-limit-only",
        """
async def limited_request(at_once, per_second, gauge, starts):
    async with at_once:
        starts.append(time.monotonic())
        gauge.enter()
        await asyncio.sleep(0.25)
        gauge.leave()


async def both_limits():
    pass
""",
        "two requests started",
    ),
    (
        "05-6",
        "put-never-waits",
        """
import collections


class Rail:
    def __init__(self, capacity):
        self.items = collections.deque()
        self.changed = asyncio.Condition()

    def qsize(self):
        return len(self.items)

    async def put(self, item):
        async with self.changed:
            self.items.append(item)
            self.changed.notify_all()

    async def get(self):
        async with self.changed:
            await self.changed.wait_for(lambda: self.items)
            return self.items.popleft()
""",
        "a third put on a rail of capacity 2 did not wait",
    ),
    (
        "05-7",
        "cancels-at-once",
        """
async def work(job_seconds):
    done = 0
    while True:
        await asyncio.sleep(job_seconds)
        done += 1


async def serve_until_sigterm(job_seconds, grace):
    loop = asyncio.get_running_loop()
    worker = asyncio.create_task(work(job_seconds))
    loop.add_signal_handler(signal.SIGTERM, worker.cancel)
    loop.call_later(0.5, signal.raise_signal, signal.SIGTERM)
    try:
        await worker
    except asyncio.CancelledError:
        print("stopped")
""",
        "in the middle of a job that should have been finished",
    ),
    (
        "05-7",
        "abandons-the-job",
        """
async def work(stop, job_seconds):
    done = 0
    while not stop.is_set():
        await asyncio.sleep(job_seconds)
        done += 1
    return done


async def serve_until_sigterm(job_seconds, grace):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.call_later(0.5, signal.raise_signal, signal.SIGTERM)
    worker = asyncio.create_task(work(stop, job_seconds))
    await stop.wait()
    await asyncio.wait([worker], timeout=grace)
    if worker.done():
        print(f"{worker.result()} jobs done")
""",
        "the job in hand was still running after serve_until_sigterm returned",
    ),
    (
        "05-7",
        "no-handler",
        """
async def serve_until_sigterm(job_seconds, grace):
    loop = asyncio.get_running_loop()
    loop.call_later(0.5, signal.raise_signal, signal.SIGTERM)
    while True:
        await asyncio.sleep(job_seconds)
""",
        "SIGTERM came, and nothing in your code handled it",
    ),
    (
        "06-3",
        "drain-but-no-wait-closed",
        """
async def send_lines(port, count):
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    for number in range(count):
        writer.write(f"line {number}\\n".encode())
        await writer.drain()
    writer.close()
""",
        "the connection has not finished closing yet",
    ),
    (
        "06-3",
        "wait-closed-but-no-drain",
        """
async def send_lines(port, count):
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    for number in range(count):
        writer.write(f"line {number}\\n".encode())
    writer.close()
    await writer.wait_closed()
""",
        "without once waiting for them to go out",
    ),
    (
        "90-1",
        "wait-on-coroutines",
        """
async def greet(name, delay):
    await asyncio.sleep(delay)
    print("hello,", name)
    return len(name)


async def main():
    done, _ = await asyncio.wait([greet("Ada", 0.02), greet("Grace", 0.01)])
    print(sorted(task.result() for task in done))


asyncio.run(main())
""",
        "it still uses wait",
    ),
    (
        "90-2",
        "loop-parameter-kept",
        """
async def fetch_all(names, loop=None):
    queue = asyncio.Queue()
    async with asyncio.timeout(1), asyncio.TaskGroup() as group:
        for name in names:
            group.create_task(download(name, queue))
    return sorted(queue.get_nowait() for _ in range(queue.qsize()))
""",
        "still takes a loop parameter",
    ),
    (
        "90-2",
        "timeout-dropped",
        """
async def fetch_all(names):
    queue = asyncio.Queue()
    async with asyncio.TaskGroup() as group:
        for name in names:
            group.create_task(download(name, queue))
    return sorted(queue.get_nowait() for _ in range(queue.qsize()))
""",
        "a download that hangs makes fetch_all hang",
    ),
    (
        "90-4",
        "call-later-inside",
        """
async def count_down(number):
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def tick(remaining):
        if remaining == 0:
            print("lift-off!")
            done.set_result(None)
            return
        print(remaining)
        loop.call_later(0.01, tick, remaining - 1)

    tick(number)
    await done


asyncio.run(count_down(3))
""",
        "it still uses call_later",
    ),
    (
        "10-1",
        "a header cut short",
        """
def split_frames(buffer):
    messages = []
    while buffer:
        (size,) = struct.unpack("<I", buffer[:4])
        if len(buffer) < 4 + size:
            break
        messages.append(json.loads(buffer[4 : 4 + size]))
        buffer = buffer[4 + size :]
    return messages, buffer
""",
        "split_frames(half a header) raised error",
    ),
    (
        "11-2",
        "whole-stream",
        """
async def shout(reader, writer):
    data = await reader.read()
    writer.write(data.upper())
    await writer.drain()
    writer.close()
    await writer.wait_closed()
""",
        "the first line got no answer while the client waited for it",
    ),
    (
        "12-2",
        "one-read",
        """
async def ask(reader, writer, message):
    writer.write(encode(message))
    await writer.drain()
    return json.loads((await reader.read(65536))[HEADER.size :])
""",
        "wait for the whole frame the header announces",
    ),
    (
        "12-4",
        "all-at-once",
        """
async def skip(reader, size):
    try:
        await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return False
    return True
""",
        "hold at most 64 KiB",
    ),
    (
        "14-2",
        "forget-the-newest",
        """
def post_or_forget_oldest(outbox, message):
    if not outbox.full():
        outbox.put_nowait(message)
""",
        "5 messages on a queue of 3 places left ['message 1', 'message 2', 'mes",
    ),
    (
        "15-2",
        "counts-itself",
        """
async def visit_and_count(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello\\n")
    print("reply:", await reader.readline())
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.1)
    print("tasks still running:", len(asyncio.all_tasks()))
    server.close()
""",
        "it should print how many tasks are still running besides its own",
    ),
    ("16-1", "shielded", "SOLUTION_BLOCK 1", None),
    (
        "16-1",
        "no-abort",
        """
async def close_within(writer, grace):
    writer.close()
    try:
        async with asyncio.timeout(grace):
            await writer.wait_closed()
    except TimeoutError:
        return False
    return True
""",
        "the connection was not cut",
    ),
    (
        "16-2",
        "cancels-the-connections",
        """
async def run_echo_server(stop, started):
    connections = set()

    async def serve(reader, writer):
        connections.add(asyncio.current_task())
        try:
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
        finally:
            connections.discard(asyncio.current_task())
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        started.set_result(server.sockets[0].getsockname()[1])
        await stop.wait()
        server.close()
        for connection in list(connections):
            connection.cancel()
""",
        "after stop was set, the two clients heard [[b'', b''], [b'', b'']]",
    ),
    (
        "18-2",
        "certificate-not-required",
        """
def server_context():
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_certificate.configure_cert(context)
    authority.configure_trust(context)
    return context
""",
        "a client without a certificate reached the handler",
    ),
    (
        "19-2",
        "split-everything",
        """
def parse(line):
    match line.split():
        case []:
            return None
        case ["/join", room]:
            return ("join", room)
        case ["/leave", room]:
            return ("leave", room)
        case ["/leave"]:
            return ("leave", None)
        case ["/quit"]:
            return ("quit",)
        case [command, *_] if command.startswith("/"):
            return ("help",)
        case _:
            return ("say", line)
""",
        "parse('/join the kitchen') gave ('help',), not ('join', 'the kitchen')",
    ),
    (
        "30-1",
        "last-piece-only",
        """
def logged(app):
    async def logging_app(scope, receive, send):
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        status, body_bytes = None, 0

        async def send_and_count(event):
            nonlocal status, body_bytes
            if event["type"] == "http.response.start":
                status = event["status"]
            elif event["type"] == "http.response.body":
                body_bytes = len(event.get("body", b""))
            await send(event)

        await app(scope, receive, send_and_count)
        print(scope["method"], scope["path"], status, body_bytes)

    return logging_app
""",
        "GET /greeting answered 200 with 13 bytes of body, and the log said",
    ),
    (
        "31-2",
        "one-after-another",
        """
class GatherRoom:
    def __init__(self):
        self.members = set()

    def join(self, ws):
        self.members.add(ws)

    def leave(self, ws):
        self.members.discard(ws)

    async def broadcast(self, message):
        for ws in list(self.members):
            try:
                await ws.send(json.dumps(message))
            except ConnectionClosed:
                self.leave(ws)
""",
        "it sends to one after the other",
    ),
    (
        "31-2",
        "hides-every-error",
        """
class GatherRoom:
    def __init__(self):
        self.members = set()

    def join(self, ws):
        self.members.add(ws)

    def leave(self, ws):
        self.members.discard(ws)

    async def broadcast(self, message):
        members = list(self.members)
        results = await asyncio.gather(
            *(ws.send(json.dumps(message)) for ws in members), return_exceptions=True
        )
        for ws, result in zip(members, results):
            if isinstance(result, Exception):
                self.leave(ws)
""",
        "the broadcast hid it",
    ),
    (
        "40-1",
        "wall-time",
        """
async def cpu_per_operation(work, count):
    started = time.perf_counter()
    for _ in range(count):
        await work()
    return (time.perf_counter() - started) / count * 1e6
""",
        "that is the time it took, not the CPU it used",
    ),
    (
        "40-1",
        "total-not-per-call",
        """
async def cpu_per_operation(work, count):
    started = time.process_time()
    for _ in range(count):
        await work()
    return (time.process_time() - started) * 1e6
""",
        "divide by the number of calls",
    ),
    (
        "40-2",
        "the-peak",
        """
def kib_per_client(make, count):
    tracemalloc.start()
    kept = [make() for _ in range(count)]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / count / 1024
""",
        "not the peak",
    ),
    (
        "40-2",
        "keeps-nothing",
        """
def kib_per_client(make, count):
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(count):
        make()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count / 1024
""",
        "keep what make() returns",
    ),
    (
        "40-2",
        "still-tracing",
        """
def kib_per_client(make, count):
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [make() for _ in range(count)]
    return (tracemalloc.get_traced_memory()[0] - before) / count / 1024
""",
        "stop it (tracemalloc.stop())",
    ),
]


@pytest.mark.parametrize(
    ("ident", "solution", "message"),
    [
        pytest.param(ident, source, message, id=f"{ident}-{name}")
        for ident, name, source, message in WRONG
    ],
)
def test_wrong_answer_is_named(ident, solution, message, tmp_path):
    if solution == "STARTER":
        solution = ""
    elif solution.startswith("SOLUTION_BLOCK"):
        solution = solution_blocks(ident)[int(solution.split()[1])]
    status, output = check(ident, with_replaced(ident, solution), tmp_path)
    if message is None:
        assert status == 0, output
        return
    assert status == 1, output
    assert message in output, output
    assert "Traceback" not in output, output


def test_list_names_every_exercise_with_its_title():
    listed = subprocess.run(
        [sys.executable, str(EXERCISES / "check.py"), "--list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for ident in IDS:
        title = exercise_section(ident).splitlines()[0].split(": ", 1)[1]
        assert f"{ident}  {title}" in listed


def test_every_exercise_has_a_check_or_a_reason():
    """An exercise without a check is listed, with why, in exercises/README.md."""
    readme = (EXERCISES / "README.md").read_text()
    without = readme[readme.index("## Exercises without a check") :]
    without = without[: without.index("\n## ", 1)]
    explained = set(re.findall(r"`(\d\d-\d+)`", without))
    in_docs = {
        f"{page.name[:2]}-{number}"
        for page in (ROOT / "docs").glob("*.md")
        for number in re.findall(r"^### Exercise (\d+): ", page.read_text(), re.M)
    }
    unexplained = sorted(in_docs - explained - set(CHECKS))
    assert not unexplained, (
        f"exercises {unexplained} have no check and are not listed in"
        " exercises/README.md under 'Exercises without a check': add a starter and"
        " a check, or list them there with the reason"
    )
    assert not explained & set(CHECKS), "an exercise with a check is listed without"
    assert explained <= in_docs, f"README lists unknown exercises {explained - in_docs}"


def test_an_answer_that_hangs_is_stopped_and_named(tmp_path):
    blocking = "import time\n\n\nasync def fastest(mirrors):\n    time.sleep(3600)\n"
    status, output = check("04-2", with_replaced("04-2", blocking), tmp_path)
    assert status == 1, output
    assert "did not finish within 30 s, while running fastest(mirrors)" in output
    assert "blocks the event loop" in output


def test_a_file_that_does_not_parse_is_named(tmp_path):
    status, output = check("04-2", "async def fastest(mirrors)\n    pass\n", tmp_path)
    assert status == 1, output
    assert "loading your file raised SyntaxError" in output
    assert "Traceback" not in output
