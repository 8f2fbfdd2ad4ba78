"""Serve the built site on 127.0.0.1 with the headers that isolate it cross-origin.

    python _ext/serve.py [FOLDER] [--port 8000]

Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy make a page
cross-origin isolated: it may then share memory (a SharedArrayBuffer) with the
worker that runs its Python, and Stop can interrupt a block that never awaits
(_static/runnable.js). Static hosting, which cannot send headers, gets them from
the site's service worker instead (_static/coi-serviceworker.js).
"""

import argparse
import contextlib
import functools
import http.server
from pathlib import Path

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class IsolatingHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, each sent with the cross-origin isolation headers."""

    def end_headers(self):
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format, *args):
        pass  # a reader's browser asks for many files: the terminal stays readable


def serve(folder, port):
    handler = functools.partial(IsolatingHandler, directory=folder)
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"Serving {folder} on http://127.0.0.1:{server.server_address[1]}/")
        server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parent.parent / "_build" / "html"
    parser.add_argument("folder", nargs="?", default=default, type=Path)
    parser.add_argument("--port", type=int, default=8000)
    arguments = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the server
        serve(arguments.folder, arguments.port)


if __name__ == "__main__":
    main()
