"""A child process nobody waits for: `RuntimeError: Event loop is closed` at exit.

    python examples/mistakes/forgotten_process.py           # the error, at exit
    python -X dev examples/mistakes/forgotten_process.py    # ... and ResourceWarnings
    python examples/mistakes/forgotten_process.py --fixed   # communicate(): clean

The program starts a helper process, reads the first line it prints, and returns
from main() while the helper is still running. asyncio.run() closes the loop; the
helper exits a moment later, and the transport that managed it becomes garbage. Its
__del__ finds it unclosed and closes it the usual way, by scheduling a callback on
its event loop. That loop is closed, so call_soon() raises `RuntimeError: Event loop
is closed`, and since an exception in __del__ cannot go anywhere, Python prints it as
"Exception ignored in". The program still exits with status 0.

The sleep after asyncio.run() stands for the rest of a program that goes on after
its async part; the helper takes HELPER_LINGERS seconds to exit, well within it.
"""

import asyncio
import sys
import time

HELPER_LINGERS = 0.3  # seconds the helper runs after printing its first line
HELPER = (
    "import time; "
    "print('converter 2.1', flush=True); "
    f"time.sleep({HELPER_LINGERS})"  # finishing its own start-up, say
)


async def helper_version():
    helper = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HELPER, stdout=asyncio.subprocess.PIPE
    )
    first_line = await helper.stdout.readline()
    return first_line.decode().strip()  # the mistake: the helper is still running


async def helper_version_fixed():
    helper = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HELPER, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await helper.communicate()  # reads to the end, waits for the exit
    return output.decode().splitlines()[0]


def main(fixed):
    version = asyncio.run(helper_version_fixed() if fixed else helper_version())
    print(f"found {version}; asyncio.run() returned")
    time.sleep(1)  # the rest of the program: synchronous work
    print("the program is done")


if __name__ == "__main__":
    main(fixed="--fixed" in sys.argv)
