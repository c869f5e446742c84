"""Several server processes with connections spread evenly: one acceptor hands them out in turn.

uvicorn's own multi-process mode binds one listening socket in the parent and lets every worker accept
from it. A worker's event loop accepts *all* the connections waiting when it wakes up, so a burst of
keep-alive connections (16 clients connecting together) lands unevenly and stays so for the life of the
connections: ``benchmarks/bench_api.py`` counted 2/14, 13/3 and 2/14 on two processes in three
identical runs, and the process holding 14 connections sets p99 (about 40 ms against 25 ms when even).

Here the parent process binds and accepts, and passes each accepted connection (its file descriptor,
over a Unix socket pair) to the next worker in turn, so N workers hold their connections within one of
each other. The parent only touches a connection once, when it is opened; requests go straight to
the worker. Each worker is a plain uvicorn :class:`~uvicorn.Server` that takes its connections from
that socket pair instead of listening itself.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

__all__ = ["serve_balanced"]

logger = logging.getLogger(__name__)

_REPO = Path(__file__).resolve().parents[1]


def serve_balanced(host: str, port: int, processes: int, log_level: str, graceful_s: float = 10.0) -> None:
    """Accept on ``host:port`` and hand connections round robin to ``processes`` uvicorn workers.

    The workers build the app with :func:`api.main.create_app` from the environment (data root, job
    threads), like uvicorn's own worker processes. Returns after SIGTERM or SIGINT, once the workers
    have shut down (gracefully, within ``graceful_s`` seconds each).

    Parameters
    ----------
    host : str
        Interface to bind.
    port : int
        TCP port (0 picks a free one; it is logged).
    processes : int
        Worker processes, >= 1.
    log_level : str
        uvicorn log level of the workers.
    graceful_s : float
        Seconds a worker gets to finish its requests on shutdown [s].
    """
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    listener = socket.create_server((host, port), backlog=2048)
    listener.settimeout(0.2)  # wake up to notice signals and dead workers
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_REPO), os.environ.get("PYTHONPATH", "")])}
    workers: list[tuple[subprocess.Popen[bytes], socket.socket]] = []
    for _ in range(processes):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        cmd = [sys.executable, "-m", "api.balance", "--fd", str(theirs.fileno()), "--log-level", log_level]
        cmd += ["--graceful-s", str(graceful_s)]
        workers.append((subprocess.Popen(cmd, pass_fds=[theirs.fileno()], env=env), ours))
        theirs.close()
    logger.info("serving on %s:%d with %d process(es)", host, listener.getsockname()[1], processes)
    stop: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda s, _f: stop.append(s)) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    turn = 0
    try:
        while not stop and all(p.poll() is None for p, _ in workers):
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:  # e.g. EMFILE: keep serving the open connections
                logger.warning("accept failed: %s", exc)
                continue
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                channel = workers[turn][1]
                turn = (turn + 1) % len(workers)
                socket.send_fds(channel, [b"c"], [conn.fileno()])
    finally:
        listener.close()
        for proc, channel in workers:
            channel.close()  # the worker sees end-of-file and shuts down gracefully
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in workers:
            try:
                proc.wait(graceful_s + 5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _HandedServer(uvicorn.Server):
    """A uvicorn server whose connections arrive as file descriptors on ``channel``."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # no listener of its own
        if self.should_exit:
            return
        config = self.config

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        loop = asyncio.get_running_loop()
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._receive, loop, protocol)

    def _receive(self, loop: asyncio.AbstractEventLoop, protocol: Callable[[], asyncio.Protocol]) -> None:
        try:
            msg, fds, _, _ = socket.recv_fds(self.channel, 256, 256)
        except BlockingIOError:
            return
        if not msg and not fds:  # the acceptor is gone
            loop.remove_reader(self.channel.fileno())
            self.should_exit = True
            return
        for fd in fds:
            sock = socket.socket(fileno=fd)
            sock.setblocking(False)
            task = loop.create_task(loop.connect_accepted_socket(protocol, sock))
            task.add_done_callback(_log_failure)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if not self.channel._closed:  # type: ignore[attr-defined]
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets=sockets)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("could not take over a connection: %s", task.exception())


def _worker(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="fusionlabel API worker (internal; see serve_balanced)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--graceful-s", type=float, default=10.0)
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        "api.main:create_app",
        factory=True,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=int(args.graceful_s),
    )
    _HandedServer(config, socket.socket(fileno=args.fd)).run()


if __name__ == "__main__":
    _worker()
