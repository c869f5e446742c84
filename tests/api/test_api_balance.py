"""Several server processes behind one acceptor: connections spread evenly, clean shutdown."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest
from api_helpers import ServerProcess

from api.balance import serve_balanced


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _connections(pid: int, port: int) -> int:
    """Established connections to local ``port`` whose sockets ``pid`` holds (Linux ``/proc``)."""
    inodes = {
        f[9]
        for f in (row.split() for row in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "01"
    }
    links = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            links.append(os.readlink(fd))
        except OSError:
            continue
    return sum(link.startswith("socket:[") and link[8:-1] in inodes for link in links)


def _get_health(sock: socket.socket, port: int) -> bytes:
    sock.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "connection closed"
        head += chunk
    return head.split(b"\r\n", 1)[0]


def _gone(pids: list[int], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() and "zombie" not in _state(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0].lower()
    except OSError:
        return "zombie"


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="counts connections through Linux /proc")
def test_connections_are_spread_evenly_and_shutdown_is_clean(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", processes=2).start()
    assert server.proc is not None
    try:
        workers = _children(server.proc.pid)
        assert len(workers) == 2
        conns = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(6)]
        try:
            for c in conns:  # all opened at once, then used: each is held by one worker
                assert _get_health(c, server.port) == b"HTTP/1.1 200 OK"
            assert [_connections(w, server.port) for w in workers] == [3, 3]
            assert _connections(server.proc.pid, server.port) == 0  # the acceptor keeps none
        finally:
            for c in conns:
                c.close()
    finally:
        server.stop()
    assert server.proc.returncode == 0
    assert _gone(workers, 15.0)


def test_workers_exit_when_the_acceptor_dies(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", processes=2).start()
    assert server.proc is not None
    workers = _children(server.proc.pid)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    assert _gone(workers, 20.0)  # their hand-over socket reaches end-of-file: graceful shutdown


def test_processes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="processes must be >= 1, got 0"):
        serve_balanced("127.0.0.1", 0, 0, "warning")
