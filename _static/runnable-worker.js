// Runs a page's code blocks on Pyodide, in a Web Worker so that the page stays
// responsive and a runaway block can be ended by terminating the worker.
//
// Messages in: {type: "init", indexURL, interruptBuffer}, {type: "run", id, code, name, quiet,
// watch}, {type: "stop"}. Messages out: {type: "ready", python, pyodide},
// {type: "output", id, stream, text}, {type: "loop", id, event} (while a watched
// block runs: what _static/looptrace.py records), {type: "done", id, ok, stopped,
// error, traceback} (error: the traceback's last line), {type: "failed", message}.

import { loadPyodide } from "./pyodide/pyodide.mjs";

// The Python side: one namespace for the page, and CPython's behaviour put back
// where Pyodide changes it.
const RUNNER = String.raw`
import ast
import asyncio
import collections
import contextlib
import gc
import heapq
import inspect
import json
import linecache
import math
import sys
import time
import traceback
import warnings

from page import emit
from pyodide.ffi import can_run_sync, run_sync
from pyodide import webloop
from pyodide.webloop import WebLoop

namespace = {"__name__": "__main__", "__builtins__": __builtins__}
PAGE_LOOP = asyncio.get_event_loop()  # Pyodide's WebLoop, running from the start
running = None  # the task of the block that awaits, while it runs
current_main = None  # the task of the asyncio.run that runs, if one does
stop_pressed = False
in_notebook = False  # the page is a notebook's: cells run as in Jupyter


def blocking_sleep(seconds):
    """CPython's time.sleep blocks the thread, and so the event loop: so does this."""
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


time.sleep = blocking_sleep


def plain_future(loop):
    """A future as CPython's loops make them (WebLoop's have a callback of its own).

    WebLoop's callback reports a task's exception as soon as the task ends if
    nothing awaits it yet; CPython reports it only if nothing ever retrieves it,
    when the task is destroyed. It also shows in the future's repr.
    """
    loop._check_closed()
    return asyncio.Future(loop=loop)


def plain_task(loop, coro, **options):
    """A task as CPython's loops make them, by the loop's task factory if it has one."""
    loop._check_closed()
    if loop._task_factory is not None:
        return loop._task_factory(loop, coro, **options)
    return asyncio.Task(coro, loop=loop, **options)


WebLoop.create_future = plain_future
WebLoop.create_task = plain_task


# CPython's scheduling, put back. WebLoop hands each callback to the browser on its
# own (setTimeout), so call_later(0) runs before an earlier call_soon, and each of
# a chain of callbacks waits the browser's clamp of a few milliseconds. These run
# the loop as CPython's _run_once does: one browser task runs, in order, every
# callback that was ready when it began, after moving the due timers behind them.


def loop_queues(loop):
    """The loop's ready callbacks and its timers (a heap), made on first use."""
    if "_ready" not in loop.__dict__:
        loop._ready = collections.deque()
        loop._timers = []
        loop._wake_at = None  # the loop time of the earliest wake-up asked for
    return loop._ready, loop._timers


def call_soon(loop, callback, *args, context=None):
    loop._check_closed()
    ready, _ = loop_queues(loop)
    handle = asyncio.Handle(callback, args, loop, context)
    ready.append(handle)
    wake_at(loop, loop.time())
    return handle


def call_at(loop, when, callback, *args, context=None):
    loop._check_closed()
    _, timers = loop_queues(loop)
    handle = asyncio.TimerHandle(when, callback, args, loop, context)
    if when != math.inf:
        heapq.heappush(timers, handle)
        handle._scheduled = True
        wake_at(loop, when)
    return handle


def call_later(loop, delay, callback, *args, context=None):
    return loop.call_at(loop.time() + delay, callback, *args, context=context)


def wake_at(loop, when):
    """Have the browser run the loop once at loop time when, if not sooner."""
    if loop._wake_at is not None and loop._wake_at <= when:
        return
    loop._wake_at = when
    delay_ms = max(0.0, (when - loop.time()) * 1000)
    webloop.scheduleCallback(
        webloop.create_once_callable(lambda: run_once(loop), _may_syncify=True),
        min(delay_ms, 2**31 - 1),
    )


def run_once(loop):
    """One iteration of the loop, as CPython's BaseEventLoop._run_once."""
    ready, timers = loop_queues(loop)
    loop._wake_at = None
    loop._install_running_loop()
    loop._install_asyncgen_hooks()
    now = loop.time()
    while timers and timers[0]._cancelled:
        heapq.heappop(timers)._scheduled = False
    while timers and timers[0]._when <= now:
        handle = heapq.heappop(timers)
        handle._scheduled = False
        ready.append(handle)
    for _ in range(len(ready)):
        handle = ready.popleft()
        if handle._cancelled:
            continue
        try:
            handle._run()
        except KeyboardInterrupt:
            pass  # the task it interrupted has it: its awaiter sees it
    if ready:
        wake_at(loop, loop.time())
    elif timers:
        wake_at(loop, timers[0]._when)


def timer_cancelled(loop, handle):
    pass  # a cancelled timer is dropped when it reaches the heap's top


WebLoop.call_soon = call_soon
WebLoop.call_at = call_at
WebLoop.call_later = call_later
WebLoop._timer_handle_cancelled = timer_cancelled


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

    def run_until_complete(self, future):
        self._check_closed()
        if a_loop_runs():
            raise RuntimeError("This event loop is already running")
        return run_now(settled_here(asyncio.ensure_future(future, loop=self)))


def settled_here(task):
    """A future of the page's loop that ends as task, of another loop, ends."""
    here = PAGE_LOOP.create_future()

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
    global current_main
    loop = FreshLoop()
    if debug is not None:
        loop.set_debug(debug)
    task = current_main = loop.create_task(main)
    try:
        return await settled_here(task)
    except asyncio.CancelledError:
        task.cancel()  # Stop was pressed: main ends too
        raise
    finally:
        current_main = None
        # Not loop.create_task: a task factory main set (an eager one, say) would
        # start the task at once, here, where the page's loop runs.
        await settled_here(asyncio.Task(tidy_up(loop), loop=loop))
        loop.close()
        use_page_loop()


def use_page_loop():
    """The page's loop is the running one again, after a fresh loop's callbacks."""
    asyncio._set_running_loop(PAGE_LOOP)


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

ASYNC_CODE = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def a_loop_runs():
    """Would a loop be running here on CPython?

    On the page a loop always runs. On CPython one runs when a coroutine is on the
    stack, or a loop's callback: the nearest coroutine frame up the stack tells. A
    block's own module code (a coroutine if it awaits at top level) is not one.
    """
    if in_notebook:
        return True  # Jupyter's kernel runs its loop under every cell
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if code.co_flags & ASYNC_CODE:
            top_level = code.co_name == "<module>" and code.co_filename.startswith(
                "<block "
            )
            return not (top_level or code is run_block.__code__)
        frame = frame.f_back
    return True  # a callback of the loop


def run_now(awaitable):
    """Wait for awaitable in a function, not a coroutine: JavaScript's stack switching
    (JSPI) lets the loops run meanwhile."""
    if not can_run_sync():
        raise RuntimeError(
            "this browser cannot wait inside a function (it lacks JSPI): "
            "run this block on your machine"
        )
    caller_loop = asyncio._get_running_loop()
    try:
        # An error that reached run_sync would be printed on its way through
        # JavaScript: it comes back as a value, and is raised here.
        ended_well, result = run_sync(outcome(awaitable))
    finally:
        asyncio._set_running_loop(caller_loop)
    if not ended_well:
        raise result
    return result


async def outcome(awaitable):
    """(True, what awaitable returns), or (False, the exception it raises)."""
    try:
        return True, await awaitable
    except BaseException as error:
        return False, error


def asyncio_run(main, *, debug=None, loop_factory=None):
    """asyncio.run called in a function: CPython's error if a loop runs, or a run."""
    if a_loop_runs():
        raise RuntimeError("asyncio.run() cannot be called from a running event loop")
    return run_now(run_at_top_level(main, debug=debug))


class Runner:
    """asyncio.Runner on a fresh loop of the page's, as asyncio_run does for one run."""

    def __init__(self, *, debug=None, loop_factory=None):
        self._debug = debug
        self._loop = None
        self._closed = False

    def __enter__(self):
        self._lazy_init()
        return self

    def __exit__(self, *exception):
        self.close()

    def _lazy_init(self):
        if self._closed:
            raise RuntimeError("Runner is closed")
        if self._loop is None:
            self._loop = FreshLoop()
            if self._debug is not None:
                self._loop.set_debug(self._debug)

    def get_loop(self):
        self._lazy_init()
        return self._loop

    def run(self, coro, *, context=None):
        if not inspect.iscoroutine(coro):
            raise ValueError(f"a coroutine was expected, got {coro!r}")
        if a_loop_runs():
            raise RuntimeError(
                "Runner.run() cannot be called from a running event loop"
            )
        self._lazy_init()
        task = self._loop.create_task(coro, context=context)
        try:
            return run_now(settled_here(task))
        except KeyboardInterrupt:
            task.cancel()
            raise

    def close(self):
        if self._loop is None or self._closed:
            self._closed = True
            return
        try:
            run_now(settled_here(asyncio.Task(tidy_up(self._loop), loop=self._loop)))
        finally:
            self._loop.close()
            self._closed = True


asyncio.run = asyncio_run
asyncio.Runner = asyncio.runners.Runner = Runner


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


def runner_frame(frame):
    """A frame of this runner (its source is "<exec>"): noise in a reader's traceback."""
    return frame.filename == "<exec>"


def report(error, filename):
    """The traceback from the block's first frame on, the runner's frames left out."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    report = traceback.TracebackException(type(error), error, tb)
    kept = [frame for frame in report.stack if not runner_frame(frame)]
    report.stack = traceback.StackSummary.from_list(kept)
    return "".join(report.format()), list(report.format_exception_only())[-1].strip()


def show_warning(message, category, filename, lineno, file=None, line=None):
    """A warning as the book's {output} blocks show it: its category and message."""
    print(f"{category.__name__}: {message}", file=sys.stderr)


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


async def run_block(run_id, source, filename, quiet, post=None, display=False):
    """Run one block in the page's namespace, and say how it ended, as JSON.

    {"ok": true} if it ended without an error; else "error", the traceback's last
    line, and "traceback", all of it (or "stopped": true, if Stop cancelled it).
    post, if given, receives the loop view's events as JSON strings while it runs.
    """
    global running, stop_pressed, in_notebook
    stop_pressed = False
    in_notebook = display
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    stdout, stderr = Stream(run_id, "stdout", quiet), Stream(run_id, "stderr", quiet)
    with (
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
        warnings.catch_warnings(),
    ):
        # Every warning, every time, as the book's tests show them.
        warnings.simplefilter("always")
        warnings.showwarning = show_warning
        try:
            code = compile_block(source, filename, display)
            with Watch(post):
                result = run_synchronously(code, display)
                if inspect.iscoroutine(result):
                    running = asyncio.ensure_future(result)
                    await running
            return json.dumps({"ok": True})
        except asyncio.CancelledError:
            if stop_pressed:
                return json.dumps({"ok": False, "stopped": True})
            raise
        except KeyboardInterrupt:
            # Only Stop interrupts (the page's shared memory): the block stopped.
            return json.dumps({"ok": False, "stopped": True})
        except BaseException as error:
            text, last_line = report(error, filename)
            # The frames' locals would keep coroutines alive past the gc below.
            traceback.clear_frames(error.__traceback__)
            return json.dumps({"ok": False, "error": last_line, "traceback": text})
        finally:
            running = None
            # Coroutines never awaited warn when collected, and CPython's reference
            # counting collects them at once: collect here, while output is shown.
            gc.collect()


def compile_block(source, filename, notebook):
    """The block's code; a coroutine's if it awaits at top level.

    Where the browser can wait inside a function (JSPI), asyncio.run runs as it
    is; elsewhere a module-level asyncio.run(x) becomes an await. A notebook's
    cell runs as in Jupyter: its kernel's loop runs (asyncio.run raises), and a
    last statement that is an expression shows its value.
    """
    tree = ast.parse(source, filename)
    display = notebook
    if not can_run_sync() and not notebook:
        tree = AwaitTopLevelRun().visit(tree)
    if display and tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1]
        show = ast.Call(ast.Name("__display__", ast.Load()), [last.value], [])
        tree.body[-1] = ast.copy_location(ast.Expr(show), last)
    tree = ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def display_value(value):
    """What a notebook shows of a cell's last expression: its repr, unless None."""
    if value is not None:
        namespace["_"] = value
        print(repr(value))


namespace["__display__"] = display_value


def run_synchronously(code, notebook):
    """Run a block's module code, with no loop running, as in a CPython script
    (a notebook's kernel runs a loop all the time: there the page's runs).

    A block that awaits at top level gives back its coroutine, which runs on the
    page's loop, as in python -m asyncio.
    """
    if not notebook:
        asyncio._set_running_loop(None)
    try:
        return eval(code, namespace)
    finally:
        use_page_loop()


def stop():
    global stop_pressed
    stop_pressed = True
    for task in (running, current_main):
        if task is not None:
            task.cancel()
`;

let pyodide = null;
let runBlock = null;
let usePageLoop = null;
let stopBlock = null;

async function start(indexURL, interruptBuffer) {
  pyodide = await loadPyodide({ indexURL });
  // The page writes 2 (SIGINT) here to stop a block that never awaits.
  if (interruptBuffer) pyodide.setInterruptBuffer(interruptBuffer);
  pyodide.registerJsModule("page", {
    emit: (id, stream, text) => postMessage({ type: "output", id, stream, text }),
  });
  pyodide.runPython(RUNNER);
  runBlock = pyodide.globals.get("run_block");
  usePageLoop = pyodide.globals.get("use_page_loop");
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

async function run({ id, code, name, quiet, watch, display }) {
  let post = undefined;
  if (watch && (await loadTracer(id))) {
    post = (event) => postMessage({ type: "loop", id, event: JSON.parse(event) });
  }
  usePageLoop(); // a block ends on its fresh loop's last callback
  const ended = JSON.parse(await runBlock(id, code, name, quiet, post, display));
  postMessage({ type: "done", id, ...ended });
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "init") await start(data.indexURL, data.interruptBuffer);
    else if (data.type === "run") await run(data);
    else if (data.type === "stop" && stopBlock) stopBlock();
  } catch (error) {
    postMessage({ type: "failed", id: data.id, message: String(error) });
  }
};
