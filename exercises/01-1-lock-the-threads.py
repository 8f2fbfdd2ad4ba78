"""Chapter 1, exercise 1: lock the threads.

Four threads count page visits and lose updates. Fix the race with a
threading.Lock, so that no visit is lost.
Check it with: python exercises/check.py 01-1
"""

import threading
import time

THREADS = 4
VISITS_PER_THREAD = 100
ROUND_TRIP = 0.001  # seconds: what a query to a database server might take

database = {"visits": 0}


def count_visit():
    visits = database["visits"]  # read...
    time.sleep(ROUND_TRIP)  # ...wait for the database: other threads run here...
    database["visits"] = visits + 1  # ...and write back a value that may be stale


def serve_visits():
    for _ in range(VISITS_PER_THREAD):
        count_visit()


def main():
    threads = [threading.Thread(target=serve_visits) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = THREADS * VISITS_PER_THREAD
    stored = database["visits"]
    print(f"expected {expected} visits, stored {stored}: lost {expected - stored}")


if __name__ == "__main__":
    main()
