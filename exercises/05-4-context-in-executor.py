"""Chapter 5, exercise 4: keep the request id in the executor.

Write `run_in_executor_with_context(executor, function, *args)`: like
`loop.run_in_executor()`, but the function runs in the caller's context.
Check it with: python exercises/check.py 05-4
"""

import asyncio
import contextvars

request_id = contextvars.ContextVar("request_id", default="-")


def which_request():
    return request_id.get()


async def run_in_executor_with_context(executor, function, *args):
    raise NotImplementedError("your code here")


async def check():
    request_id.set("req-99")
    print("sees:", await run_in_executor_with_context(None, which_request))


if __name__ == "__main__":
    asyncio.run(check())  # should print: sees: req-99
