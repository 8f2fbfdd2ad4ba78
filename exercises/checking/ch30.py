"""Checks for chapter 30, ASGI: a middleware."""

import re

from . import captured, exercise


def http(method, path):
    return {"type": "http", "method": method, "path": path, "headers": []}


def answering(status, *bodies):
    """An ASGI application that answers with `status` and the body in pieces."""

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status, "headers": []})
        for number, body in enumerate(bodies, start=1):
            more = number < len(bodies)
            await send({"type": "http.response.body", "body": body, "more_body": more})

    return app


async def failing(scope, receive, send):
    raise RuntimeError("a bug before the answer")


class Server:
    """The server's side of `send`: notes the events it gets."""

    def __init__(self):
        self.events = []

    async def send(self, event):
        self.events.append(event)


async def through(logged, app, scope, receive, send):
    """Run `app` behind the learner's middleware, as a server would."""
    await logged(app)(scope, receive, send)


def mentions(line, *words):
    """Whether `line` has each of `words` on its own (12 is not in 123 or 0.12)."""
    return all(re.search(rf"(?<![\w./]){re.escape(w)}(?![\w/])", line) for w in words)


@exercise("30-1", "30-1-logging-middleware.py")
def check_logged(answer, report, attempt):
    requests = [
        ("GET", "/greeting", answering(200, b"hello, ", b"world!"), 200, 13),
        ("HEAD", "/greeting", answering(200, b""), 200, 0),
        ("GET", "/nothing", answering(404, b"not found"), 404, 9),
        ("DELETE", "/", answering(405, b"use GET or HEAD"), 405, 15),
    ]
    for method, path, app, status, size in requests:
        server = Server()
        with captured() as lines:
            attempt.run(
                f"{method} {path}",
                through,
                answer.logged,
                app,
                http(method, path),
                None,
                server.send,
            )
        direct = Server()
        attempt.run("the application alone", app, http(method, path), None, direct.send)
        report.expect(
            server.events == direct.events,
            f"{method} {path}: the server gets every event the application sends",
            f"{method} {path}: the server got {server.events!r}, but the application"
            f" sent {direct.events!r}",
        )
        line = lines[0] if len(lines) == 1 else None
        report.expect(
            line is not None and mentions(line, method, path, str(status), str(size)),
            f"{method} {path}: one line with the method, path, status and size",
            f"{method} {path} answered {status} with {size} bytes of body, and the"
            f" log said {lines!r}: one line should say all four",
        )

    async def fails(scope):
        try:
            await through(answer.logged, failing, scope, None, Server().send)
        except RuntimeError:
            return True
        return False

    with captured() as lines:
        raised = attempt.run("an application that fails", fails, http("POST", "/bug"))
    report.expect(
        raised,
        "an application's error is not hidden",
        "an application that raised RuntimeError seemed to succeed: let its error"
        " through",
    )
    report.expect(
        len(lines) == 1 and mentions(lines[0], "POST", "/bug"),
        "a request whose application fails is logged too",
        f"a POST /bug whose application failed before answering was logged as"
        f" {lines!r}: every request gets its line, even one that fails",
    )

    for kind in ("websocket", "lifespan"):
        check_untouched(answer, report, attempt, kind)


def check_untouched(answer, report, attempt, kind):
    seen = []

    async def other(scope, receive, send):
        seen.append((scope, receive, send))

    async def receive():
        return {"type": f"{kind}.disconnect"}

    server = Server()
    scope = {"type": kind, "path": "/chat"} if kind == "websocket" else {"type": kind}
    with captured() as lines:
        attempt.run(
            f"a {kind} scope",
            through,
            answer.logged,
            other,
            scope,
            receive,
            server.send,
        )
    report.expect(
        seen == [(scope, receive, server.send)] and not lines,
        f"a {kind} connection goes through untouched, and is not logged",
        f"a {kind} connection should reach the application with the server's own"
        f" scope, receive and send, and print nothing; the application got"
        f" {len(seen)} call(s), and the log said {lines!r}",
    )
