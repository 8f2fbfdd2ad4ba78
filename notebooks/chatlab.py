"""Run the book's example servers from a notebook, as real processes.

The case-study notebooks import this module: `await Server.start("chat/server07.py")`
runs `python examples/chat/server07.py --host 127.0.0.1 --port 0` in a process of its
own, exactly as you would in a terminal, and waits until it prints
`listening on HOST:PORT`. Its output is kept, not printed, so that it never lands in
whichever cell happens to be running: `server.output()` shows what is new.

A server started here is stopped by `await server.stop()` (Ctrl-C, as in a terminal),
and in any case when the kernel shuts down or restarts, so that no server outlives
its notebook.
"""

import asyncio
import atexit
import contextlib
import os
import re
import signal
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LISTENING = re.compile(r"listening on (\S+):(\d+)")


def plain_text_environment():
    """This process's environment, asking for tracebacks without colours.

    Jupyter asks for colours (FORCE_COLOR); a notebook shows the servers' output as
    plain text, as a log file would hold it.
    """
    environment = {**os.environ, "PYTHON_COLORS": "0", "NO_COLOR": "1"}
    environment.pop("FORCE_COLOR", None)
    return environment


class Server:
    """One example server, run with `python examples/PROGRAM --port 0 ARGS...`."""

    def __init__(self, process, program):
        self.process = process
        self.program = program
        self.lines = []  # everything it printed, standard error included
        self.shown = 0  # how many of them output() has returned already
        self.host = self.port = None
        self._reader = asyncio.create_task(self._read())
        atexit.register(self._kill)

    @classmethod
    async def start(cls, program, *args, python_flags=(), timeout=20):
        """Start `examples/PROGRAM` and wait until it says where it listens.

        `program` may also be the path of a program of your own. `python_flags`
        go to Python itself: `python_flags=["-X", "dev"]` for development mode.
        """
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *python_flags,
            "-u",  # print each line as soon as it is written
            str(EXAMPLES / program),
            "--host",
            "127.0.0.1",
            "--port",
            "0",  # any free port: several notebooks may run at once
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=plain_text_environment(),
        )
        server = cls(process, program)
        async with asyncio.timeout(timeout):
            while server.port is None:
                if server._reader.done():
                    raise RuntimeError(f"{program} ended:\n{server.output()}")
                await asyncio.sleep(0.05)
        print(f"{program} is listening on {server.host}:{server.port}")
        return server

    async def _read(self):
        async for line in self.process.stdout:
            text = line.decode(errors="replace").rstrip("\n")
            self.lines.append(text)
            if self.port is None and (match := LISTENING.search(text)):
                self.host, self.port = match[1], int(match[2])

    async def wait_for(self, text, count=1, timeout=10):
        """Wait until `text` appears in `count` lines of the server's output.

        Output arrives through a pipe a moment after the server writes it: wait
        for the line you expect rather than sleeping and hoping.
        """
        async with asyncio.timeout(timeout):
            while sum(text in line for line in self.lines) < count:
                if self._reader.done():
                    raise RuntimeError(f"{self.program} ended:\n{self.output()}")
                await asyncio.sleep(0.02)

    async def output_until(self, text, count=1, timeout=10):
        """What the server printed since the last output(), once `count` of those
        new lines contain `text`: wait for the line that tells what happened."""
        async with asyncio.timeout(timeout):
            while sum(text in line for line in self.lines[self.shown :]) < count:
                if self._reader.done():
                    break  # it ended: show what it said
                await asyncio.sleep(0.02)
        return self.output()

    def output(self):
        """What the server printed since the last call, as one string."""
        new = self.lines[self.shown :]
        self.shown = len(self.lines)
        return "\n".join(new)

    async def stop(self, how=signal.SIGINT, timeout=10):
        """Stop it as a terminal would (Ctrl-C by default); return its exit code.

        A server still running after `timeout` seconds is killed, and says so.
        """
        if self.process.returncode is None:
            self.process.send_signal(how)
            try:
                async with asyncio.timeout(timeout):
                    await self.process.wait()
            except TimeoutError:
                self.lines.append(f"[still running {timeout} s later: killed]")
                self.process.kill()
                await self.process.wait()
        await self._reader  # every line it wrote, up to the end
        atexit.unregister(self._kill)
        return self.process.returncode

    def _kill(self):
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
