"""Chapter 30, exercise 1: a middleware that logs requests.

Write `logged(app)`: it returns an ASGI application that runs `app` and prints, for
every HTTP request, the method, the path, the status and how many bytes of body went
out. Other kinds of connection (a WebSocket, the lifespan) go through untouched.
Check it with: python exercises/check.py 30-1
"""

import asyncio


def logged(app):
    raise NotImplementedError("your code here")


async def hello(scope, receive, send):
    """A small ASGI application: a greeting, its body sent in two pieces."""
    if scope["method"] not in ("GET", "HEAD"):
        await send({"type": "http.response.start", "status": 405, "headers": []})
        await send({"type": "http.response.body", "body": b"use GET"})
        return
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"hello, ", "more_body": True})
    await send({"type": "http.response.body", "body": b"world"})


async def nowhere(event):
    pass  # the server's side: only the log is to be seen


async def main():
    app = logged(hello)
    for method, path in [("GET", "/"), ("DELETE", "/")]:
        scope = {"type": "http", "method": method, "path": path, "headers": []}
        await app(scope, None, nowhere)  # hello never calls receive


if __name__ == "__main__":
    asyncio.run(main())
