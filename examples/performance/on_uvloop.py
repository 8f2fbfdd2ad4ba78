"""Run a chat server on uvloop's event loop, unchanged.

    python examples/performance/on_uvloop.py examples/chat/server20.py --port 0

uvloop (`pip install uvloop`, not on Windows) is asyncio's event loop rewritten
on libuv, the C library under Node.js. A program that calls asyncio.run() gets
it once uvloop's policy is set: this sets it, then runs the script as if it had
been started itself.
"""

import asyncio
import runpy
import sys
from pathlib import Path

import uvloop

script = Path(sys.argv[1]).resolve()
sys.argv = sys.argv[1:]  # the script sees its own name and options
sys.path.insert(0, str(script.parent))  # as if started as `python SCRIPT`
asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
runpy.run_path(str(script), run_name="__main__")
