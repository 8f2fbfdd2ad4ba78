"""The chat for Django's users: who is on this WebSocket? Django's session says.

    python examples/web/django_accounts.py --database chat.sqlite3 --user ada:secret

Django logs people in at /login (a POST with "username" and "password"), and
sets its session cookie. The browser sends that cookie with the WebSocket
handshake too, since it is the same site: the handler below reads it from the
scope's headers, loads the session and the user with Django's async API, and
refuses the handshake (403) to anyone not logged in. It then binds the name to
the connection: every message goes out under the user's own name, whatever
"sender" the client wrote. The chat itself is asgi_chat.py's, unchanged.

--user NAME:PASSWORD creates or updates an account before the server starts,
for trying it out (a real site has its admin, or `createsuperuser`; and a
password on a command line is visible to the other users of the machine).
This login form is for programs: a form in a browser also needs Django's CSRF
protection (CsrfViewMiddleware, and {% csrf_token %} in the form).
"""

import argparse
import json
import secrets
from http.cookies import SimpleCookie
from types import SimpleNamespace

from asgi_chat import (
    CHAT,
    add_limit_options,
    chat_websocket,
    lifespan,
    request_header,
    run_server,
)
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import aauthenticate, aget_user, alogin
from django.core.asgi import get_asgi_application
from django.core.management import call_command
from django.db import connections
from django.http import HttpResponse
from django.urls import path
from django.utils.module_loading import import_string
from django.views.decorators.http import require_POST

settings.configure(
    DEBUG=False,
    # Signs the session's hash, among other things. A new one for each run, so
    # everyone must log in again after a restart; a real site keeps one secret,
    # out of its source code (in the environment, say).
    SECRET_KEY=secrets.token_urlsafe(50),
    ALLOWED_HOSTS=["127.0.0.1"],  # main() sets it from --host
    INSTALLED_APPS=[
        "django.contrib.auth",  # users, passwords, login()
        "django.contrib.contenttypes",  # which auth needs
        "django.contrib.sessions",  # the session behind the cookie
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3"}},  # NAME: main()
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
    ],
    # Django's defaults, said out loud: the cookie is out of JavaScript's reach,
    # and a browser sends it to no request that a page of another site makes,
    # WebSocket handshakes included.
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
    ROOT_URLCONF=__name__,
    # Errors and warnings to standard error (with DEBUG off, Django would only
    # mail them to the site's admins).
    LOGGING={
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"stderr": {"class": "logging.StreamHandler"}},
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    },
)


@require_POST
async def log_in(request):
    """Check the name and password; if right, log in: a new session, its cookie."""
    user = await aauthenticate(
        request,
        username=request.POST.get("username", ""),
        password=request.POST.get("password", ""),
    )
    if user is None:
        return HttpResponse("Wrong name or password\n", status=403)
    await alogin(request, user)  # the response will set the session cookie
    return HttpResponse(f"Welcome, {user.username}\n")


urlpatterns = [path("login", log_in)]
django_application = get_asgi_application()


async def application(scope, receive, send):
    """Route each connection by its type, as django_chat.py does."""
    match scope["type"]:
        case "http":
            await django_application(scope, receive, send)
        case "websocket":
            await users_only(scope, receive, send)
        case "lifespan":
            await lifespan(receive, closing_the_database(send))


async def users_only(scope, receive, send):
    """The chat, for logged-in users only, each under their own name."""
    user = await user_of(scope)
    if not user.is_authenticated:
        await receive()  # websocket.connect
        await send({"type": "websocket.close"})  # refused: HTTP 403
        return
    await chat_websocket(scope, signed_by(user.username, receive), send)


async def user_of(scope):
    """The Django user whose session cookie came with this request, or an
    AnonymousUser, as request.user would be in a view."""
    cookies = SimpleCookie(request_header(scope, b"cookie") or "")
    morsel = cookies.get(settings.SESSION_COOKIE_NAME)
    engine = import_string(settings.SESSION_ENGINE)
    # aget_user() wants a request; all it reads from it is the session.
    request = SimpleNamespace(session=engine.SessionStore(morsel and morsel.value))
    return await aget_user(request)


def signed_by(name, receive):
    """A receive() that puts `name` as the sender of every chat message.

    Anything else (not JSON, not an object) goes through as it came, for the
    chat to answer with its usual error.
    """

    async def receive_signed():
        event = await receive()
        if event["type"] == "websocket.receive" and event.get("text") is not None:
            try:
                message = json.loads(event["text"])
            except json.JSONDecodeError:
                return event
            if isinstance(message, dict):
                message["sender"] = name
                event = {**event, "text": json.dumps(message)}
        return event

    return receive_signed


def closing_the_database(send):
    """A send() for the lifespan that closes Django's database connections
    before it says that shutdown is complete. The async ORM uses them from one
    worker thread (asgiref's), so they are closed there."""

    async def send_after_closing(event):
        if event["type"] == "lifespan.shutdown.complete":
            await sync_to_async(connections.close_all)()
        await send(event)

    return send_after_closing


def prepare_database(users):
    """Create the tables if need be, and the accounts given on the command line."""
    from django.contrib.auth.models import User  # once Django is set up

    call_command("migrate", verbosity=0)
    for name, password in users:
        user, _ = User.objects.get_or_create(username=name)
        user.set_password(password)
        user.save()
    connections.close_all()  # opened in this thread, which the server won't use


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    parser.add_argument("--database", required=True, help="the SQLite file to use")
    parser.add_argument(
        "--user",
        type=lambda text: tuple(text.split(":", 1)),
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="create or update this account first (repeatable)",
    )
    add_limit_options(parser)
    args = parser.parse_args()
    settings.DATABASES["default"]["NAME"] = args.database
    settings.ALLOWED_HOSTS = [args.host]
    CHAT.set_limits(args.max_rate, args.burst, args.send_timeout)
    prepare_database(args.user)
    run_server(application, args.host, args.port)


if __name__ == "__main__":
    main()
