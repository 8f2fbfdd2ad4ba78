"""Record what each task of the running event loop does, for "Watch the loop".

The page's worker (_static/runnable-worker.js) calls `start(post)` before a
watched block runs and `stop()` after it. In between, every task created on the
loop (or on a loop of its kind made meanwhile: the page gives each `asyncio.run`
a fresh loop) runs its coroutine through a `Traced` wrapper, which times each step (from
the moment the loop resumes the task to its next pause), names what the task
waits for when it pauses, and notes when that wait ends. `post` receives the
events as JSON text, a list of them at a time, at most every 50 ms, so that the
page is not flooded; _static/loopview.js draws them. The module runs on
CPython too (tests/test_looptrace.py).

Events, with times `t`, `t0` and `t1` in seconds since `start()`:

- {"kind": "step", "task", "name", "t0", "t1"}: the task ran from t0 to t1;
  `name` is its coroutine's name.
- {"kind": "await", "task", "t", "on"}: it paused, waiting for `on`, such as
  "sleep 0.1", "task Task-3", "queue get" or "a turn" (a bare `sleep(0)`).
- {"kind": "wake", "task", "t", "how"}: what it waited for is over: "done",
  "cancelled" or "failed". The task runs once the loop gets to it.
- {"kind": "done", "task", "t", "how"}: the task "returned", was "cancelled" or
  "raised" the exception it names.
- {"kind": "full", "t", "events"}: the recording stopped there, `events` long.
"""

import asyncio
import collections.abc
import json
import threading
import time

FLUSH_EVERY = 0.05  # seconds: what the page receives, at most this often
# A block that loops forever on sleep(0) would make events without end, and a
# drawing no page can hold: the recording stops at this many.
MAX_EVENTS = 5000

# What a task is waiting for, by the asyncio function it is paused in.
WAITS = {
    "Queue.get": "queue get",
    "Queue.put": "queue put",
    "Queue.join": "queue join",
    "Event.wait": "event wait",
    "Lock.acquire": "lock acquire",
    "Semaphore.acquire": "semaphore acquire",
    "Condition.wait": "condition wait",
    "Barrier.wait": "barrier wait",
    "TaskGroup.__aexit__": "its task group",  # Python 3.11 and 3.12
    "TaskGroup._aexit": "its task group",  # Python 3.13 and newer
    "StreamReader._wait_for_data": "stream data",
    "run_at_top_level": "asyncio.run",  # the page's asyncio.run (runnable-worker.js)
}

# The page's runner (runnable-worker.js) is Python that Pyodide runs from a
# string, without a file name: its own tasks are not the reader's, and not drawn.
PAGE_RUNNER_FILES = {"<exec>"}

recorder = None  # the Recorder, while started


class Recorder:
    """The events of one watched run, and the task factory that makes them.

    It watches the running loop and any other loop of its class that makes a task
    while it records: the page runs each `asyncio.run` on a fresh loop of its own.
    """

    def __init__(self, post, loop):
        self.post, self.loop = post, loop
        self.origin = time.perf_counter()
        self.events = []
        self.count = 0  # events noted so far
        self.flush_pending = None  # the timer that will send the events
        self.factories = {}  # each loop watched -> the task factory it had before
        self.thread = threading.get_ident()
        self.active = True
        self.watch(loop)
        self.watch_new_loops(type(loop))

    def watch(self, loop):
        if self.active and loop not in self.factories:
            self.factories[loop] = loop.get_task_factory()
            loop.set_task_factory(self.make_task)

    def watch_new_loops(self, loop_class):
        """Until stop(), a loop of loop_class is watched once it makes a task."""
        self.loop_class = loop_class
        self.own_create_task = loop_class.__dict__.get("create_task")
        create_task = loop_class.create_task
        recorder = self

        def create_task_watched(loop, coro, **options):
            # Another thread's loop is left alone: the events are this thread's.
            if threading.get_ident() == recorder.thread:
                recorder.watch(loop)
            return create_task(loop, coro, **options)

        loop_class.create_task = create_task_watched

    def now(self):
        return round(time.perf_counter() - self.origin, 6)

    def note(self, event):
        if not self.active:
            return
        self.count += 1
        if self.count > MAX_EVENTS:
            self.active = False  # the tasks run on, unrecorded, until stop()
            event = {"kind": "full", "t": self.now(), "events": MAX_EVENTS}
        self.events.append(event)
        if self.flush_pending is None:
            self.flush_pending = self.loop.call_later(FLUSH_EVERY, self.flush)

    def flush(self):
        self.flush_pending = None
        if self.events:
            events, self.events = self.events, []
            self.post(json.dumps(events))

    def make_task(self, loop, coro, **options):
        """The loop's task factory: the task runs `coro` through a Traced wrapper."""
        code = getattr(coro, "cr_code", None)
        page_runner = code is not None and code.co_filename in PAGE_RUNNER_FILES
        traced = coro if page_runner else Traced(coro, self)
        previous = self.factories.get(loop)
        if previous is not None:
            task = previous(loop, traced, **options)
        else:
            # The loop's own kind of task (Pyodide's loop has one of its own).
            loop.set_task_factory(None)
            try:
                task = loop.create_task(traced, **options)
            finally:
                loop.set_task_factory(self.make_task)
        if not page_runner:
            traced.default_name = task.get_name()
        return task

    def stop(self):
        self.active = False
        if self.flush_pending is not None:
            self.flush_pending.cancel()
        self.flush()
        if self.own_create_task is None:
            del self.loop_class.create_task
        else:
            self.loop_class.create_task = self.own_create_task
        for loop, factory in self.factories.items():
            if loop.get_task_factory() == self.make_task:
                loop.set_task_factory(factory)


class Traced(collections.abc.Coroutine):
    """A coroutine that its task steps through this, to be timed.

    A task calls `send` to run its coroutine up to the next pause and `throw` to
    deliver a cancellation; what the coroutine yields is the future it waits for
    (None for a bare `asyncio.sleep(0)`), and goes on to the task unchanged.
    """

    def __init__(self, coro, recorder):
        self.coro, self.recorder = coro, recorder
        self.name = getattr(coro, "__qualname__", type(coro).__name__)
        self.default_name = self.name  # the task's own name, once it is made

    def send(self, value):
        return self.step(self.coro.send, value)

    def throw(self, *error):
        return self.step(self.coro.throw, *error)

    def close(self):
        return self.coro.close()

    def __await__(self):
        return self.coro.__await__()

    def __repr__(self):
        return repr(self.coro)  # what the reader's code sees of task.get_coro()

    def __getattr__(self, name):
        # cr_frame, cr_code, __qualname__...: what asyncio reads for reprs.
        return getattr(self.coro, name)

    def step(self, resume, *arguments):
        recorder = self.recorder
        if not recorder.active:
            return resume(*arguments)
        task_name = self.task_name()
        t0 = recorder.now()
        try:
            waits_for = resume(*arguments)
        except StopIteration:
            self.note_step(task_name, t0, "returned")
            raise
        except asyncio.CancelledError:
            self.note_step(task_name, t0, "cancelled")
            raise
        except BaseException as error:
            self.note_step(task_name, t0, f"raised {type(error).__name__}")
            raise
        t1 = self.note_step(task_name, t0)
        on = self.waiting_for(waits_for)
        recorder.note({"kind": "await", "task": task_name, "t": t1, "on": on})
        if waits_for is None:  # a bare yield: the task is ready again at once
            recorder.note({"kind": "wake", "task": task_name, "t": t1, "how": "done"})
        elif asyncio.isfuture(waits_for):
            # Added before the task's own callback, so it runs just before the
            # task resumes: the moment the loop hands it the result.
            waits_for.add_done_callback(lambda future: self.woken(task_name, future))
        return waits_for

    def task_name(self):
        task = asyncio.current_task()
        if task is None:  # never so in a task's step, but a name is needed
            return self.default_name
        name = task.get_name()
        # CPython 3.13.0 names a task that a factory made without a name "None".
        return self.default_name if name == "None" else name

    def note_step(self, task_name, t0, ended=None):
        recorder = self.recorder
        t1 = recorder.now()
        recorder.note(
            {"kind": "step", "task": task_name, "name": self.name, "t0": t0, "t1": t1}
        )
        if ended is not None:
            recorder.note({"kind": "done", "task": task_name, "t": t1, "how": ended})
        return t1

    def woken(self, task_name, future):
        if future.cancelled():
            how = "cancelled"
        elif future.exception() is not None:
            how = "failed"
        else:
            how = "done"
        event = {"kind": "wake", "task": task_name, "t": self.recorder.now()}
        self.recorder.note({**event, "how": how})

    def waiting_for(self, future):
        """What the task paused for, in a few words, from the future it yielded."""
        if future is None:
            return "a turn"
        if isinstance(future, asyncio.Task):
            return f"task {future.get_name()}"
        code, frame = innermost(self.coro)
        where = code.co_qualname if code is not None else ""
        if where == "sleep" and frame is not None:
            return f"sleep {frame.f_locals.get('delay', '?')}"
        if where in WAITS:
            return WAITS[where]
        kind = type(future).__name__.lstrip("_")
        if kind == "GatheringFuture":
            return "gather"
        return f"{kind} in {where}" if where else kind


def innermost(coro):
    """Code and frame of the coroutine (or generator) at the bottom of the awaits."""
    code = frame = None
    while coro is not None:
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        inner = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        if inner is None or not hasattr(inner, "send"):
            break
        if not (hasattr(inner, "cr_code") or hasattr(inner, "gi_code")):
            break
        coro = inner
    return code, frame


def start(post):
    """Record the running loop's tasks created from now on, posting their events."""
    global recorder
    if recorder is not None:
        stop()
    recorder = Recorder(post, asyncio.get_running_loop())


def stop():
    """Post what is left, and give the loops back their task factories."""
    global recorder
    if recorder is not None:
        recorder.stop()
        recorder = None
