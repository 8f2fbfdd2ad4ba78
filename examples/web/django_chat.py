"""The web chat with Django: Django serves the page, a plain ASGI handler the chat.

    python examples/web/django_chat.py               # http://127.0.0.1:8000/
    python examples/web/django_chat.py --port 0      # any free port

or, from this folder, with uvicorn's own command line (which needs
--ws-max-size 4096 for the same cap on messages, and closes WebSockets with
1012, service restart, when it stops, instead of 1001):

    uvicorn django_chat:application --ws-max-size 4096

Django's ASGI application speaks only HTTP: it refuses "websocket" and
"lifespan" connections. (Django Channels adds WebSockets, with its own routing
and "consumers"; we do without it.) `application` below is a few lines of plain
ASGI that route each connection by its type: HTTP to Django, WebSocket to the
chat handler of asgi_chat.py, imported unchanged. The whole Django project fits
in this file: settings.configure() stands in for settings.py, and
`urlpatterns` for urls.py. Run as a program, it runs under uvicorn exactly as
asgi_chat.py does, with the same page, protocol, limits and clean shutdown. The
same addresses are allowed: Django's ALLOWED_HOSTS for the page, and the chat
handler's own check for the WebSocket, which never reaches Django.
"""

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from asgi_chat import (
    ALLOWED_ORIGINS,
    CHAT,
    chat_websocket,
    lifespan,
    parse_args,
    run_server,
)
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.http import Http404, HttpResponse
from django.urls import path
from django.views.decorators.http import require_safe

STATIC = Path(__file__).parent / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# With the headers SecurityMiddleware adds (nosniff, Referrer-Policy), what the
# page needs: Django 5.2 has no setting for Content-Security-Policy.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; base-uri 'none';"
        " form-action 'self'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",
}
# The files we serve, by name. Only these: no URL can reach any other file.
STATIC_FILES = {file.name: file for file in STATIC.iterdir() if file.is_file()}

settings.configure(
    DEBUG=False,
    # Host names this server answers to; Django refuses requests for any other
    # with "400 Bad Request". uvicorn's default address; main() sets the list
    # from --host and --allow. Django checks only when someone calls
    # request.get_host(): CommonMiddleware does, for every request.
    ALLOWED_HOSTS=["127.0.0.1"],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
    ],
    SECURE_REFERRER_POLICY="no-referrer",  # nosniff is on by default
    ROOT_URLCONF=__name__,  # `urlpatterns` is in this module
    # With DEBUG off, Django logs errors only to its "mail the admins" handler.
    # Log them, and its warnings, to standard error instead.
    LOGGING={
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "stderr": {"class": "logging.StreamHandler"},
            "nowhere": {"class": "logging.NullHandler"},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        # A request for a host we do not serve is not our error: Django answers
        # 400 and would log it, with a traceback, as one. Log it nowhere.
        "loggers": {
            "django.security.DisallowedHost": {
                "handlers": ["nowhere"],
                "propagate": False,
            }
        },
    },
)


@require_safe
async def index(request):
    return await static_file(request, "index.html")


@require_safe
async def static_file(request, name):
    """A file in STATIC, by name."""
    file = STATIC_FILES.get(name)
    if file is None:
        raise Http404(name)
    body = await asyncio.to_thread(file.read_bytes)  # not on the event loop
    content_type = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
    return HttpResponse(body, content_type=content_type, headers=PAGE_HEADERS)


urlpatterns = [
    path("", index),
    path("static/<str:name>", static_file),  # <str:...> never matches a "/"
]

django_application = get_asgi_application()  # also sets Django up


async def application(scope, receive, send):
    """The ASGI application: route each connection by its type."""
    match scope["type"]:
        case "http":
            await django_application(scope, receive, send)
        case "websocket":
            await chat_websocket(scope, receive, send)
        case "lifespan":
            await lifespan(receive, send)


def main():
    args = parse_args(description=__doc__.splitlines()[0])
    ALLOWED_ORIGINS.update(args.allow)  # for the chat handler, in asgi_chat.py
    other_names = [url_host(urlsplit(origin).hostname) for origin in args.allow]
    settings.ALLOWED_HOSTS = [url_host(args.host), *other_names]
    CHAT.set_limits(args.max_rate, args.burst, args.send_timeout)
    run_server(application, args.host, args.port)


def url_host(host):
    """A host as URLs (and ALLOWED_HOSTS) write it: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host else host


if __name__ == "__main__":
    main()
