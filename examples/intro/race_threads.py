"""Four threads count page visits in a shared "database" and lose updates.

    python examples/intro/race_threads.py

Each visit reads the counter, makes a short round trip (a real database would
take about a millisecond), then writes the counter plus one. While one thread is
in its round trip, the others read the same old value: their writes overwrite
each other, and visits go missing.
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
    lost = expected - stored
    print(f"expected {expected} visits, stored {stored}: lost {lost} updates")


if __name__ == "__main__":
    main()
