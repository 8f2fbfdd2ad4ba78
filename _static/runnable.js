// Run, Edit, Reset and Stop for the code blocks _ext/runnable.py marks.
//
// The blocks of a page share one namespace, in page order, as the tests run them:
// running a block first runs, silently, the earlier blocks that have not run.
// Python (Pyodide, from _static/pyodide/) loads in a worker the first time the
// reader presses Run, and not before.
(() => {
  "use strict";

  const STATIC = new URL(".", document.currentScript.src);
  // A block that has not ended this long after its task was cancelled (or, where
  // the page can interrupt it, after the interrupt) never gives control back (a
  // busy loop): Python is restarted, and Stop takes about a second at most.
  const STOP_GRACE_MS = 800;
  // Stop cancels first; a block still running this long after is interrupted
  // (KeyboardInterrupt), where the page can share memory with the worker.
  const INTERRUPT_AFTER_MS = 150;
  const SIGINT = 2;
  const versions = window.RUNNABLE_VERSIONS || {};
  let loopView = null; // window.BookLoopView, if loopview.js came before this
  const blocks = [];
  let python = null; // {worker, ready: Promise}, once Run was first pressed
  let nextRunId = 1;
  const pending = new Map(); // run id -> {block, resolve}
  let busy = false;

  function button(label, description, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = label;
    element.setAttribute("aria-label", description);
    element.addEventListener("click", onClick);
    return element;
  }

  // A button that stays pressed: Enter and Space toggle it, as any button.
  function toggle(label, description) {
    const element = button(label, description, () => {
      const pressed = element.getAttribute("aria-pressed") === "true";
      element.setAttribute("aria-pressed", String(!pressed));
    });
    element.setAttribute("aria-pressed", "false");
    return element;
  }

  function startPython(block) {
    const worker = new Worker(new URL("runnable-worker.js", STATIC), {
      type: "module",
    });
    const session = { worker };
    session.ready = new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => {
        if (data.type === "ready") {
          showVersion(data);
          resolve();
        } else if (data.type === "output") {
          const run = pending.get(data.id);
          if (run) run.block.write(data.stream, data.text);
        } else if (data.type === "loop") {
          const run = pending.get(data.id);
          if (run && loopView) loopView.event(run.block.element, data.event);
        } else if (data.type === "done" || data.type === "failed") {
          const run = pending.get(data.id);
          if (data.type === "failed" && !run) reject(new Error(data.message));
          if (run) {
            pending.delete(data.id);
            run.resolve(
              data.type === "done" ? data : { ok: false, traceback: data.message + "\n" },
            );
          }
        }
      };
      worker.onerror = (event) => reject(new Error(event.message));
    });
    // A page that is cross-origin isolated can share memory with its worker: Python
    // polls it, and Stop can interrupt a block that never awaits.
    session.interrupt = self.crossOriginIsolated
      ? new Int32Array(new SharedArrayBuffer(4))
      : null;
    worker.postMessage({
      type: "init",
      indexURL: new URL("pyodide/", STATIC).href,
      interruptBuffer: session.interrupt,
    });
    block.status("Loading Python in your browser (about 13 MB, once)…", true);
    return session;
  }

  function restartPython() {
    python.worker.terminate();
    python = null;
    for (const [, run] of pending) run.resolve({ ok: false });
    pending.clear();
    for (const block of blocks) block.hasRun = false;
  }

  function runInWorker(block, quiet, watch = false) {
    const id = nextRunId++;
    if (python.interrupt) Atomics.store(python.interrupt, 0, 0);
    return new Promise((resolve) => {
      pending.set(id, { block, resolve });
      python.worker.postMessage({
        type: "run",
        id,
        code: block.code(),
        name: `<block ${block.number}>`,
        quiet,
        watch,
        display: Boolean(versions.notebook), // a cell shows its last value
      });
    });
  }

  // The loop view (_static/loopview.js), when the page has it: it draws what
  // the worker records while a watched block runs.
  async function runWatched(block) {
    const pressed = block.watchButton?.getAttribute("aria-pressed") === "true";
    const watch = Boolean(loopView && pressed);
    if (watch) loopView.begin(block.element);
    try {
      return await runInWorker(block, false, watch);
    } finally {
      if (watch) loopView.end(block.element);
    }
  }

  // How the reader's run ended, shown under the block and told to the page: a
  // "runnable:ran" event on the block, with what it printed (stdout and stderr
  // in order, the traceback apart) and the traceback's last line, if it raised.
  function showEnd(block, ended) {
    if (ended.traceback) block.write("stderr", ended.traceback, false);
    if (ended.stopped) block.write("stderr", "Stopped.\n", false);
    const detail = { output: block.transcript, error: ended.error || null };
    block.element.dispatchEvent(new CustomEvent("runnable:ran", { detail }));
  }

  // Hosting that sends no isolation headers gets them from a service worker of the
  // site's (coi-serviceworker.js, at its root): pages opened from then on can share
  // memory with Python, and Stop can interrupt a busy block without a restart.
  function isolateNextPages() {
    if (self.crossOriginIsolated || !("serviceWorker" in navigator)) return;
    if (!window.isSecureContext) return;
    navigator.serviceWorker
      .register(new URL("../coi-serviceworker.js", STATIC))
      .catch(() => {}); // without it, Stop restarts Python instead
  }

  async function run(block) {
    if (busy) return;
    busy = true;
    block.clear();
    block.stopped = false;
    setRunning(block, true);
    try {
      if (!python) {
        isolateNextPages();
        python = startPython(block);
      }
      const session = python;
      await session.ready;
      block.status("Running…");
      for (const earlier of blocks.slice(0, blocks.indexOf(block))) {
        if (!earlier.hasRun && python === session) {
          await runInWorker(earlier, true);
          earlier.hasRun = python === session;
        }
      }
      if (python === session) {
        if (block.storedOutput) block.storedOutput.hidden = true;
        const ended = await runWatched(block);
        block.hasRun = python === session;
        showEnd(block, ended);
        block.ended = ended;
      }
      block.status(block.stopped ? "Stopped." : "Done.");
    } catch (error) {
      block.ended = { ok: false, error: `Python could not start: ${error.message}` };
      block.status(block.ended.error);
      if (python) restartPython();
    } finally {
      setRunning(block, false);
      busy = false;
    }
    return block.ended;
  }

  // A notebook's Run all: every cell in order, as Jupyter does, up to the first
  // that raises without being tagged to (raises-exception) or is stopped. The
  // page hears "runnable:ran-all" at the end, with the number of the cell that
  // ended it early (or null).
  async function runAll() {
    if (busy) return;
    let endedAt = null;
    for (const block of blocks.filter((each) => !each.importsOnly)) {
      const ended = await run(block);
      if (!ended || ended.stopped || (!ended.ok && !block.mayRaise)) {
        endedAt = block.number;
        break;
      }
    }
    const detail = { endedAt };
    document.dispatchEvent(new CustomEvent("runnable:ran-all", { detail }));
  }

  // A notebook's Restart: a new Python, every cell's output cleared.
  function restart() {
    if (python) restartPython();
    for (const block of blocks.filter((each) => !each.importsOnly)) {
      block.clear();
      if (block.storedOutput) block.storedOutput.hidden = false;
    }
  }

  function notebookControls() {
    const controls = document.createElement("div");
    controls.className = "runnable-controls runnable-notebook";
    controls.setAttribute("role", "group");
    controls.setAttribute("aria-label", "Notebook");
    const runAllButton = button("Run all", "Run all cells", runAll);
    const restartButton = button("Restart", "Restart Python and clear outputs", restart);
    controls.append(runAllButton, restartButton);
    return controls;
  }

  function stop(block) {
    if (!python || !block.running) return;
    block.stopped = true;
    block.status("Stopping…");
    python.worker.postMessage({ type: "stop" });
    const session = python;
    if (session.interrupt) {
      setTimeout(() => {
        if (block.running && python === session) {
          Atomics.store(session.interrupt, 0, SIGINT);
        }
      }, INTERRUPT_AFTER_MS);
    }
    // An interrupt gets as long to work as a cancellation: on a busy machine the
    // worker can take most of a second to notice it.
    const grace = session.interrupt ? INTERRUPT_AFTER_MS + STOP_GRACE_MS : STOP_GRACE_MS;
    setTimeout(() => {
      if (block.running && python === session) {
        // The block never gave control back to the loop: end the worker.
        restartPython();
        block.write(
          "stderr",
          "Stopped: Python was restarted; the page's blocks run again on the next Run.\n",
        );
      }
    }, grace);
  }

  function setRunning(block, running) {
    block.running = running;
    for (const other of blocks) if (other.runButton) other.runButton.disabled = running;
    block.stopButton.disabled = !running;
    block.element.dataset.state = running ? "running" : "idle";
  }

  function showVersion({ python: version, pyodide }) {
    for (const note of document.querySelectorAll(".runnable-python")) {
      note.textContent = `Python ${version} (Pyodide ${pyodide}) is running in this page.`;
    }
  }

  function versionNote() {
    const note = document.createElement("p");
    note.className = "runnable-note";
    const where = versions.python
      ? `Python ${versions.python} (Pyodide ${versions.pyodide})`
      : "Pyodide";
    const what = versions.notebook ? "code cells" : "code blocks";
    note.innerHTML =
      `The ${what} with a <strong>Run</strong> button run in your browser, on ` +
      `${where}, a CPython built for WebAssembly; it loads the first time you press ` +
      `Run. A page's ${what} share their names, in page order. Those that need ` +
      "threads, sockets, subprocesses or signals run on your machine only. ";
    const status = document.createElement("span");
    status.className = "runnable-python";
    note.append(status);
    return note;
  }

  function makeRunnable(element, number) {
    const pre = element.querySelector("pre");
    const original = pre.textContent;
    const controls = document.createElement("div");
    controls.className = "runnable-controls";
    controls.setAttribute("role", "group");
    controls.setAttribute("aria-label", `Block ${number}`);
    const output = document.createElement("div");
    output.className = "runnable-output";
    output.setAttribute("aria-live", "polite");
    const status = document.createElement("p");
    status.className = "runnable-status";
    const stdout = document.createElement("pre");
    stdout.className = "runnable-stdout";
    const stderr = document.createElement("pre");
    stderr.className = "runnable-stderr";
    output.append(status, stdout, stderr);

    let editor = null;
    const cell = element.closest("div.cell"); // in a notebook's page
    const block = {
      element,
      number,
      hasRun: false,
      running: false,
      ended: null, // how its last run ended
      mayRaise: Boolean(cell?.classList.contains("tag_raises-exception")),
      storedOutput: cell?.querySelector(".cell_output") || null,
      code: () => (editor ? editor.value : original),
      transcript: "", // what the block printed, both streams in order
      clear() {
        block.transcript = "";
        stdout.textContent = stderr.textContent = status.textContent = "";
        stdout.hidden = stderr.hidden = true;
      },
      write(stream, text, printed = true) {
        if (printed) block.transcript += text;
        const target = stream === "stderr" ? stderr : stdout;
        target.hidden = false;
        target.textContent += text;
      },
      status(text, loading = false) {
        status.textContent = text;
        if (loading) {
          const bar = document.createElement("progress");
          bar.setAttribute("aria-label", "Loading Python");
          status.append(" ", bar);
        }
      },
    };
    block.runButton = button("Run", `Run block ${number}`, () => run(block));
    const editButton = button("Edit", `Edit block ${number}`, () => {
      if (!editor) {
        editor = document.createElement("textarea");
        editor.className = "runnable-editor";
        editor.spellcheck = false;
        editor.value = original;
        editor.rows = original.split("\n").length + 1;
        editor.setAttribute("aria-label", `Code of block ${number}, editable`);
        element.after(editor);
        element.hidden = true;
      }
      editor.focus();
    });
    const resetButton = button("Reset", `Reset block ${number}`, () => {
      if (editor) {
        editor.remove();
        editor = null;
        element.hidden = false;
      }
      block.clear();
    });
    block.stopButton = button("Stop", `Stop block ${number}`, () => stop(block));
    block.stopButton.disabled = true;
    controls.append(block.runButton, editButton, resetButton, block.stopButton);
    if (loopView) {
      block.watchButton = toggle("Watch the loop", `Watch the loop of block ${number}`);
      controls.append(block.watchButton);
    }
    element.before(controls);
    element.after(output);
    block.clear();
    return block;
  }

  function markForMachine(element, number) {
    const note = document.createElement("p");
    note.className = "runs-on-machine-note";
    note.textContent =
      "Runs on your machine: this block needs threads, sockets, subprocesses or " +
      "signals, which a browser page does not have.";
    element.before(note);
    // Its imports still run, silently, in page order: later blocks use them.
    const imports = element
      .querySelector("pre")
      .textContent.split("\n")
      .filter((line) => /^(import|from) [\w.]+/.test(line) && !line.endsWith("("));
    if (!imports.length) return null;
    const code = imports.join("\n") + "\n";
    return { element, number, hasRun: false, importsOnly: true, code: () => code };
  }

  function setUp() {
    const runnable = document.querySelectorAll("div.runnable, div.runs-on-machine");
    if (!runnable.length) return;
    loopView = window.BookLoopView || null;
    const title = document.querySelector("article h1");
    if (title) title.after(versionNote());
    if (versions.notebook && title) title.nextElementSibling.after(notebookControls());
    let number = 0;
    for (const element of runnable) {
      number += 1;
      if (element.classList.contains("runnable")) {
        blocks.push(makeRunnable(element, number));
      } else {
        const imports = markForMachine(element, number);
        if (imports) blocks.push(imports);
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
