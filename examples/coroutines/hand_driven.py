"""Drive coroutines by hand, the way an event loop does, with no asyncio at all.

Run it with:  python examples/coroutines/hand_driven.py

`Pause` is a home-made awaitable: its `__await__` yields a value, and that value
travels up through every `await` in the chain until it reaches whoever called
`send()`. `run_round_robin` is a toy event loop that resumes each coroutine in
turn, so you can see both of them making progress, one step at a time.
"""

from collections import deque


class Pause:
    """An awaitable that hands `reason` up to whoever is driving the coroutine."""

    def __init__(self, reason):
        self.reason = reason

    def __await__(self):
        # This yield suspends the whole chain of awaits, up to the driver.
        # Whatever the driver sends back in becomes the value of `await Pause(...)`.
        reply = yield self.reason
        return reply


async def boil_water():
    await Pause("the kettle is heating")
    return "hot water"


async def make_tea(kind):
    # Awaiting a coroutine is like calling a function: boil_water runs right
    # away, and only its Pause hands control back to the driver.
    water = await boil_water()
    await Pause(f"the {kind} is steeping in {water}")
    return f"a cup of {kind}"


def run_round_robin(named_coroutines):
    """A toy event loop: resume each coroutine in turn until all have returned."""
    ready = deque(named_coroutines.items())
    results = {}
    while ready:
        name, coroutine = ready.popleft()
        try:
            request = coroutine.send(None)  # run it until its next pause
        except StopIteration as finished:  # a coroutine's return looks like this
            print(f"loop: {name} returned {finished.value!r}")
            results[name] = finished.value
        else:
            print(f"loop: {name} paused: {request}")
            ready.append((name, coroutine))  # give the others a turn first
    return results


def main():
    results = run_round_robin(
        {"first": make_tea("green tea"), "second": make_tea("mint tea")}
    )
    print(results)


if __name__ == "__main__":
    main()
