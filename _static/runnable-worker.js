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


async def run_at_top_level(main, *, debug=None, loop_factory=None):
    """What asyncio.run does around main, done on the page's loop.

    Like CPython's, it runs main as a task, then cancels the tasks main left
    behind, and the loop's task factory is back as before (a fresh loop's).
    """
    if not inspect.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")
    loop = asyncio.get_running_loop()
    task_factory = loop.get_task_factory()
    before = asyncio.all_tasks() | {asyncio.current_task()}
    try:
        return await loop.create_task(main)
    finally:
        left_behind = asyncio.all_tasks() - before
        for task in left_behind:
            task.cancel()
        await asyncio.gather(*left_behind, return_exceptions=True)
        loop.set_task_factory(task_factory)


class AwaitTopLevelRun(ast.NodeTransformer):
    """asyncio.run(x) in module-level code becomes an await: the page's loop runs x.

    Function and class bodies are left alone: there asyncio.run is nested, and
    raises as on CPython.
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
