"""Chapter 18, exercise 2: who are you? Client certificates.

Write `server_context()`, a TLS context for a server that requires a client
certificate signed by `authority`; `client_context(certificate=None)`, a context for
a client that trusts `authority` and shows `certificate` if it has one; and
`who_is_it(reader, writer)`, a handler that prints the name in the client's
certificate and hangs up. Needs the trustme library.
Check it with: python exercises/check.py 18-2
"""

import asyncio
import ssl

import trustme

authority = trustme.CA()  # a throwaway certificate authority
server_certificate = authority.issue_cert("127.0.0.1")
ada_certificate = authority.issue_cert("ada@chat.example")


def server_context():
    raise NotImplementedError("your code here")


def client_context(certificate=None):
    raise NotImplementedError("your code here")


async def who_is_it(reader, writer):
    raise NotImplementedError("your code here")


async def knock(port, context):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        writer.write(b"hello\n")
        await writer.drain()
        print("the client reads:", await reader.read())  # until the server hangs up
        writer.close()
        await writer.wait_closed()
    except (ssl.SSLError, ConnectionError) as error:
        print("the client:", type(error).__name__)


async def with_and_without():
    server = await asyncio.start_server(who_is_it, "127.0.0.1", 0, ssl=server_context())
    async with server:
        port = server.sockets[0].getsockname()[1]
        await knock(port, client_context(ada_certificate))
        await knock(port, client_context())


if __name__ == "__main__":
    asyncio.run(with_and_without())
