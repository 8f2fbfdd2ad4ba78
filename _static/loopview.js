// "Watch the loop": a live timeline of the tasks of a block while it runs.
//
// _static/runnable.js calls BookLoopView.begin(block) when a watched block
// starts, event(block, events) for each batch that _static/looptrace.py posts
// from the worker, and end(block) when the block is over. The view, under the
// block's output, draws one row per task as the build-time timeline figures do
// (_ext/book.py): a bar for each step the task ran, in the row's colour, and a
// thin line while it waited, labelled with what it awaited. A table under it
// says the same in words, for screen readers and for anyone who wants numbers.
(() => {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  // matplotlib's colours C0, C1...: the figures' rows are drawn in these.
  const COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
  ];
  // The drawing is as wide as the page lets it be, so its text keeps its size.
  const MIN_WIDTH = 320;
  const ROW = 26;
  const AXIS = 34;
  const REDRAW_MS = 100; // while it runs, at most this often
  const views = new WeakMap(); // block element -> its view
  let nextId = 1;

  function element(tag, attributes = {}, text = null) {
    const made = tag.startsWith("svg:")
      ? document.createElementNS(SVG, tag.slice(4))
      : document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      made.setAttribute(name, value);
    }
    if (text !== null) made.textContent = text;
    return made;
  }

  // A task's row: its steps, its waits, and how it ended.
  function newTask(name, index) {
    return {
      name,
      index,
      label: name,
      steps: [], // [t0, t1, its place among all the steps]
      waits: [], // {t, on, until: t or null, how}
      ended: null, // "returned", "cancelled", "raised X"
    };
  }

  function taskOf(view, name) {
    if (!view.tasks.has(name)) view.tasks.set(name, newTask(name, view.tasks.size));
    return view.tasks.get(name);
  }

  // A coroutine's name as the row label shows it: a block's own code is a
  // coroutine too, when it awaits at the top level.
  function coroutineName(name) {
    return name === "<module>" ? "your block" : name.replace(/^.*<locals>\./, "");
  }

  function record(view, event) {
    if (event.kind === "full") {
      view.full = event;
      return;
    }
    const task = taskOf(view, event.task);
    if (event.kind === "step") {
      const coroutine = coroutineName(event.name);
      task.label = coroutine === task.name ? task.name : `${task.name} · ${coroutine}`;
      task.steps.push([event.t0, event.t1, view.stepCount++]);
      view.latest = Math.max(view.latest, event.t1);
    } else if (event.kind === "await") {
      task.waits.push({ t: event.t, on: event.on, until: null, how: null });
    } else if (event.kind === "wake") {
      const open = task.waits.findLast((wait) => wait.until === null);
      if (open) Object.assign(open, { until: event.t, how: event.how });
      view.latest = Math.max(view.latest, event.t);
    } else if (event.kind === "done") {
      task.ended = event.how;
    }
  }

  // Tick marks at 1, 2 or 5 times a power of ten, about six of them.
  function tickStep(span) {
    const rough = span / 6;
    const power = 10 ** Math.floor(Math.log10(rough));
    return [1, 2, 5, 10].map((factor) => factor * power).find((step) => step >= rough);
  }

  function milliseconds(seconds) {
    const ms = seconds * 1000;
    return ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
  }

  function wordsFor(task, recording) {
    const running = task.steps.reduce((sum, [t0, t1]) => sum + t1 - t0, 0);
    const times = task.steps.length === 1 ? "once" : `${task.steps.length} times`;
    const waited = [...new Set(task.waits.map((wait) => wait.on))].join(", ");
    return [
      `ran ${times}, ${milliseconds(running)} ms in all`,
      waited ? `awaited ${waited}` : "awaited nothing",
      task.ended || (recording ? "still running" : "its end was not recorded"),
    ];
  }

  function draw(view) {
    const tasks = [...view.tasks.values()];
    const now = view.running ? Math.max(view.latest, liveTime(view)) : view.latest;
    const span = Math.max(now, 0.001) * 1.02;
    const width = Math.max(MIN_WIDTH, view.figure.clientWidth - 26);
    const labelWidth = Math.min(
      220,
      0.4 * width,
      12 + 7 * Math.max(8, ...tasks.map((task) => task.label.length)),
    );
    const plotWidth = width - labelWidth - 12;
    const x = (t) => labelWidth + (Math.min(t, span) / span) * plotWidth;
    const height = tasks.length * ROW + AXIS + 4;
    const svg = view.svg;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.replaceChildren(view.title, view.desc);

    const step = tickStep(span);
    const grid = element("svg:g", { class: "loopview-axis" });
    for (let t = 0; t <= span; t += step) {
      grid.append(
        element("svg:line", {
          x1: x(t), x2: x(t), y1: 0, y2: tasks.length * ROW, class: "loopview-grid",
        }),
        element(
          "svg:text",
          { x: x(t), y: tasks.length * ROW + 14, "text-anchor": "middle" },
          milliseconds(t).replace(/\.0+$/, ""),
        ),
      );
    }
    grid.append(
      element(
        "svg:text",
        { x: labelWidth + plotWidth, y: tasks.length * ROW + 30, "text-anchor": "end" },
        "milliseconds since the recording started",
      ),
    );
    svg.append(grid);

    for (const task of tasks) {
      const colour = COLOURS[task.index % COLOURS.length];
      const top = task.index * ROW;
      const middle = top + ROW / 2;
      const row = element("svg:g", {
        class: "loopview-row",
        "data-task": task.name,
        style: `--row-colour: ${colour}`,
      });
      row.append(
        element("svg:text", { x: labelWidth - 8, y: middle + 4, "text-anchor": "end" },
          task.label),
      );
      for (const wait of task.waits) {
        const until = wait.until ?? now;
        const line = element("svg:g", {
          class: "loopview-wait",
          "data-on": wait.on,
          "data-t": wait.t,
          "data-until": wait.until ?? "",
        });
        line.append(
          element("svg:title", {},
            `${task.name} awaited ${wait.on} from ${milliseconds(wait.t)} ms` +
              (wait.until === null ? ", still waiting" :
                ` to ${milliseconds(wait.until)} ms (${wait.how})`)),
          element("svg:line", { x1: x(wait.t), x2: x(until), y1: middle, y2: middle }),
        );
        if (wait.until !== null) {
          line.append(element("svg:line", {
            class: "loopview-wake", x1: x(until), x2: x(until), y1: middle - 5, y2: middle + 5,
          }));
        }
        // The label, where the line is long enough to hold it.
        if (x(until) - x(wait.t) > 7 * wait.on.length + 12) {
          line.append(element("svg:text", { x: x(wait.t) + 5, y: middle - 4 }, wait.on));
        }
        row.append(line);
      }
      for (const [t0, t1, order] of task.steps) {
        const bar = element("svg:rect", {
          class: "loopview-run",
          x: x(t0),
          y: top + 5,
          width: Math.max(x(t1) - x(t0), 1.5), // a step too short to see still shows
          height: ROW - 10,
          "data-t0": t0,
          "data-t1": t1,
          "data-order": order, // times are coarse in a browser: ties are common
        });
        bar.append(element("svg:title", {},
          `${task.name} ran from ${milliseconds(t0)} to ${milliseconds(t1)} ms`));
        row.append(bar);
      }
      svg.append(row);
    }
    describe(view, tasks, now);
  }

  // The same, in words: the drawing's description and the table under it.
  function describe(view, tasks, now) {
    const running = view.running ? "so far" : "in all";
    view.desc.textContent =
      `${tasks.length} tasks over ${milliseconds(now)} ms ${running}. ` +
      tasks.map((task) => `${task.label}: ${wordsFor(task, view.running).join("; ")}.`).join(" ");
    const rows = tasks.map((task) => {
      const row = element("tr");
      row.append(element("th", { scope: "row" }, task.label));
      for (const part of wordsFor(task, view.running)) {
        row.append(element("td", {}, part));
      }
      return row;
    });
    view.body.replaceChildren(...rows);
  }

  // Worker time, guessed on the page's clock, so the axis grows between batches.
  function liveTime(view) {
    return view.clockOrigin === null ? 0 : performance.now() / 1000 - view.clockOrigin;
  }

  function scheduleDraw(view) {
    if (view.drawPending) return;
    view.drawPending = true;
    setTimeout(() => {
      view.drawPending = false;
      draw(view);
      if (view.running) scheduleDraw(view);
    }, REDRAW_MS);
  }

  function makeView(block) {
    const id = `loopview-${nextId++}`;
    const figure = element("figure", { class: "loopview", id });
    const caption = element("figcaption", { id: `${id}-caption` });
    const status = element("p", { class: "loopview-status", "aria-live": "polite" });
    const svg = element("svg:svg", {
      role: "img",
      "aria-labelledby": `${id}-title ${id}-desc`,
      preserveAspectRatio: "xMinYMin meet",
    });
    const title = element("svg:title", { id: `${id}-title` });
    const desc = element("svg:desc", { id: `${id}-desc` });
    const details = element("details", { class: "loopview-details" });
    const table = element("table", { class: "loopview-table" });
    const head = element("thead");
    const heading = element("tr");
    for (const name of ["Task", "Steps", "Awaited", "Ended"]) {
      heading.append(element("th", { scope: "col" }, name));
    }
    head.append(heading);
    const body = element("tbody");
    table.append(head, body);
    details.append(element("summary", {}, "The timeline in words"), table);
    figure.append(caption, svg, status, details);
    // Under the block's output (the editor, when shown, sits between them).
    let anchor = block;
    while (anchor.nextElementSibling?.matches(".runnable-editor, .runnable-output")) {
      anchor = anchor.nextElementSibling;
    }
    anchor.after(figure);
    return { figure, caption, status, svg, title, desc, body };
  }

  function begin(block) {
    let view = views.get(block);
    if (!view || !view.figure.isConnected) view = makeView(block);
    Object.assign(view, {
      tasks: new Map(),
      latest: 0,
      full: null, // the recorder's note that it stopped, if it did
      stepCount: 0,
      clockOrigin: null,
      running: true,
      drawPending: false,
    });
    view.title.textContent = "The event loop's tasks while the block runs";
    view.caption.textContent =
      "Watch the loop: one row per task. A bar is a step the task ran; a thin " +
      "line is a wait, labelled with what it awaited, and the tick at its end " +
      "is when the loop woke the task.";
    view.status.textContent = "Recording the loop…";
    view.figure.dataset.state = "running";
    views.set(block, view);
    draw(view);
    scheduleDraw(view);
  }

  function event(block, events) {
    const view = views.get(block);
    if (!view || !view.running) return;
    let batch = typeof events === "string" ? JSON.parse(events) : events;
    if (!Array.isArray(batch)) batch = [batch];
    for (const one of batch) record(view, one);
    // The page's clock, set so that the newest event is now: the axis grows from here.
    const origin = performance.now() / 1000 - view.latest;
    // Each batch comes up to 50 ms late: the earliest origin is the best guess.
    if (view.clockOrigin === null || origin < view.clockOrigin) view.clockOrigin = origin;
  }

  function end(block) {
    const view = views.get(block);
    if (!view || !view.running) return;
    view.running = false;
    view.figure.dataset.state = "done";
    const count = view.tasks.size;
    view.status.textContent =
      `Recorded ${count} ${count === 1 ? "task" : "tasks"} over ` +
      `${milliseconds(view.latest)} ms.` +
      (view.full
        ? ` The recording stopped after ${view.full.events} events, at ` +
          `${milliseconds(view.full.t)} ms; the block ran on.`
        : "");
    view.title.textContent = "The event loop's tasks while the block ran";
    draw(view);
  }

  window.BookLoopView = { begin, event, end };
})();
