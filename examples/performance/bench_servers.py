"""Measure the finished chat servers against an asyncio.Protocol baseline.

    python examples/performance/bench_servers.py           # everything: minutes
    python examples/performance/bench_servers.py --quick   # one short repetition each
    python examples/performance/bench_servers.py --only fanout-1000 logins

The TCP chat's finished server, examples/chat/server20.py, and the baseline,
examples/performance/protocol_server.py (the same protocol on asyncio.Protocol),
each on asyncio's default event loop and on uvloop's (where uvloop is
installed), go through the scenarios below; then the five web chats of chapter
31, against the websockets one. Every server runs as a process of its own on
CPU 0, and the load generator (loadgen.py, no asyncio) on CPU 1.

Every figure is a ratio to the baseline measured in the same run: each
repetition runs every server once, in a rotating order, and each server's
figure is divided by the baseline's of the same repetition; the table shows
the median of those ratios and their range. The baseline's own spread over the
repetitions is the machine's noise: a ratio closer to 1 than that says nothing.
Absolute figures (in brackets) are only context: they depend on the machine.

It writes the table (Markdown) and every measurement (JSON); the table is also
printed.
"""

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LOADGEN = HERE / "loadgen.py"
BASELINE = HERE / "protocol_server.py"
SERVER20 = ROOT / "examples" / "chat" / "server20.py"
ON_UVLOOP = HERE / "on_uvloop.py"
WEB = ROOT / "examples" / "web"
SERVER_CPU, LOADGEN_CPU = 0, 1

# server20 limits each address (all our clients come from 127.0.0.1), each
# sender's rate and the clients in all, and logs every connection: lift the
# limits, and log warnings only, as the baseline does.
SERVER20_OPTIONS = [
    *("--max-per-address", "100000", "--max-rate", "1000000"),
    *("--burst", "1000000", "--max-clients", "19000", "--log-level", "WARNING"),
]
WEB_OPTIONS = ["--max-rate", "1000000", "--burst", "1000000"]
WEB_SERVERS = ["websockets", "asgi", "aiohttp", "sanic", "django"]


class Metric:
    """One figure of a scenario: which key of loadgen's output, and its name."""

    def __init__(self, key, name, unit, higher_is_better=False):
        self.key, self.name, self.unit = key, name, unit
        self.higher_is_better = higher_is_better


CPU = Metric("cpu_per_delivery_us", "CPU per delivery", "us")
REACH = Metric("reach_all_ms", "time to reach all", "ms")
MEMORY = Metric("kib_per_client", "memory per client", "KiB")


class Scenario:
    """A loadgen scenario, full-size and quick, and the figures it reports.

    The title may name loadgen's options, such as {members}: it then shows the
    values of the run (the quick run's are smaller).
    """

    def __init__(self, name, title, full, quick, metrics, group="tcp"):
        self.name, self.metrics, self.group = name, metrics, group
        self.template, self.full, self.quick = title, full, quick
        self.title = title

    def arguments(self, quick):
        return self.quick if quick else self.full

    def set_size(self, quick):
        """Fill the title in with the values of the run: full or quick."""
        arguments = self.arguments(quick)
        values = {"clients": 50, "members": 1000}  # loadgen's defaults
        for option, value in itertools.pairwise(arguments):
            if option.startswith("--") and not value.startswith("--"):
                values[option[2:]] = float(value)
        self.title = self.template.format(**values)


SCENARIOS = [
    Scenario(
        "rooms-rate",
        "50 clients in rooms of 5, {rate:,.0f} messages/s (x5 deliveries)",
        ["rooms", "--rate", "2000", "--duration", "2"],
        ["rooms", "--rate", "2000", "--duration", "0.3", "--warmup", "0.1"],
        [CPU],
    ),
    Scenario(
        "rooms-full",
        "50 clients in rooms of 5, flat out",
        ["rooms", "--duration", "1"],
        ["rooms", "--duration", "0.3", "--warmup", "0.1"],
        [CPU, Metric("deliveries_per_s", "deliveries/s", "/s", True)],
    ),
    Scenario(
        "fanout-1000",
        "fan-out to {members:,.0f} members, one message at a time",
        # Enough messages for half a second of work: a shorter window moved
        # server20's ratio by a third from one repetition to the next.
        ["fanout", "--members", "1000", "--messages", "100"],
        ["fanout", "--members", "100", "--messages", "20"],
        [CPU, REACH],
    ),
    Scenario(
        "fanout-5000",
        "fan-out to {members:,.0f} members, one message at a time",
        ["fanout", "--members", "5000", "--messages", "20"],
        ["fanout", "--members", "200", "--messages", "10"],
        [CPU, REACH],
    ),
    Scenario(
        "stall",
        "{members:,.0f} members and one that never reads, 50 messages/s of 4 kB",
        ["stall", "--members", "200", "--rate", "50", "--size", "4000"],
        [
            "stall",
            "--members",
            "20",
            "--rate",
            "50",
            "--duration",
            "0.3",
            "--warmup",
            "0.1",
        ],
        [Metric("p50_ms", "others' p50", "ms"), Metric("p99_ms", "others' p99", "ms")],
    ),
    Scenario(
        "idle-1000",
        "{clients:,.0f} idle logged-in clients",
        ["idle", "--clients", "1000", "--settle", "0.2"],
        ["idle", "--clients", "300", "--settle", "0.1"],
        [MEMORY],
    ),
    Scenario(
        "idle-10000",
        "{clients:,.0f} idle logged-in clients",
        ["idle", "--clients", "10000", "--settle", "0.2"],
        ["idle", "--clients", "600", "--settle", "0.1"],
        [MEMORY],
    ),
    Scenario(
        "logins",
        "{count:,.0f} logins: connect, log in, hang up; 32 at a time",
        ["logins", "--count", "5000"],
        ["logins", "--count", "100"],
        [
            Metric("logins_per_s", "logins/s", "/s", True),
            Metric("cpu_per_login_us", "CPU per login", "us"),
        ],
    ),
    Scenario(
        "web-idle",
        "{clients:,.0f} idle WebSockets",
        ["web-idle", "--clients", "500", "--settle", "0.2"],
        ["web-idle", "--clients", "50", "--settle", "0.1"],
        [MEMORY],
        group="web",
    ),
    Scenario(
        "web-idle-deflate",
        "{clients:,.0f} idle WebSockets, permessage-deflate offered",
        ["web-idle", "--clients", "500", "--deflate", "--settle", "0.2"],
        ["web-idle", "--clients", "50", "--deflate", "--settle", "0.1"],
        [MEMORY],
        group="web",
    ),
    Scenario(
        "web-fanout",
        "fan-out to {members:,.0f} WebSockets, one message at a time",
        ["web-fanout", "--members", "200", "--messages", "20"],
        ["web-fanout", "--members", "20", "--messages", "20"],
        [CPU, REACH],
        group="web",
    ),
]

# What server20 should cost (chapter 40): (scenario, figure) -> the limit, and
# whether the limit is absolute (in the figure's unit) or a ratio to the baseline.
# A limit is a maximum where lower is better, a minimum where higher is better.
TARGETS = {
    ("rooms-rate", "cpu_per_delivery_us"): (1.3, False),
    ("rooms-full", "cpu_per_delivery_us"): (1.5, False),
    ("fanout-1000", "cpu_per_delivery_us"): (1.3, False),
    ("fanout-5000", "cpu_per_delivery_us"): (1.3, False),
    ("idle-1000", "kib_per_client"): (6, True),
    ("idle-10000", "kib_per_client"): (6, True),
    ("logins", "logins_per_s"): (0.7, False),
}


# --- the servers --------------------------------------------------------------


def uvloop_installed():
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def tcp_servers():
    """name -> command line (without --port): the baseline first."""
    servers = {
        "baseline": [str(BASELINE)],
        "server20": [str(SERVER20), *SERVER20_OPTIONS],
    }
    if uvloop_installed():
        servers["baseline, uvloop"] = [str(ON_UVLOOP), str(BASELINE)]
        servers["server20, uvloop"] = [str(ON_UVLOOP), *servers["server20"]]
    return servers


def web_servers():
    """name -> command line: the websockets server (the web baseline) first."""
    return {name: [str(WEB / f"{name}_chat.py"), *WEB_OPTIONS] for name in WEB_SERVERS}


class Server:
    """A chat server as a process on SERVER_CPU; `with` waits until it listens."""

    def __init__(self, command):
        self.command = [sys.executable, *command, "--host", "127.0.0.1", "--port", "0"]

    def __enter__(self):
        self.errors = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=self.errors, text=True
        )
        line = self.process.stdout.readline()  # "listening on HOST:PORT"
        if not line.startswith("listening on "):
            self.__exit__()
            self.errors.seek(0)
            raise RuntimeError(f"{self.command} did not start:\n{self.errors.read()}")
        self.port = int(line.rsplit(":", 1)[1])
        self.pid = self.serving_process()
        pin(self.pid, SERVER_CPU)
        return self

    def serving_process(self):
        """The process that serves: ours, or its only child (Sanic's worker)."""
        pid = self.process.pid
        try:
            while children := Path(f"/proc/{pid}/task/{pid}/children").read_text():
                pid = int(children.split()[0])
        except OSError:  # a kernel that does not list children: ours, then
            pass
        return pid

    def __exit__(self, *exc_info):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.errors.close()


def pin(pid, cpu):
    """Run a process on one CPU only, if the machine has more than one."""
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(pid, {cpu})


def load(server, scenario, quick):
    """Run loadgen's scenario against a running server: loadgen's figures."""
    loadgen = [sys.executable, str(LOADGEN), *scenario.arguments(quick)]
    loadgen += ["--port", str(server.port), "--server-pid", str(server.pid)]
    if len(os.sched_getaffinity(0)) > 1:
        loadgen += ["--cpu", str(LOADGEN_CPU)]
    done = subprocess.run(
        loadgen, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode:
        raise RuntimeError(f"{loadgen} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def measure(command, scenario):
    """A fresh server for one scenario: no measurement inherits another's state."""
    with Server(command) as server:
        return load(server, scenario, quick=False)


# --- runs, ratios, the table --------------------------------------------------


def run_scenario(scenario, servers, repetitions):
    """Every server, once per repetition, in a rotating order: their figures."""
    figures = {name: [] for name in servers}
    names = list(servers)
    for repetition in range(repetitions):
        shift = repetition % len(names)
        for name in names[shift:] + names[:shift]:
            figures[name].append(measure(servers[name], scenario))
    return figures


def run_quickly(scenarios, servers):
    """One server process for all the scenarios: a smoke test, not a measurement."""
    results = {scenario.name: {} for scenario in scenarios}
    for name, command in servers.items():
        with Server(command) as server:
            for scenario in scenarios:
                results[scenario.name][name] = [load(server, scenario, quick=True)]
    return results


def ratios(figures, metric, baseline):
    """name -> each repetition's figure divided by the baseline's of the same one."""
    reference = [run[metric.key] for run in figures[baseline]]
    return {
        name: [run[metric.key] / ref for run, ref in zip(runs, reference, strict=True)]
        for name, runs in figures.items()
    }


def noise(values):
    """The spread of repeated measurements of one thing, relative to their median."""
    return (max(values) - min(values)) / statistics.median(values)


def median_and_range(values):
    text = f"{statistics.median(values):.2f}"
    if len(values) > 1:
        text += f" ({min(values):.2f}-{max(values):.2f})"
    return text


def cell(ratio_list, absolute, unit):
    absolute_text = format_absolute(statistics.median(absolute), unit)
    return f"{median_and_range(ratio_list)} [{absolute_text}]"


def format_absolute(value, unit):
    if unit == "/s":
        return f"{value:,.0f}/s"
    return f"{value:.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def table(results, servers, baseline, repetitions):
    """The Markdown table of one group of servers."""
    others = [name for name in servers if name != baseline]
    lines = [
        f"| scenario | figure | {' | '.join(others)} | noise of {baseline} |",
        "|---" * (3 + len(others)) + "|",
    ]
    for scenario in SCENARIOS:
        if scenario.name not in results or set(results[scenario.name]) != set(servers):
            continue
        figures = results[scenario.name]
        for metric in scenario.metrics:
            if any(metric.key not in run for run in figures[baseline]):
                continue
            by_name = ratios(figures, metric, baseline)
            cells = [
                cell(
                    by_name[name],
                    [run[metric.key] for run in figures[name]],
                    metric.unit,
                )
                for name in others
            ]
            base = [run[metric.key] for run in figures[baseline]]
            spread = f"{noise(base):.0%}" if repetitions > 1 else "n/a"
            spread += f" [{format_absolute(statistics.median(base), metric.unit)}]"
            better = "higher" if metric.higher_is_better else "lower"
            lines.append(
                f"| {scenario.title} | {metric.name} ({better} is better) "
                f"| {' | '.join(cells)} | {spread} |"
            )
    return "\n".join(lines)


def targets_table(results):
    """server20 against its targets, on asyncio's loop: the median decides."""
    lines = ["| scenario | figure | target | server20 | met |", "|---" * 5 + "|"]
    for scenario in SCENARIOS:
        figures = results.get(scenario.name, {})
        for metric in scenario.metrics:
            target = TARGETS.get((scenario.name, metric.key))
            if target is None or "server20" not in figures:
                continue
            limit, absolute = target
            if absolute:
                values = [run[metric.key] for run in figures["server20"]]
            else:
                values = ratios(figures, metric, "baseline")["server20"]
            median = statistics.median(values)
            met = median >= limit if metric.higher_is_better else median <= limit
            bound = "at least" if metric.higher_is_better else "at most"
            unit = f" {metric.unit}" if absolute else ""
            lines.append(
                f"| {scenario.title} | {metric.name} | {bound} {limit:g}{unit} "
                f"| {median_and_range(values)}{unit} | {'yes' if met else 'no'} |"
            )
    return "\n".join(lines) if len(lines) > 2 else ""


def deflate_note(results):
    """Which web servers did not take up the permessage-deflate offer."""
    runs = results.get("web-idle-deflate", {})
    refused = sorted(
        name for name, figures in runs.items() if not figures[0]["deflate_accepted"]
    )
    if not refused:
        return ""
    return f"Declined permessage-deflate (so compressed nothing): {', '.join(refused)}."


def busy_note(results):
    """Say where the load generator itself was the limit (busy over 90 %)."""
    saturated = sorted(
        {
            f"{scenario} ({name})"
            for scenario, by_name in results.items()
            for name, runs in by_name.items()
            if statistics.median(run["loadgen_busy"] for run in runs) > 0.9
        }
    )
    if not saturated:
        return (
            "The load generator was never the bottleneck (busy under 90 % of the time)."
        )
    return "The load generator was the bottleneck in: " + ", ".join(saturated) + "."


def report(results, repetitions, quick, elapsed):
    tcp, web = tcp_servers(), web_servers()
    kind = "one short repetition (--quick)" if quick else f"median of {repetitions}"
    if repetitions > 1:
        kind += " (min-max)"
    parts = [
        f"Ratios to the baseline in the same run, {kind}; "
        "[absolute medians], for context only. Noise: the baseline's own spread, "
        "(max - min) / median.",
        "",
    ]
    groups = [
        ("tcp", "TCP chat, ratios to `protocol_server.py` on asyncio's default loop:"),
        ("web", "Web chat, ratios to `websockets_chat.py`:"),
    ]
    for group, title in groups:
        if any(s.group == group and s.name in results for s in SCENARIOS):
            servers, baseline = (
                (tcp, "baseline") if group == "tcp" else (web, "websockets")
            )
            parts += [title, "", table(results, servers, baseline, repetitions), ""]
    if targets := targets_table(results):
        title = "server20 against its targets (ratios to the baseline, or KiB):"
        parts += [title, "", targets, ""]
    parts.append(busy_note(results))
    if note := deflate_note(results):
        parts.append(note)
    python = ".".join(map(str, sys.version_info[:3]))
    load = ", ".join(f"{average:.1f}" for average in os.getloadavg())
    parts.append(
        f"Python {python}, {os.cpu_count()} CPUs (load average at the end: {load}), "
        f"{elapsed:.0f} s in all; server20.py {version_of(SERVER20)}."
    )
    return "\n".join(parts) + "\n"


def version_of(path):
    """The last commit of a file, and whether it was changed since: for the record."""
    try:
        commit = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", path],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "diff", "--quiet", "--", path], cwd=ROOT, check=False
        ).returncode
    except (OSError, subprocess.CalledProcessError):
        return "(not in a git repository)"
    return f"as of commit {commit}" + (", changed since" if changed else "")


def parse_command_line():
    parser = argparse.ArgumentParser(
        description=__doc__,
        # 80 columns whatever the terminal: the chapter shows this help.
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(
            prog, width=80
        ),
    )
    parser.add_argument(
        "--quick", action="store_true", help="one short repetition: a smoke test"
    )
    parser.add_argument("--repetitions", type=int, default=3, help="default 3")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="SCENARIO",
        choices=[s.name for s in SCENARIOS],
        help="only these: " + ", ".join(s.name for s in SCENARIOS),
    )
    parser.add_argument(
        "--table",
        type=Path,
        default=HERE / "results.txt",
        help="where to write the table (default %(default)s)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=HERE / "results.json",
        help="where to write every figure (default %(default)s)",
    )
    return parser.parse_args()


def main():
    args = parse_command_line()
    repetitions = 1 if args.quick else args.repetitions
    started = time.perf_counter()
    results = {}
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    for scenario in chosen:
        scenario.set_size(args.quick)
    for group, servers in [("tcp", tcp_servers()), ("web", web_servers())]:
        scenarios = [scenario for scenario in chosen if scenario.group == group]
        if not scenarios:
            continue
        if args.quick:
            results.update(run_quickly(scenarios, servers))
            continue
        for scenario in scenarios:
            print(f"{scenario.name}: {scenario.title}", file=sys.stderr, flush=True)
            results[scenario.name] = run_scenario(scenario, servers, repetitions)
    elapsed = time.perf_counter() - started
    text = report(results, repetitions, args.quick, elapsed)
    args.table.write_text(text)
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
