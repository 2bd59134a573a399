"""uvicorn's server and supervisor, stopped so that no request sent is lost: a client sees
an answer or a refused connection, never a reset.

Closing a listening socket resets the connections the kernel has queued on it that no
process has accepted yet, requests already sent on them included. So the supervisor of
several workers closes its copy of the shared socket first (uvicorn's kept it until every
worker had drained and exited, queueing connections nobody would accept), and each
server takes in what is queued just before it closes the socket.

A handshake completing between that last accept and the close would still be reset, so
the whole server's stop first tells the kernel to drop new handshakes on the socket (a
socket filter, on Linux): their clients send the SYN again a second later and find the
port closed, which they see as refused.
"""

import asyncio
import ctypes
import socket
import struct
import sys
from functools import partial

import uvicorn
from uvicorn.supervisors import multiprocess

from .connection import HeadTimeout

SO_ATTACH_FILTER = 26  # Linux's, which Python's socket module does not name
# Classic BPF, run on each segment that reaches a listening TCP socket from its TCP header,
# whose byte 13 holds the flags: a SYN without ACK (a new handshake) is dropped; anything
# else, such as the last ACK of a handshake under way, passes.
REFUSE_NEW_HANDSHAKES = (
    (0x30, 0, 0, 13),  # ldb [13]: the flags
    (0x54, 0, 0, 0x12),  # and #(SYN | ACK)
    (0x15, 0, 1, 0x02),  # jeq #SYN: the next instruction, else the one after
    (0x06, 0, 0, 0),  # ret #0: drop
    (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1: keep the whole segment
)
HANDSHAKE_SECONDS = 0.05  # what a handshake under way gets to complete before the close


def refuse_new_connections(listener: socket.socket) -> bool:
    """Drop new handshakes on a listening socket (every process's copy of it); False where
    the kernel has no socket filters."""
    if sys.platform != "linux":
        return False
    program = ctypes.create_string_buffer(
        b"".join(struct.pack("HBBI", *instruction) for instruction in REFUSE_NEW_HANDSHAKES)
    )
    fprog = struct.pack("@HP", len(REFUSE_NEW_HANDSHAKES), ctypes.addressof(program))
    try:
        listener.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError:
        return False
    return True


class DrainingServer(uvicorn.Server):
    """uvicorn's server, answering the connections queued on its listening sockets when a
    stop closes them (each answered once, then closed, as HeadTimeout does on a stop).

    `refuses_first`: whether its stop is the whole server's, so that new handshakes can be
    refused first; a worker's is not (its supervisor replaces workers on the same socket).
    """

    def __init__(self, config: uvicorn.Config, refuses_first: bool = True) -> None:
        super().__init__(config)
        self.refuses_first = refuses_first

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        HeadTimeout.stopping = True  # connections made from now on, this process's
        loop = asyncio.get_running_loop()
        listeners = [listener for server in self.servers for listener in server.sockets]
        if self.refuses_first and any(map(refuse_new_connections, listeners)):
            await asyncio.sleep(HANDSHAKE_SECONDS)
        # A connection's protocol, as uvicorn's startup makes it (uvicorn's types leave out
        # the arguments its protocols take).
        protocol = partial(
            self.config.http_protocol_class,  # type: ignore[call-arg]
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        joining = []
        for server in self.servers:
            queued = [
                connection for listener in server.sockets for connection in accepted(listener)
            ]
            # Closed at once: a connection queued after the last accept would be reset.
            server.close()
            joining += [loop.connect_accepted_socket(protocol, connection) for connection in queued]
        # Each joins the connections uvicorn's stop waits for before that stop looks at them;
        # one left for later would be closed unread at exit, which resets it. A client that
        # has given up meanwhile fails alone.
        await asyncio.gather(*joining, return_exceptions=True)
        await super().shutdown(sockets)  # uvicorn's stop: its servers are closed already


def accepted(listener: socket.socket) -> list[socket.socket]:
    """The connections queued on a listening socket, accepted without waiting."""
    connections: list[socket.socket] = []
    with listener.dup() as sock:  # the same socket, with the accept a transport hides
        sock.setblocking(False)
        while True:
            try:
                connection, _ = sock.accept()
            except ConnectionAbortedError:  # the client gave up: next
                continue
            except OSError:  # BlockingIOError: none left
                return connections
            connection.setblocking(False)
            connections.append(connection)


class Worker(multiprocess.Process):
    """uvicorn's worker process, running a DrainingServer."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = DrainingServer(self.config, refuses_first=False)
        return self._server


class Supervisor(multiprocess.Multiprocess):
    """uvicorn's supervisor of several workers, which refuses new handshakes on the shared
    listening socket and closes its copy of it before it stops them, so that the socket
    stops listening with the last worker (uvicorn's reset every connection queued
    meanwhile: about one per client under load)."""

    def run(self) -> None:
        # uvicorn starts and restarts workers with its module's Process: ours, in this
        # process, which does nothing but supervise.
        setattr(multiprocess, "Process", Worker)  # noqa: B010 - mypy refuses assigning a class
        super().run()

    def terminate_all(self) -> None:
        for sock in self.sockets:  # the workers react later: handshakes under way complete
            refuse_new_connections(sock)
            sock.close()
        super().terminate_all()
