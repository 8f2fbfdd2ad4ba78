"""The web chat across uvicorn's workers, through a multiprocessing Manager.

    python examples/web/manager_chat.py --workers 2 --port 0
    python examples/web/manager_chat.py --threads 6   # asyncio's pool on 2 cores

The counter-example of chapter 33, kept to be measured, not copied: the
design of the article the web chat grew from. A Manager, a server process of
Python's multiprocessing, holds a queue, the inbox, and a dict of subscribers:
one queue per client, whichever worker serves it. A worker puts each message
a client sends into the inbox, from a thread; a thread of the main process
takes each one out and puts it into every subscriber's queue; each client has
a task that waits for its queue, from a thread, with a timeout, so that it
can notice the client has left. Every message is pickled and sent through a
socket three times: to the inbox, out of it, and to each subscriber.

As in the article, a message put into the inbox is forgotten by its sender's
handler (a task that nobody waits for), and nothing is done when the Manager
cannot be reached: the failure is logged, and the chat goes on without it.
The page, the origin checks and the message checks are asgi_chat's.
"""

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import multiprocessing
import os
import queue
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.managers import DictProxy, SyncManager

import uvicorn
from asgi_chat import (
    MAX_MESSAGE_BYTES,
    WELCOME,
    from_our_own_page,
    parse_chat_message,
    serve_http,
)
from uvicorn.supervisors import Multiprocess

POLL_TIMEOUT = 3.0  # seconds a thread waits on a queue before looking again
# Threads for the blocking calls of each worker. asyncio's default pool has
# min(32, CPUs + 4): 6 on two cores. Each client's poller holds one for up to
# POLL_TIMEOUT, so with more clients than threads in a worker, the puts of
# the messages its clients send wait behind the polls, and the chat stalls
# for seconds. This gives the design enough threads to be measured at its best.
DEFAULT_THREADS = 256
# Where the workers find the Manager: the main program puts it in the
# environment, which the workers it starts inherit. They inherit its authkey
# too, the password of its processes, which multiprocessing passes on to the
# processes it starts, and which every proxy presents to the Manager.
ADDRESS_VARIABLE = "CHAT_MANAGER_ADDRESS"
THREADS_VARIABLE = "CHAT_MANAGER_THREADS"
log = logging.getLogger("uvicorn.error")  # uvicorn's log: it prints ours too

# What the Manager's process holds for everyone. Only that process touches
# these two objects; every other process has proxies, which send each call
# to it through a socket.
INBOX = queue.Queue()
SUBSCRIBERS = {}


def shared_inbox():
    return INBOX


def shared_subscribers():
    return SUBSCRIBERS


class ChatManager(SyncManager):
    """A SyncManager (Queue, dict...) that also hands out the two shared objects."""


ChatManager.register("inbox", callable=shared_inbox)
ChatManager.register("subscribers", callable=shared_subscribers, proxytype=DictProxy)


# --- in each worker ----------------------------------------------------------------


class Worker:
    """This worker's link to the Manager, made when the worker starts."""

    def __init__(self):
        self.manager = self.inbox = self.subscribers = None
        self.sending = set()  # the puts on their way to the inbox (see forward)

    def connect(self):
        self.manager = ChatManager(address=os.environ[ADDRESS_VARIABLE])
        self.manager.connect()
        self.inbox = self.manager.inbox()
        self.subscribers = self.manager.subscribers()


WORKER = Worker()


async def application(scope, receive, send):
    """The ASGI application: asgi_chat's page, and a chat through the Manager."""
    match scope["type"]:
        case "lifespan":
            await lifespan(receive, send)
        case "http":
            await serve_http(scope, send)
        case "websocket":
            await chat_websocket(scope, receive, send)


async def lifespan(receive, send):
    await receive()  # "lifespan.startup"
    threads = int(os.environ.get(THREADS_VARIABLE, DEFAULT_THREADS))
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(threads))
    await asyncio.to_thread(WORKER.connect)  # a blocking call, like every other
    await send({"type": "lifespan.startup.complete"})
    await receive()  # "lifespan.shutdown"
    await send({"type": "lifespan.shutdown.complete"})


async def chat_websocket(scope, receive, send):
    """One client: a queue of its own in the Manager, and a task that polls it."""
    await receive()  # "websocket.connect"
    if scope["path"] != "/chat" or not from_our_own_page(scope):
        await send({"type": "websocket.close"})  # refused: HTTP 403
        return
    name = secrets.token_hex(8)
    own_queue = await asyncio.to_thread(WORKER.manager.Queue)
    await asyncio.to_thread(WORKER.subscribers.__setitem__, name, own_queue)
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json_text(WELCOME)})
    left = asyncio.Event()
    poller = asyncio.create_task(poll_own_queue(own_queue, send, left))
    try:
        await forward_messages(receive, send)
    finally:
        left.set()
        with contextlib.suppress(Exception):  # the Manager may be gone
            await asyncio.to_thread(WORKER.subscribers.pop, name, None)
        await poller


async def forward_messages(receive, send):
    """Put each message the client sends into the inbox, until it leaves."""
    while (event := await receive())["type"] == "websocket.receive":
        try:
            message = parse_chat_message(event.get("text"))
        except ValueError as error:
            reply = {"sender": "server", "message": f"error: {error}"}
            await send({"type": "websocket.send", "text": json_text(reply)})
        else:
            forward(json_text(message))


def forward(text):
    """Put `text` into the inbox from a thread, and do not wait for it.

    The article's way: its handler goes on reading at once. Two messages
    from one client are two threads, which may reach the Manager in either
    order; and if the put fails, nobody is there to tell the client.
    """
    task = asyncio.create_task(asyncio.to_thread(WORKER.inbox.put, text))
    WORKER.sending.add(task)  # a reference, so that the task is not collected
    task.add_done_callback(put_done)


def put_done(task):
    WORKER.sending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("message lost, the Manager is unreachable: %r", task.exception())


async def poll_own_queue(own_queue, send, left):
    """Send the client what arrives in its queue, until it leaves.

    Each wait blocks a thread for up to POLL_TIMEOUT seconds: that is the
    only way to wait on a Manager's queue. Then look whether the client has
    left, and wait again.
    """
    wait = functools.partial(own_queue.get, timeout=POLL_TIMEOUT)
    while not left.is_set():
        try:
            text = await asyncio.to_thread(wait)
        except queue.Empty:
            continue
        except (OSError, EOFError) as error:  # the Manager is gone
            log.error("cannot reach the Manager, this client hears nothing: %r", error)
            return
        with contextlib.suppress(OSError):  # the client may have just left
            await send({"type": "websocket.send", "text": text})


def json_text(message):
    return json.dumps(message, ensure_ascii=False)


# --- in the main process -----------------------------------------------------------


STOPPING = threading.Event()


def broadcast_forever(address):
    """Copy each message of the inbox into every subscriber's queue.

    This runs in a thread of the main process, which could be any process:
    it has proxies, like the workers. It keeps a proxy for each subscriber
    and asks the Manager for the list of names before each message.
    """
    manager = ChatManager(address=address)
    manager.connect()
    inbox, subscribers = manager.inbox(), manager.subscribers()
    queues = {}  # name -> the proxy of its queue
    while True:
        try:
            text = inbox.get(timeout=POLL_TIMEOUT)
        except queue.Empty:
            continue
        except (OSError, EOFError) as error:
            if not STOPPING.is_set():
                log.error("cannot reach the Manager, the broadcast stops: %r", error)
            return
        try:
            names = subscribers.keys()
            queues = {name: queues.get(name) or subscribers[name] for name in names}
            for own_queue in queues.values():
                own_queue.put(text)
        except KeyError:
            continue  # a client left as we looked: the next message will do
        except (OSError, EOFError) as error:
            log.error("cannot reach the Manager, the broadcast stops: %r", error)
            return


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    parser.add_argument("--workers", type=int, default=2, help="default 2")
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"threads for each worker's blocking calls (default {DEFAULT_THREADS})",
    )
    return parser.parse_args()


def main():
    args = parse_args()
    with ChatManager() as manager:
        # The workers are started afresh (not forked): they learn where the
        # Manager is from the environment they inherit.
        os.environ[ADDRESS_VARIABLE] = manager.address
        os.environ[THREADS_VARIABLE] = str(args.threads)
        config = uvicorn.Config(
            "manager_chat:application",
            host=args.host,
            port=args.port,
            workers=args.workers,
            ws_max_size=MAX_MESSAGE_BYTES,
        )
        listening = config.bind_socket()  # here: the workers share it
        # Listen now: clients who come before the workers are ready wait in
        # the queue of the socket, instead of being refused.
        listening.listen(config.backlog)
        host, port = listening.getsockname()[:2]
        print(f"listening on {host}:{port}", flush=True)
        [manager_process] = multiprocessing.active_children()  # none other yet
        print(f"manager pid {manager_process.pid}", flush=True)
        broadcaster = threading.Thread(
            target=broadcast_forever, args=(manager.address,), daemon=True
        )
        broadcaster.start()
        with listening:
            Multiprocess(config, sockets=[listening]).run()
        STOPPING.set()  # what the broadcaster hears next is the Manager stopping


if __name__ == "__main__":
    main()
