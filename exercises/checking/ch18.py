"""Checks for chapter 18, TLS: client certificates."""

import asyncio
import contextlib
import ssl

from . import StopChecking, captured, exercise

NAME = "ada@chat.example"


async def note_peer(reader, writer):
    """A handler that keeps the client's certificate, then hangs up."""
    note_peer.seen.append(writer.get_extra_info("peercert"))
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await writer.wait_closed()


async def knock(server_context, handler, client_context):
    """One connection: what the client read (or the error it got).

    An exception in the handler is raised here, where the check reports it.
    """
    failures = []

    async def watched(reader, writer):
        try:
            await handler(reader, writer)
        except Exception as error:  # the learner's, reported with its line
            failures.append(error)
            writer.transport.abort()

    server = await asyncio.start_server(
        watched, "127.0.0.1", 0, ssl=server_context, ssl_handshake_timeout=5
    )
    async with server:
        port = server.sockets[0].getsockname()[1]
        try:
            async with asyncio.timeout(5):
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=client_context
                )
                writer.write(b"hello\n")
                got = await reader.read()
                writer.close()
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    await writer.wait_closed()
        except (ssl.SSLError, ConnectionError) as error:
            got = error
        await asyncio.sleep(0.1)  # the server's side of a refusal may come later
    if failures:
        raise failures[0]
    return got


def seen_by_note_peer(attempt, what, server_context, client_context):
    """Whether `note_peer` was reached, and whether it saw Ada's name."""
    note_peer.seen = []
    attempt.run(what, knock, server_context, note_peer, client_context)
    return bool(note_peer.seen), any(NAME in str(peer) for peer in note_peer.seen)


@exercise("18-2", "18-2-client-certificates.py")
def check_client_certificates(answer, report, attempt):
    import trustme

    authority = answer.authority
    stranger = trustme.CA()  # an authority nobody here trusts

    def made(certificate_of, trusting, purpose):
        context = ssl.create_default_context(purpose)
        trusting.configure_trust(context)
        if certificate_of is not None:
            certificate_of.configure_cert(context)
        if purpose is ssl.Purpose.CLIENT_AUTH:
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    strict_server = made(answer.server_certificate, authority, ssl.Purpose.CLIENT_AUTH)
    ada = made(answer.ada_certificate, authority, ssl.Purpose.SERVER_AUTH)
    nobody = made(None, authority, ssl.Purpose.SERVER_AUTH)
    stranger_ada = made(stranger.issue_cert(NAME), authority, ssl.Purpose.SERVER_AUTH)
    impostor = made(stranger.issue_cert("127.0.0.1"), stranger, ssl.Purpose.CLIENT_AUTH)
    impostor.verify_mode = ssl.CERT_NONE  # a server that asks nobody for anything
    with contextlib.suppress(StopChecking):  # each function can be checked alone
        check_server_context(answer, report, attempt, ada, nobody, stranger_ada)
    with contextlib.suppress(StopChecking):
        check_client_context(answer, report, attempt, strict_server, impostor)
    check_who_is_it(answer, report, attempt, strict_server, ada)


def check_server_context(answer, report, attempt, ada, nobody, stranger_ada):
    context = attempt("server_context()", answer.server_context)
    reached, named = seen_by_note_peer(attempt, "Ada, at your server", context, ada)
    report.expect(
        reached,
        "a client with Ada's certificate gets through to the handler",
        "a client with Ada's certificate never reached the handler",
    )
    report.expect(
        named,
        "the server sees the name in Ada's certificate",
        "a client with Ada's certificate got through, but the certificate the"
        " handler saw does not name her: the server should ask for one",
    )
    reached, _ = seen_by_note_peer(
        attempt, "a client without a certificate", context, nobody
    )
    report.expect(
        not reached,
        "a client without a certificate does not get through",
        "a client without a certificate reached the handler: the server should"
        " insist on one",
    )
    reached, _ = seen_by_note_peer(
        attempt, "a stranger's certificate", context, stranger_ada
    )
    report.expect(
        not reached,
        "a certificate signed by another authority does not get through",
        "a client whose certificate another authority signed reached the handler:"
        " trust only what your authority signed",
    )


def check_client_context(answer, report, attempt, strict_server, impostor):
    context = attempt(
        "client_context(ada_certificate)", answer.client_context, answer.ada_certificate
    )
    _, named = seen_by_note_peer(
        attempt, "your client, with Ada's certificate", strict_server, context
    )
    report.expect(
        named,
        "client_context(ada_certificate) shows Ada's certificate to the server",
        "a server that requires a client certificate did not see Ada's through"
        " client_context(ada_certificate)",
    )
    context = attempt("client_context()", answer.client_context)
    got = attempt.run(
        "your client, at a stranger's server", knock, impostor, note_peer, context
    )
    report.expect(
        isinstance(got, ssl.SSLError),
        "client_context() refuses a server whose certificate your authority did not"
        " sign",
        "client_context() connected to a server whose certificate another authority"
        f" signed (the client read {got!r}): a client must check the server",
    )


def check_who_is_it(answer, report, attempt, strict_server, ada):
    with captured() as lines:
        got = attempt.run(
            "who_is_it, Ada calling", knock, strict_server, answer.who_is_it, ada
        )
    report.expect(
        any(NAME in line for line in lines),
        "who_is_it prints the name in the client's certificate",
        f"when Ada called, who_is_it printed {lines!r}, without her name, {NAME!r}",
    )
    report.expect(
        got == b"",
        "who_is_it hangs up",
        f"when Ada called, her client read {got!r} instead of the end of the"
        " connection",
    )
