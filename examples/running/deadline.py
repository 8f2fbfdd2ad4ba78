"""Ask three slow questions at once, use each answer as it arrives, and give up
on whatever is still missing when the deadline passes.

    python examples/running/deadline.py

The program starts a small question-answering server of its own, in a
background thread, on 127.0.0.1 and a port that the operating system picks.
The server takes its time: a different delay for each question. The client
asks every question in a task of an asyncio.TaskGroup, prints the answers in
the order they arrive with asyncio.as_completed, and puts one deadline, with
asyncio.timeout, on all of them together.
"""

import asyncio
import contextlib
import socketserver
import threading
import time

# How long the server thinks about each question, in seconds.
THINKING_TIME = {"weather": 0.1, "traffic": 0.2, "stocks": 0.8}
DEADLINE = 0.5  # seconds, for all the questions together


class ThinkingHandler(socketserver.StreamRequestHandler):
    """Reads one question, thinks about it, answers, and hangs up."""

    def handle(self):
        question = self.rfile.readline().decode().strip()
        time.sleep(THINKING_TIME.get(question, 0))
        # If the client gave up waiting and hung up, there is nobody to answer.
        with contextlib.suppress(OSError):
            self.wfile.write(f"the {question} is fine\n".encode())


def serve_in_background():
    """Start the server in a daemon thread; return it (it knows its address)."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), ThinkingHandler)
    server.daemon_threads = True  # a handler still thinking does not delay exit
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def ask(address, question):
    """One question over a fresh connection; returns (question, answer)."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(f"{question}\n".encode())
        await writer.drain()
        reply = await reader.readline()
    finally:  # runs when the deadline cancels us too: never leak a connection
        writer.close()
        await writer.wait_closed()
    return question, reply.decode().strip()


async def ask_all(address, questions):
    """Print each answer as it arrives; return the questions left unanswered."""
    started = time.perf_counter()
    unanswered = set(questions)
    try:
        async with asyncio.timeout(DEADLINE), asyncio.TaskGroup() as group:
            tasks = [group.create_task(ask(address, q)) for q in questions]
            for next_answer in asyncio.as_completed(tasks):
                question, reply = await next_answer
                unanswered.discard(question)
                print(f"{time.perf_counter() - started:.2f} s  {reply}")
    except TimeoutError:
        missing = ", ".join(sorted(unanswered))
        print(f"{time.perf_counter() - started:.2f} s  gave up on: {missing}")
    return unanswered


def main():
    server = serve_in_background()
    try:
        asyncio.run(ask_all(server.server_address, list(THINKING_TIME)))
    finally:  # the server lives outside asyncio: stop it the ordinary way
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
