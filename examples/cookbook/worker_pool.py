"""A fixed pool of workers fed through a bounded queue, with a clean shutdown.

    python examples/cookbook/worker_pool.py
    python examples/cookbook/worker_pool.py --workers 5 --jobs 50 --queue-size 2

A producer puts jobs on an asyncio.Queue of limited size. When the queue is full,
`await queue.put()` waits, so the producer never runs more than `--queue-size`
jobs ahead of the workers: that is backpressure. `--workers` worker tasks take
jobs off the queue, one at a time each. When the jobs run out, the producer puts
one STOP marker per worker on the queue, and each worker returns when it takes
one. A job that fails is recorded and the pool carries on.

The program measures what it promises and prints it: never more jobs in flight
than workers, never more jobs waiting than the queue holds, no task left behind.
"""

import argparse
import asyncio

STOP = object()  # the sentinel: a unique object that no real job can be equal to


class Gauge:
    """Counts how many things are inside a section now, and the most there ever were."""

    def __init__(self):
        self.now = 0
        self.peak = 0

    def enter(self):
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self):
        self.now -= 1


async def handle(job):
    """The work for one job; a short sleep stands for a network call."""
    await asyncio.sleep(0.01 * (1 + job % 3))
    if job == 13:
        raise ValueError("unlucky job")
    return job * job


async def worker(queue, results, in_flight):
    while True:
        job = await queue.get()
        if job is STOP:
            return  # the producer has no more work: this worker is done
        in_flight.enter()
        try:
            results[job] = await handle(job)
        except Exception as error:  # one bad job must not bring down the pool
            results[job] = error
        finally:
            in_flight.leave()


async def produce(queue, jobs, workers, waiting):
    for job in jobs:
        await queue.put(job)  # waits while the queue is full: backpressure
        waiting.peak = max(waiting.peak, queue.qsize())
    for _ in range(workers):
        await queue.put(STOP)  # one per worker, after all the real jobs


async def run_pool(jobs, workers, queue_size):
    queue = asyncio.Queue(maxsize=queue_size)
    results = {}
    in_flight, waiting = Gauge(), Gauge()
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(produce(queue, jobs, workers, waiting))
        for _ in range(workers):
            tasks.create_task(worker(queue, results, in_flight))
    # Leaving the block means the producer and every worker have returned.
    return results, in_flight.peak, waiting.peak


async def main(workers, job_count, queue_size):
    results, most_in_flight, most_waiting = await run_pool(
        range(job_count), workers, queue_size
    )
    errors = {job: r for job, r in results.items() if isinstance(r, Exception)}
    print(f"{len(results)} jobs done by {workers} workers, {len(errors)} failed:")
    for job, error in errors.items():
        print(f"  job {job}: {error!r}")
    print(f"at most {most_in_flight} jobs in flight (limit {workers})")
    print(f"at most {most_waiting} jobs waiting in the queue (limit {queue_size})")
    others = asyncio.all_tasks() - {asyncio.current_task()}
    print(f"tasks still running: {len(others)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--queue-size", type=int, default=6)
    args = parser.parse_args()
    asyncio.run(main(args.workers, args.jobs, args.queue_size))
