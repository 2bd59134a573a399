"""A stop refuses new handshakes before it closes the listening socket, so that no client
has its connection reset."""

import socket
import sys

import pytest

from {{ cookiecutter.package_name }}.serve.stopping import accepted, refuse_new_connections

pytestmark = pytest.mark.machinery


@pytest.mark.skipif(sys.platform != "linux", reason="socket filters are Linux's")
def test_a_refused_handshake_waits_while_a_queued_connection_is_still_accepted() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = listener.getsockname()
        queued = socket.create_connection(address, timeout=2)
        assert refuse_new_connections(listener)
        late = socket.socket()
        late.settimeout(0.3)
        with pytest.raises(TimeoutError):  # its SYN was dropped: the client sends it again
            late.connect(address)
        late.close()
        connections = accepted(listener)
        assert len(connections) == 1  # the connection queued before the filter
        queued.sendall(b"ping")
        assert connections[0].recv(4) == b"ping"
        for connection in (*connections, queued):
            connection.close()


def test_without_the_filter_a_handshake_completes() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=2)
        connections = accepted(listener)
        assert len(connections) == 1
        for connection in (*connections, client):
            connection.close()
