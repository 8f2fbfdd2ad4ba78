"""Every `console` block in docs/ replays as the page shows it (tests/transcripts.py).

One test per page: its console blocks run in page order, from the repository root,
and every process the page starts ends with the test. A block that cannot be
replayed says why, in a `% console: skip REASON` line right above it. The end of
the test run reports how many blocks were verified (tests/conftest.py).
"""

import gc
import sys

import pytest
from transcripts import (
    ROOT,
    Scenario,
    TranscriptError,
    console_blocks,
    shell_status,
    split_commands,
)

PAGES = [
    page
    for page in sorted((ROOT / "docs").glob("*.md"))
    if any(console_blocks(page.read_text()))
]

# At most this share of the book's transcripts may be left unreplayed, each with
# its reason (a person typing into a client, a run too heavy for a test...).
MOST_UNREPLAYED = 0.12  # nearly nine in ten are replayed, as index.md says


def replay(page, cwd=ROOT, **options):
    """Replay a page's console blocks: (verified, marked unverified, other Python)."""
    with Scenario(page, cwd, **options) as scenario:
        try:
            scenario.replay()
        finally:
            counts = scenario.verified, scenario.marked, scenario.elsewhere
    return counts


@pytest.mark.parametrize("page", PAGES, ids=[page.stem for page in PAGES])
def test_console_blocks(page, record_property):
    record_property("console transcripts", (0, 0, 0))
    counts = replay(page)
    record_property("console transcripts", counts)


def test_nearly_every_transcript_is_replayed():
    blocks = [block for page in PAGES for block in console_blocks(page.read_text())]
    unreplayed = [block for block in blocks if block.marker("skip")]
    assert len(unreplayed) <= MOST_UNREPLAYED * len(blocks), (
        f"{len(unreplayed)} of {len(blocks)} console blocks are marked `skip`"
    )


# The harness itself, on small pages and a tiny server of its own.

SERVER = """\
import asyncio, sys

async def greet(reader, writer):
    print(writer.get_extra_info("peername"), "connected")
    writer.write(b"hello\\n")
    await writer.drain()
    writer.close()
    await writer.wait_closed()

async def main():
    server = await asyncio.start_server(greet, "127.0.0.1", int(sys.argv[2]))
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}")
    await server.serve_forever()

try:
    asyncio.run(main())
except KeyboardInterrupt:
    print("stopped by Ctrl-C")
"""

GOOD_PAGE = """\
# A page

```console
$ python -c "print('hello')"
hello
$ python -c "import sys; print(sys.version_info[0])"
3
```

% console: background server
```console
$ python server.py --port 0
listening on 127.0.0.1:40000
```

It listens; a number the page shows as 40000 is the real port in later commands:

```console
$ echo port 40000
port 40000
```

::::{dropdown} A session
```console
$ python -m asyncio
asyncio REPL ...
>>> reader, writer = await asyncio.open_connection("127.0.0.1", 40000)
>>> await reader.readline()
b'hello\\n'
```
::::

```console
>>> writer.close()
>>> await writer.wait_closed()
>>> slow = asyncio.create_task(asyncio.sleep(0.2, result="still running"))
>>> slow.done()
False
>>> await slow
'still running'
>>> 1 / 0
Traceback (most recent call last):
  ...
ZeroDivisionError: division by zero
```

% console: screen server
```console
$ python server.py --port 0
listening on 127.0.0.1:40000
('127.0.0.1', 51234) connected
```

% console: interrupt server
```console
^Cstopped by Ctrl-C
$ echo $?
0
```

% console: python <3.0
```console
$ python -c "print('no Python 2 here')"
something else entirely
```

% console: skip a person types in this one
```console
$ cat
what you type
```
"""


def write_page(tmp_path, text):
    (tmp_path / "server.py").write_text(SERVER)
    page = tmp_path / "page.md"
    page.write_text(text)
    return page


def test_harness_passes_a_right_page(tmp_path):
    assert replay(write_page(tmp_path, GOOD_PAGE), tmp_path) == (7, 1, 1)


def test_harness_maps_the_port_the_page_shows_to_the_real_one(tmp_path):
    with Scenario(write_page(tmp_path, GOOD_PAGE), tmp_path) as scenario:
        scenario.replay()
        assert list(scenario.ports) == ["40000"]
        assert scenario.ports["40000"] != "40000"


@pytest.mark.parametrize(
    "broken",
    [
        GOOD_PAGE.replace("\nhello\n", "\nhullo\n"),  # prints something else
        GOOD_PAGE.replace("port 40000\nport", "port 40000\nport 4"),  # port unmapped
        GOOD_PAGE.replace("b'hello\\n'", "b'bye\\n'"),  # the REPL echoes another value
        GOOD_PAGE.replace("1 / 0", "1 / 1"),  # the expected error does not happen
        GOOD_PAGE.replace("('127.0.0.1', 51234) connected", "nobody came"),
        GOOD_PAGE.replace("^Cstopped by Ctrl-C", "^Cstill running"),
        GOOD_PAGE.replace("$ echo $?\n0", "$ echo $?\n3"),  # another exit status
        GOOD_PAGE.replace("listening on 127.0.0.1:40000\n```\n\nIt", "ready\n```\nIt"),
    ],
)
def test_harness_fails_a_wrong_page(tmp_path, broken):
    with pytest.raises(TranscriptError):
        replay(write_page(tmp_path, broken), tmp_path, wait_timeout=2)


@pytest.mark.parametrize(
    "marker, complaint",
    [
        ("% console: skip", "needs an argument"),
        ("% console: ignore it is slow", "unknown keyword"),
        ("% console: python three", "bad specifier"),
        ("", "mark how to replay it"),  # an unmarked block that is not a command
    ],
)
def test_harness_fails_a_wrong_marker(tmp_path, marker, complaint):
    page = write_page(tmp_path, f"{marker}\n```console\n^Cstopped\n```\n")
    with pytest.raises(TranscriptError, match=complaint):
        replay(page, tmp_path)


def test_harness_runs_python_for_a_marked_version(tmp_path):
    minor = sys.version_info.minor
    page = f"""\
% console: python =={sys.version_info.major}.{minor}.*
```console
$ python3.{minor + 1} -c "import sys; print(sys.version_info[1])"
{minor}
```
"""
    assert replay(write_page(tmp_path, page), tmp_path) == (1, 0, 0)


def test_harness_ends_the_processes_a_page_started(tmp_path):
    page = write_page(tmp_path, GOOD_PAGE.partition("It listens")[0])
    with Scenario(page, tmp_path) as scenario:
        scenario.replay()
        (server,) = scenario.background.values()
    assert server.process.poll() is not None


def test_a_command_that_runs_too_long_fails_and_leaves_no_pipe_open(tmp_path):
    page = write_page(tmp_path, "```console\n$ sleep 30\n```\n")
    with pytest.raises(TranscriptError, match="ran over 1 s"):
        replay(page, tmp_path, command_timeout=1)
    gc.collect()  # an unclosed pipe is reported here, and fails the test


def test_a_command_may_go_on_over_several_lines():
    block = (
        '$ curl -s \\\n    -H "Origin: x" \\\n    http://x/\n403\n$ echo done\ndone\n'
    )
    assert split_commands(block) == [
        ('curl -s \\\n    -H "Origin: x" \\\n    http://x/', "403\n"),
        ("echo done", "done\n"),
    ]


def test_a_stopped_process_exits_as_bash_reports_it():
    assert [shell_status(code) for code in (0, 1, -2, -15)] == [0, 1, 130, 143]


STUBBORN = """\
import signal, time

def first_press(signum, frame):
    print("waiting for the clients; press Ctrl-C again to stop now", flush=True)
    signal.signal(signal.SIGINT, signal.default_int_handler)

signal.signal(signal.SIGINT, first_press)
print("listening on 127.0.0.1:40000", flush=True)
try:
    while True:
        time.sleep(0.05)
except KeyboardInterrupt:
    print("stopped by the second Ctrl-C")
"""

TWICE = """\
% console: background stubborn
% console: interrupt stubborn
```console
$ python stubborn.py
listening on 127.0.0.1:40000
^Cwaiting for the clients; press Ctrl-C again to stop now
^Cstopped by the second Ctrl-C
```
"""


def test_harness_presses_ctrl_c_again_where_the_page_does(tmp_path):
    (tmp_path / "stubborn.py").write_text(STUBBORN)
    assert replay(write_page(tmp_path, TWICE), tmp_path) == (1, 0, 0)
    wrong = TWICE.replace("by the second", "at once by the first")
    with pytest.raises(TranscriptError):
        replay(write_page(tmp_path, wrong), tmp_path)


def test_echo_status_shows_the_status_of_the_command_before(tmp_path):
    page = "```console\n$ python -c 'raise SystemExit(3)'\n$ echo $?\n3\n```\n"
    assert replay(write_page(tmp_path, page), tmp_path) == (1, 0, 0)
    with pytest.raises(TranscriptError, match="status was 3"):
        replay(write_page(tmp_path, page.replace("\n3\n", "\n0\n")), tmp_path)


def test_a_blocks_ulimit_holds_for_its_later_commands(tmp_path):
    page = """\
```console
$ ulimit -Sn 64
$ python -c "import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
64
```
"""
    assert replay(write_page(tmp_path, page), tmp_path) == (1, 0, 0)
