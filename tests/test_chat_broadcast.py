"""Step 8's five broadcast designs, and the benchmark that compares them."""

import re

import pytest
from chatwire import assert_quiet, run
from conftest import ServerProcess, run_example
from test_chat_protocol import chat_in_rooms

STEP08 = "examples/chat/server08.py"
BENCH = "examples/chat/bench_broadcast.py"
DESIGNS = ["await-each", "gather", "task-per-send", "write-then-drain", "queue"]


@pytest.mark.parametrize("design", DESIGNS)
def test_step08_every_design_relays_to_the_room_in_one_order(design):
    with ServerProcess(STEP08, "--broadcast", design) as server:
        run(chat_in_rooms(server))
        assert_quiet(server)


def test_bench_broadcast_measures_every_design_and_shows_who_stalls():
    result = run_example(
        BENCH,
        *("--clients", "20", "--messages", "10", "--patience", "3", "--receivers"),
        timeout=150,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        cells = line.split(None, 4)
        if cells and cells[0] in DESIGNS:
            rows[cells[0]] = cells
    assert sorted(rows) == sorted(DESIGNS), result.stdout
    for design, (_, deliveries, seconds, cpu, rest) in rows.items():
        assert deliveries == "200"
        assert float(seconds) > 0
        assert cpu == "n/a" or float(cpu) >= 0
        # Waiting for each member's drain() lets a stuck member stall the room;
        # the designs that never wait for a member do no harm to the others.
        if design in ("task-per-send", "queue"):
            assert rest.startswith("no harm"), result.stdout
        else:
            assert re.match(r"stalled at \d+", rest), result.stdout


def test_bench_broadcast_compares_receive_loops_and_only_no_yield_drops_a_burst():
    result = run_example(
        BENCH,
        *("--designs", "--repeat", "1", "--rooms", "4", "--deliveries", "2000"),
        *("--tiny-frames", "2000", "--max-extra-cost", "1000"),
        timeout=150,
    )
    assert result.returncode == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        cells = line.split()
        if len(cells) == 7 and cells[0].startswith(("no-yield", "yield-")):
            rows[cells[0]] = cells
    assert sorted(rows) == [
        "no-yield",
        "yield-each",
        "yield-every-33",
        "yield-every-50",
    ]
    for name, (_, ratio, _range, dropped, of, four, stall) in rows.items():
        assert ratio == "n/a" or float(ratio) > 0, result.stdout
        assert float(stall) > 0, result.stdout
        # Without a yield, the whole burst fills every outbox in one step.
        expected = "4" if name == "no-yield" else "0"
        assert (dropped, of, four) == (expected, "of", "4"), result.stdout
    assert "within the limit of 1000 %" in result.stdout, result.stdout
