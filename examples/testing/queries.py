"""Code that must clean up when it is cancelled: a query holds a connection.

    python -m pytest examples/testing/test_cleanup.py

`Connections` only counts: it stands for a pool of database connections, the kind
of resource that runs out if a cancelled task forgets to give it back.
"""


class Connections:
    """Counts the connections that are open: each one must be closed again."""

    def __init__(self):
        self.open = 0

    def open_one(self):
        self.open += 1

    def close_one(self):
        self.open -= 1


async def query(connections, run):
    """Open a connection, await `run()` on it, and close it whatever happens."""
    connections.open_one()
    try:
        return await run()
    finally:  # runs on success, on an error, and on cancellation
        connections.close_one()


async def query_leaky(connections, run):
    """The same without `finally`: a cancelled query keeps its connection."""
    connections.open_one()
    result = await run()
    connections.close_one()
    return result
