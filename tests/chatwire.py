"""A small chat client for the tests, written from the wire protocol alone.

It deliberately does not import examples/chat/utils.py: the tests check the bytes
on the wire, not the server's own encoder. Every receive has a timeout, so a hung
server fails a test instead of hanging it.
"""

import asyncio
import contextlib
import json
import socket
import struct

HEADER = struct.Struct("<I")  # 4-byte unsigned little-endian length
TIMEOUT = 10.0  # seconds to wait for any one frame


def frame(message):
    """A message (a dict) as the bytes of one frame."""
    return raw_frame(json.dumps(message).encode())


def raw_frame(payload):
    """Any bytes as the payload of one frame: the way to send malformed messages."""
    return HEADER.pack(len(payload)) + payload


def run(coroutine, timeout=60):
    """Run a test's async part on a fresh event loop, bounded in time."""

    async def bounded():
        async with asyncio.timeout(timeout):
            return await coroutine

    return asyncio.run(bounded())


class ServerClosed(Exception):
    """The server ended the connection while the test waited for a frame."""


class ChatClient:
    """One connection to a chat server."""

    def __init__(self, reader, writer, name=None):
        self.reader = reader
        self.writer = writer
        self.name = name

    @classmethod
    async def open(cls, server, *, ssl=None, receive_buffer=None, name=None):
        """Connect to a ServerProcess (anything with .host and .port).

        `receive_buffer` shrinks the socket's receive buffer (SO_RCVBUF), for a
        client that stops reading and should fill up quickly.
        """
        if receive_buffer is None:
            reader, writer = await asyncio.open_connection(
                server.host,
                server.port,
                ssl=ssl,
                server_hostname=server.host if ssl else None,
            )
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setblocking(False)
            try:
                await asyncio.get_running_loop().sock_connect(
                    sock, (server.host, server.port)
                )
            except BaseException:
                sock.close()
                raise
            # A small limit too, so that asyncio's own buffer stops reading soon.
            reader, writer = await asyncio.open_connection(
                sock=sock, limit=receive_buffer
            )
        return cls(reader, writer, name)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    async def close(self):
        self.writer.close()
        try:
            async with asyncio.timeout(5):
                await self.writer.wait_closed()
        except TimeoutError:
            self.writer.transport.abort()
        except OSError:
            pass  # reset by the server: closed all the same

    # --- sending --------------------------------------------------------------

    async def send(self, message):
        await self.send_bytes(frame(message))

    async def send_bytes(self, data):
        self.writer.write(data)
        await self.writer.drain()

    # --- receiving ------------------------------------------------------------

    async def receive(self, within=TIMEOUT):
        """The next message from the server, as a dict."""
        async with asyncio.timeout(within):
            try:
                header = await self.reader.readexactly(HEADER.size)
                (size,) = HEADER.unpack(header)
                payload = await self.reader.readexactly(size)
            except (asyncio.IncompleteReadError, ConnectionResetError) as error:
                raise ServerClosed(f"{self.name}: connection closed") from error
        message = json.loads(payload.decode("utf-8"))
        assert isinstance(message, dict), message
        return message

    async def expect(self, within=TIMEOUT, **fields):
        """Receive one message and check it has these fields with these values."""
        message = await self.receive(within)
        for key, value in fields.items():
            assert message.get(key) == value, f"{self.name}: {message} lacks {fields}"
        return message

    async def expect_error(self, within=TIMEOUT):
        """Receive an error message; its reason."""
        message = await self.expect(within, action="error")
        assert isinstance(message.get("reason"), str), message
        assert message["reason"], message
        return message["reason"]

    async def receive_until_closed(self, within=TIMEOUT):
        """Every message until the server closes the connection.

        Returns (messages, reset): reset is True if the connection was reset
        rather than closed cleanly.
        """
        messages = []
        while True:
            try:
                messages.append(await self.receive(within))
            except ServerClosed as closed:
                reset = isinstance(closed.__cause__, ConnectionResetError)
                return messages, reset

    async def is_closed_by_server(self, within=TIMEOUT):
        """True once the server has closed the connection (EOF or a reset)."""
        async with asyncio.timeout(within):
            with contextlib.suppress(ConnectionResetError):
                return await self.reader.read(1) == b""
            return True

    # --- the protocol's requests, checked -------------------------------------

    async def connect(self, username):
        self.name = username
        await self.send({"action": "connect", "username": username})
        await self.expect(action="connect", ok=True)

    async def join(self, room):
        await self.send({"action": "joinroom", "room": room})
        await self.expect(action="joinroom", room=room, ok=True)

    async def leave(self, room):
        await self.send({"action": "leaveroom", "room": room})
        await self.expect(action="leaveroom", room=room, ok=True)

    async def chat(self, room, message):
        await self.send({"action": "chat", "room": room, "message": message})


async def connected(server, username, *rooms, **options):
    """A client that has connected as `username` and joined `rooms`."""
    client = await ChatClient.open(server, **options)
    try:
        await client.connect(username)
        for room in rooms:
            await client.join(room)
    except BaseException:
        await client.close()
        raise
    return client


def assert_quiet(server):
    """Stop a server; check its stderr shows no trouble, nor our logger's errors."""
    server.assert_clean()
    errors = server.stderr()
    assert " ERROR " not in errors, f"an error was logged:\n{errors}"
    return errors


def without_budget(path):
    """Options that lift a step's budget for each sender (steps 19 and later).

    For a test whose sender floods on purpose, to see what happens to the readers:
    at the default budget (50 frames a second) the flood would take minutes.
    """
    step = int(path.removesuffix(".py")[-2:])
    return ["--max-rate", "1000000", "--burst", "1000000"] if step >= 19 else []


def tls_certificate(folder):
    """A certificate for 127.0.0.1 from a throwaway authority (needs trustme).

    Returns (certfile, keyfile, trusting): the server's two files in `folder`, and
    a client's ssl.SSLContext that trusts the authority.
    """
    import ssl

    import trustme

    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1")
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    issued.cert_chain_pems[0].write_to_path(certfile)
    issued.private_key_pem.write_to_path(keyfile)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    return str(certfile), str(keyfile), trusting


def with_open_file_limit(command, limit):
    """A command line that runs `command` with soft and hard limits of open files."""
    setting = (
        "import os, resource, sys;"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit}));"
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    return [command[0], "-c", setting, *command]
