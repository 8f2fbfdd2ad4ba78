// Runs a page's code blocks on Pyodide, in a Web Worker so that the page stays
// responsive and a runaway block can be ended by terminating the worker.
//
// Messages in: {type: "init", indexURL}, {type: "run", id, code, name, quiet,
// watch}, {type: "stop"}. Messages out: {type: "ready", python, pyodide},
// {type: "output", id, stream, text}, {type: "loop", id, event} (while a watched
// block runs: what _static/looptrace.py records), {type: "done", id, ok, stopped},
// {type: "failed", message}.

import { loadPyodide } from "./pyodide/pyodide.mjs";

// The Python side: one namespace for the page, and CPython's behaviour put back
// where Pyodide changes it.
const RUNNER = String.raw`
import ast
import asyncio
import contextlib
import gc
import inspect
import linecache
import sys
import time
import traceback

from page import emit
from pyodide.webloop import WebLoop

namespace = {"__name__": "__main__", "__builtins__": __builtins__}
running = None  # the task of the block that awaits, while it runs


def blocking_sleep(seconds):
    """CPython's time.sleep blocks the thread, and so the event loop: so does this."""
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def nested_run(main, *, debug=None, loop_factory=None):
    """The page's loop always runs, as when CPython's asyncio.run is nested."""
    raise RuntimeError("asyncio.run() cannot be called from a running event loop")


time.sleep = blocking_sleep
asyncio.run = nested_run


class FreshLoop(WebLoop):
    """The loop of one top-level asyncio.run: new, and closed when it ends.

    Pyodide's WebLoop runs its callbacks on the browser's own loop and claims to be
    the running loop each time it runs one, so several can take turns; unlike
    CPython's loops it never closes, which this one does, as asyncio.run's does.
    """

    def __init__(self):
        super().__init__()
        self._closed = False

    def is_running(self):
        return not self._closed

    def is_closed(self):
        return self._closed

    def _check_closed(self):
        if self._closed:
            raise RuntimeError("Event loop is closed")

    def close(self):
        self._closed = True
        # The async generator hooks go back to the page's loop.
        if self._old_agen_hooks is not None:
            sys.set_asyncgen_hooks(*self._old_agen_hooks)


def settled_here(task):
    """A future of the running loop that ends as task, of another loop, ends."""
    here = asyncio.get_running_loop().create_future()

    def copy(task):
        if here.done():
            return
        if task.cancelled():
            here.cancel()
        elif task.exception() is not None:
            here.set_exception(task.exception())
        else:
            here.set_result(task.result())

    task.add_done_callback(copy)
    return here


async def tidy_up(loop):
    """asyncio.run's last steps: cancel the tasks main left, close async generators."""
    left_behind = list(asyncio.all_tasks(loop) - {asyncio.current_task()})
    for task in left_behind:
        task.cancel()
    results = await asyncio.gather(*left_behind, return_exceptions=True)
    for task, result in zip(left_behind, results):
        if isinstance(result, Exception):
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during asyncio.run() shutdown",
                    "exception": result,
                    "task": task,
                }
            )
    await loop.shutdown_asyncgens()


async def run_at_top_level(main, *, debug=None, loop_factory=None):
    """What asyncio.run(main) does, on a fresh loop, awaited by the page's loop.

    As CPython's, main runs as a task of a new loop, the tasks it left behind are
    cancelled, its async generators closed and the loop closed: two runs never share
    a loop. loop_factory is not used: only a WebLoop runs in a browser page.
    """
    if not inspect.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")
    loop = FreshLoop()
    if debug is not None:
        loop.set_debug(debug)
    task = loop.create_task(main)
    try:
        return await settled_here(task)
    except asyncio.CancelledError:
        task.cancel()  # Stop was pressed: main ends too
        raise
    finally:
        await settled_here(loop.create_task(tidy_up(loop)))
        loop.close()


class AwaitTopLevelRun(ast.NodeTransformer):
    """asyncio.run(x) in module-level code becomes an await: the page's loop runs x.

    Function and class bodies are left alone: there asyncio.run is nested, and
    raises as on CPython. run_at_top_level gives each run a loop of its own.
    """

    def visit_Call(self, node):
        self.generic_visit(node)
        function = node.func
        if (
            isinstance(function, ast.Attribute)
            and function.attr == "run"
            and isinstance(function.value, ast.Name)
            and function.value.id == "asyncio"
        ):
            function = ast.Name("__asyncio_run__", ast.Load())
            call = ast.Call(function, node.args, node.keywords)
            return ast.copy_location(ast.Await(call), node)
        return node

    def leave_alone(self, node):
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = leave_alone
    visit_ClassDef = visit_Lambda = leave_alone


namespace["__asyncio_run__"] = run_at_top_level


class Stream:
    """A text stream that sends what is written to the page."""

    def __init__(self, run_id, name, quiet):
        self.run_id, self.name, self.quiet = run_id, name, quiet

    def write(self, text):
        if text and not self.quiet:
            emit(self.run_id, self.name, text)
        return len(text)

    def flush(self):
        pass


def frames_of(filename, tb):
    """The traceback from the block's first frame on: the runner's own is noise."""
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return tb


class Watch:
    """looptrace.start(post) on entry, looptrace.stop() on exit, if watched."""

    def __init__(self, post):
        self.post = post

    def __enter__(self):
        if self.post is not None:
            import looptrace

            self.tracer = looptrace
            looptrace.start(self.post)

    def __exit__(self, *exception):
        if self.post is not None:
            self.tracer.stop()


async def run_block(run_id, source, filename, quiet, post=None):
    """Run one block in the page's namespace; True if it ended without an error.

    post, if given, receives the loop view's events as JSON strings while it runs.
    """
    global running
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    stdout, stderr = Stream(run_id, "stdout", quiet), Stream(run_id, "stderr", quiet)
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            tree = AwaitTopLevelRun().visit(ast.parse(source, filename))
            ast.fix_missing_locations(tree)
            code = compile(tree, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            with Watch(post):
                result = eval(code, namespace)
                if inspect.iscoroutine(result):
                    running = asyncio.ensure_future(result)
                    await running
            return True
        except asyncio.CancelledError:
            if running is not None and running.cancelled():
                print("Stopped.", file=sys.stderr)
                return False
            raise
        except BaseException as error:
            traceback.print_exception(
                type(error), error, frames_of(filename, error.__traceback__)
            )
            # The frames' locals would keep coroutines alive past the gc below.
            traceback.clear_frames(error.__traceback__)
            return False
        finally:
            running = None
            # Coroutines never awaited warn when collected, and CPython's reference
            # counting collects them at once: collect here, while output is shown.
            gc.collect()


def stop():
    if running is not None:
        running.cancel()
`;

let pyodide = null;
let runBlock = null;
let stopBlock = null;

async function start(indexURL) {
  pyodide = await loadPyodide({ indexURL });
  pyodide.registerJsModule("page", {
    emit: (id, stream, text) => postMessage({ type: "output", id, stream, text }),
  });
  pyodide.runPython(RUNNER);
  runBlock = pyodide.globals.get("run_block");
  stopBlock = pyodide.globals.get("stop");
  const python = pyodide.runPython("import sys; sys.version.split()[0]");
  postMessage({ type: "ready", python, pyodide: pyodide.version });
}

// The loop view's recorder, _static/looptrace.py, imported the first time a
// block is watched: true once it is importable.
const TRACER_DIRECTORY = "/home/pyodide/book";
let tracerLoaded = false;

async function loadTracer(id) {
  if (tracerLoaded) return true;
  try {
    const response = await fetch(new URL("looptrace.py", import.meta.url));
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const source = await response.text();
    pyodide.FS.mkdirTree(TRACER_DIRECTORY);
    pyodide.FS.writeFile(`${TRACER_DIRECTORY}/looptrace.py`, source);
    pyodide.runPython(
      `import importlib, sys\n` +
        `sys.path.insert(0, ${JSON.stringify(TRACER_DIRECTORY)})\n` +
        `importlib.invalidate_caches()\nimport looptrace`,
    );
    tracerLoaded = true;
  } catch (error) {
    const text = `The loop view cannot record: looptrace.py did not load (${error}).\n`;
    postMessage({ type: "output", id, stream: "stderr", text });
  }
  return tracerLoaded;
}

async function run({ id, code, name, quiet, watch }) {
  let post = undefined;
  if (watch && (await loadTracer(id))) {
    post = (event) => postMessage({ type: "loop", id, event: JSON.parse(event) });
  }
  const ok = await runBlock(id, code, name, quiet, post);
  postMessage({ type: "done", id, ok });
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "init") await start(data.indexURL);
    else if (data.type === "run") await run(data);
    else if (data.type === "stop" && stopBlock) stopBlock();
  } catch (error) {
    postMessage({ type: "failed", id: data.id, message: String(error) });
  }
};
