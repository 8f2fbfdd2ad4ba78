"""A long-running service that stops cleanly on Ctrl-C (SIGINT) or SIGTERM.

    python examples/cookbook/graceful_shutdown.py                # the usual way
    python examples/cookbook/graceful_shutdown.py --portable     # works on Windows too
    python examples/cookbook/graceful_shutdown.py --no-handlers  # what happens without

Stop it with Ctrl-C, or with `kill -TERM PID` from another terminal (the program
prints its PID). A signal handler only sets an asyncio.Event; `main` waits for
that event, then cancels the service, whose `finally` block saves its state. The
program then says goodbye and exits with status 0.

On Unix, the handlers are installed with `loop.add_signal_handler`, which only
exists there. On Windows, or with `--portable`, they are installed with
`signal.signal`, and each one hands the work over to the loop with
`loop.call_soon_threadsafe`: that works everywhere (on Windows, Ctrl-C is SIGINT
and Ctrl-Break is SIGBREAK). With `--no-handlers`, the program leaves the signals
alone, to show what asyncio.run() does by itself.
"""

import argparse
import asyncio
import os
import signal
import sys

STOP_SIGNALS = [signal.SIGINT, signal.SIGTERM]
if hasattr(signal, "SIGBREAK"):  # Ctrl-Break, on Windows only
    STOP_SIGNALS.append(signal.SIGBREAK)


async def serve():
    """Stands for a server's main loop: handles requests until cancelled."""
    handled = 0
    try:
        while True:
            await asyncio.sleep(0.05)  # waiting for, then handling, a request
            handled += 1
    finally:
        # Runs when the service is cancelled. It may await: the cancellation has
        # already been delivered, so this await is not interrupted.
        await asyncio.sleep(0.05)  # flushing buffers, closing connections...
        print(f"service: state saved after {handled} requests")


def stop_on_signals_unix(loop, stop):
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)  # stop(signum), in the loop

    def restore():
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)

    return restore


def stop_on_signals_portable(loop, stop):
    def handler(signum, frame):
        # Python runs this in the main thread between two bytecodes, possibly in
        # the middle of the loop's own code: hand the work to the loop instead.
        loop.call_soon_threadsafe(stop, signal.Signals(signum))

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}

    def restore():
        # A handler left behind would call a closed loop on the next Ctrl-C.
        for signum, old_handler in previous.items():
            signal.signal(signum, old_handler)

    return restore


async def main(mode):
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    received = []

    def stop(signum):
        received.append(signum.name)
        stopping.set()

    if mode == "portable":
        restore = stop_on_signals_portable(loop, stop)
    elif mode == "unix":
        restore = stop_on_signals_unix(loop, stop)
    else:
        restore = None
    try:
        print(f"running as PID {os.getpid()}: press Ctrl-C to stop", flush=True)
        async with asyncio.TaskGroup() as tasks:
            service = tasks.create_task(serve())
            await stopping.wait()
            print(f"main: got {received[0]}, stopping the service")
            service.cancel()
    finally:
        if restore:
            restore()
    print("main: stopped cleanly")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portable", action="store_true")
    parser.add_argument("--no-handlers", action="store_true")
    args = parser.parse_args()
    if args.no_handlers:
        mode = "none"
    elif args.portable or sys.platform == "win32":  # no add_signal_handler there
        mode = "portable"
    else:
        mode = "unix"
    asyncio.run(main(mode))
